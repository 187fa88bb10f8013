package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// iteration is the loop item a run is in: the loop's id, the item's index
// and the item itself, which the inner steps read as `item` and `index`.
type iteration struct {
	loop  string
	index int
	item  any
}

// iterKey finds a checkpoint in run.Steps: a step id and, inside a loop,
// the item's index (-1 outside loops).
type iterKey struct {
	id    string
	index int
}

// stepKey names a step of the current item the way idempotency keys, the
// step journal and run errors do: "book_line" outside loops,
// "lines[3].book_line" inside one.
func (st *runState) stepKey(id string) string {
	if st.iter == nil {
		return id
	}
	return st.iter.loop + "[" + strconv.Itoa(st.iter.index) + "]." + id
}

// result returns the checkpoint of step id in the current item (or outside
// loops), or nil. Loops keep one checkpoint per item and inner step, so the
// lookup goes through an index instead of a scan of run.Steps.
func (st *runState) result(id string) *StepResult {
	if st.at == nil {
		st.at = make(map[iterKey]int, len(st.run.Steps))
		for i := range st.run.Steps {
			st.noteResult(i)
		}
	}
	k := iterKey{id: id, index: -1}
	if st.iter != nil {
		k.index = st.iter.index
	}
	i, ok := st.at[k]
	if !ok {
		return nil
	}
	return &st.run.Steps[i]
}

// noteResult indexes run.Steps[i] (a no-op until result builds the index).
func (st *runState) noteResult(i int) {
	if st.at == nil {
		return
	}
	r := &st.run.Steps[i]
	k := iterKey{id: r.ID, index: -1}
	if r.Iteration != nil {
		k.index = *r.Iteration
	}
	if _, dup := st.at[k]; !dup {
		st.at[k] = i
	}
}

// Errors of loops at run time.
var (
	errNotList  = errors.New("for_each must give a list")
	errTooLarge = errors.New("the list is longer than max_items")
)

// loop runs a for_each step: its inner steps once per item, in order. An
// item's steps see `item`, `index`, the steps before the loop and the
// item's earlier inner steps. Each inner step checkpoints like any other,
// keyed by the item's index, so a resumed run skips the items (and the
// steps of an item) that finished, and sends nothing twice. The loop's
// output is the list of the items' outputs: the last inner step's, or the
// collect template's.
func (x *executor) loop(ctx context.Context, st *runState, cs *flows.CompiledStep, res *StepResult) (walkResult, error) {
	id := cs.Step.ID
	v, err := cs.ForEach.Eval(st.env(1, nil))
	if err != nil {
		return x.failStep(ctx, st, cs, res, err)
	}
	list, ok := asList(v)
	if !ok {
		return x.failStep(ctx, st, cs, res, fmt.Errorf("%s: %w, got %s", cs.ForEach.Field, errNotList, describeValue(v)))
	}
	if limit := cs.Step.EffectiveMaxItems(); len(list) > limit {
		return x.failStep(ctx, st, cs, res, fmt.Errorf("%w: %d items, max_items is %d", errTooLarge, len(list), limit))
	}
	n := len(list)
	res.ItemCount = &n
	if cs.Step.Concurrency > 1 {
		return x.loopConcurrent(ctx, st, cs, list)
	}

	outer := st.steps
	defer func() { st.steps, st.iter = outer, nil }()
	recorded, outs := make([]any, 0, n), make([]any, 0, n)
	for i, item := range list {
		st.steps = maps.Clone(outer)
		st.iter = &iteration{loop: id, index: i, item: item}
		r, err := x.walk(ctx, st, cs.Body)
		if err != nil || r == walkParked {
			return r, err
		}
		if r == walkFailed {
			st.steps, st.iter = outer, nil
			return x.failStep(ctx, st, cs, st.result(id), x.itemError(st, cs, i))
		}
		rec, out, err := x.itemOutput(st, cs)
		if err != nil {
			st.steps, st.iter = outer, nil
			return x.failStep(ctx, st, cs, st.result(id), fmt.Errorf("item %d: %w", i, err))
		}
		recorded, outs = append(recorded, rec), append(outs, out)
	}
	st.steps, st.iter = outer, nil
	// The loop's checkpoint moved while its items appended theirs.
	return x.finishStep(ctx, st, cs, st.result(id), StepSucceeded, recorded, outs)
}

