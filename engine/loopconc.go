package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/switchyard/switchyard/flows"
)

// lock and unlock guard the run while a concurrent loop's items share it;
// outside such a loop they do nothing.
func (st *runState) lock() {
	if st.mu != nil {
		st.mu.Lock()
	}
}

func (st *runState) unlock() {
	if st.mu != nil {
		st.mu.Unlock()
	}
}

// conceal is the Conceal a connector calls while it works, without the
// run's lock.
func (st *runState) conceal(v string) {
	st.lock()
	defer st.unlock()
	st.red.addValue(v)
}

// itemRun is how one item of a concurrent loop ended.
type itemRun struct {
	res       walkResult
	err       error
	rec, out  any
	outputErr error
	started   bool
}

// loopConcurrent runs a loop's items up to cs.Step.Concurrency at a time.
// The items share the run under one lock, held for everything but the
// connectors' work, so what runs in parallel is the waiting on remote
// services; checkpoints, templates and history stay one at a time. A
// failed item stops new items from starting; those in flight finish. An
// item that parks (a retry) does not hold the others up: the run parks
// when every started item settled, due when the soonest is.
func (x *executor) loopConcurrent(ctx context.Context, st *runState, cs *flows.CompiledStep, list []any) (walkResult, error) {
	id := cs.Step.ID
	// Every checkpoint an item adds fits without moving the slice, so the
	// step results items hold pointers to stay put while others append.
	perItem := 0
	flows.Walk(cs.Step.Steps, func(string, *flows.Step) { perItem++ })
	st.run.Steps = slices.Grow(st.run.Steps, len(list)*perItem)
	st.at = nil
	st.result(id) // builds the index the items share
	if st.holdsSecret == nil {
		st.holdsSecret = map[string]bool{}
	}
	outer := st.steps
	mu := &sync.Mutex{}
	st.mu = mu
	mu.Lock()
	defer func() { st.mu, st.steps, st.iter = nil, outer, nil; mu.Unlock() }()

	runs := make([]itemRun, len(list))
	slots := make(chan struct{}, cs.Step.Concurrency)
	var wg sync.WaitGroup
	stop := false
	for i, item := range list {
		mu.Unlock()
		slots <- struct{}{}
		mu.Lock()
		if stop || ctx.Err() != nil {
			<-slots
			break
		}
		child := *st
		child.steps = maps.Clone(outer)
		child.iter = &iteration{loop: id, index: i, item: item}
		runs[i].started = true
		wg.Add(1)
		go func(i int, c *runState) {
			defer wg.Done()
			defer func() { <-slots }()
			mu.Lock()
			defer mu.Unlock()
			r := &runs[i]
			defer func() {
				if p := recover(); p != nil {
					r.res, r.err = walkFailed, nil
					r.outputErr = internalError(x.logger(), p, c.red.string, "flow_id", c.run.FlowID, "run_id", c.run.ID, "step_id", c.stepKey(id))
					stop = true
				}
			}()
			r.res, r.err = x.walk(ctx, c, cs.Body)
			if r.err == nil && r.res == walkContinue {
				r.rec, r.out, r.outputErr = x.itemOutput(c, cs)
			}
			if r.err != nil || r.res == walkFailed || r.outputErr != nil {
				stop = true
			}
		}(i, &child)
	}
	mu.Unlock()
	wg.Wait()
	mu.Lock()
	st.mu, st.steps, st.iter = nil, outer, nil

	parked := false
	recorded, outs := make([]any, 0, len(list)), make([]any, 0, len(list))
	for i, r := range runs {
		switch {
		case !r.started:
			// Only a stop (shutting down) leaves items unstarted without
			// a failure before them.
			if err := ctx.Err(); err != nil {
				return walkParked, err
			}
			return walkParked, fmt.Errorf("loop %q: item %d did not start", id, i)
		case r.err != nil:
			return walkParked, r.err
		case r.outputErr != nil:
			return x.failStep(ctx, st, cs, st.result(id), fmt.Errorf("item %d: %w", i, r.outputErr))
		case r.res == walkFailed:
			return x.failStep(ctx, st, cs, st.result(id), x.itemError(st, cs, i))
		case r.res == walkParked:
			parked = true
		}
		recorded, outs = append(recorded, r.rec), append(outs, r.out)
	}
	if parked {
		// The run waits for its soonest item; what the others did is in
		// this checkpoint.
		return walkParked, x.checkpoint(ctx, st, nil)
	}
	return x.finishStep(ctx, st, cs, st.result(id), StepSucceeded, recorded, outs)
}