// itemOutput is what the current item adds to the loop's output, as
// history records it and as later steps read it.
func (x *executor) itemOutput(st *runState, cs *flows.CompiledStep) (recorded, out any, err error) {
	if cs.Collect != nil {
		out, err = cs.Collect.RenderValue(st.env(1, nil))
		if err != nil {
			return nil, nil, err
		}
		return st.red.value(out), out, nil
	}
	last := cs.Body[len(cs.Body)-1].Step.ID
	if r := st.result(last); r != nil {
		recorded = r.Output
	}
	return recorded, st.steps[last].Output, nil
}

// itemError says which item failed and why, from the checkpoint of its
// failed step.
func (x *executor) itemError(st *runState, cs *flows.CompiledStep, index int) error {
	for i := len(st.run.Steps) - 1; i >= 0; i-- {
		r := &st.run.Steps[i]
		if r.Loop == cs.Step.ID && r.Iteration != nil && *r.Iteration == index && r.Status == StepFailed {
			return fmt.Errorf("item %d: step %q failed: %s", index, r.ID, r.Error)
		}
	}
	return fmt.Errorf("item %d failed", index)
}

// followBranch walks the switch case taken, then makes the switch's
// output say which case ran and what its last step gave, so that steps
// after the switch read steps.<switch>.output.branch and .result wherever
// the run went.
func (x *executor) followBranch(ctx context.Context, st *runState, cs *flows.CompiledStep, branch int) (walkResult, error) {
	steps := cs.Cases[branch].Steps
	r, err := x.walk(ctx, st, steps)
	if err != nil || r != walkContinue || len(steps) == 0 {
		return r, err
	}
	last := steps[len(steps)-1].Step.ID
	var recorded any
	if lr := st.result(last); lr != nil {
		recorded = lr.Output
	}
	res := st.result(cs.Step.ID)
	res.Output = switchOutput(branch, recorded)
	st.steps[cs.Step.ID] = flows.StepState{Output: switchOutput(branch, st.steps[last].Output), Status: string(res.Status)}
	return walkContinue, nil
}

// switchOutput is a switch step's output: the index of the case taken (as
// branch, and as case for flows written before branch existed; -1 when no
// case held) and the last output of that case's steps.
func switchOutput(branch int, result any) map[string]any {
	return map[string]any{"case": branch, "branch": branch, "result": result}
}

// asList reads a for_each value as a list: any slice or array expr gives.
func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// describeValue names a value's kind for a message, never its content
// (which may be personal data).
func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	case bool:
		return "true or false"
	case float64, float32, int, int64, int32, uint, uint64:
		return "a number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// parseStepKey splits a stepKey of a loop item's step, "lines[3].book",
// into the loop, the index and the step; ok is false for any other key.
func parseStepKey(key string) (loop string, index int, step string, ok bool) {
	open := strings.IndexByte(key, '[')
	end := strings.Index(key, "].")
	if open <= 0 || end < open {
		return "", 0, "", false
	}
	n, err := strconv.Atoi(key[open+1 : end])
	if err != nil || n < 0 {
		return "", 0, "", false
	}
	return key[:open], n, key[end+2:], key[end+2:] != ""
}

// resultKey is result for a stepKey: a loop item's step, or a step
// outside loops.
func (r *Run) resultKey(key string) *StepResult {
	loop, index, id, ok := parseStepKey(key)
	if !ok {
		return r.result(key)
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.ID == id && s.Loop == loop && s.Iteration != nil && *s.Iteration == index {
			return s
		}
	}
	return nil
}
