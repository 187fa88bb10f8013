package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
)

// How flow.call steps and error flows start runs.
//
// A flow.call step starts the called flow's run through Accept, durably,
// with a dedupe key made of the calling run, the step and its attempt. The
// step is checkpointed only after that: a crash in between runs the step
// again, and the key finds the run already started instead of starting a
// second. The calling run then parks (status waiting) until the called run
// is final; the called run's end wakes it, and a recheck now and then
// covers a wake lost to a crash. Error flows start the same
// way, keyed by the failed run, before the failed run's final checkpoint.

const (
	// callRecheckMin and callRecheckMax bound how long a run waiting for
	// a called flow sleeps before it looks at it without being woken (a
	// wake lost to a crash): a quarter of the time it has waited, so a
	// restart soon after the call costs seconds and a long wait costs one
	// look a minute.
	callRecheckMin = 2 * time.Second
	callRecheckMax = time.Minute
	// internalDedupeWindow is how long the keys of calls and error flows
	// are kept: far longer than any run takes to resume after a crash.
	internalDedupeWindow = 30 * 24 * time.Hour
)

// Event sources of runs started by other runs.
const (
	// SourceCall is the event source of a flow.call's run.
	SourceCall = flows.TriggerCall
	// SourceFailure is the event source of an error flow's run.
	SourceFailure = "failure"
)

// flowCaller starts and follows the runs other runs start; the engine is
// one, and in-process runs have none.
type flowCaller interface {
	// startCall starts flowID's run for a flow.call step (once per
	// caller, step and attempt) and returns its id.
	startCall(ctx context.Context, caller *Run, stepID string, attempt int, flowID string, payload any) (string, error)
	// callRun loads a called run.
	callRun(ctx context.Context, id string) (*Run, error)
	// ended queues what a run's end starts (st.run.Status is final, not
	// yet checkpointed): the error flow of a failed run (its id goes to
	// FailureRun) and the run's notifications.
	ended(ctx context.Context, st *runState) error
}

// errNoEngine is a flow.call's error where no engine runs (switchyard
// run, a flow test without a server).
var errNoEngine = errors.New("flow.call: another flow can only be called by a running Switchyard (serve)")

// callExecute is flow.call's Execute inside the engine: it starts the
// called run and parks the step until that run is final.
func (x *executor) callExecute(st *runState, res *StepResult) func(context.Context, connectors.Input) (connectors.Result, error) {
	return func(ctx context.Context, in connectors.Input) (connectors.Result, error) {
		flowID, _ := in.Config[flows.CallFlow].(string)
		if in.DryRun {
			return connectors.Result{Output: map[string]any{"dry_run": true, "flow": flowID}}, nil
		}
		if x.calls == nil {
			return connectors.Result{}, connectors.Permanent(errNoEngine)
		}
		if d := callDepth(st.run) + 1; d > flows.MaxCallDepth {
			return connectors.Result{}, connectors.Permanentf("flow.call: calls nest more than %d flows deep (this run is call number %d of a chain); does a flow call itself through others?", flows.MaxCallDepth, d-1)
		}
		// The payload as history records it (secrets masked): the called
		// run stores it as its trigger body.
		// stepKey tells the items of a loop apart.
		id, err := x.calls.startCall(ctx, st.run, st.stepKey(in.StepID), in.Attempt, flowID, res.Input[flows.CallPayload])
		if err != nil {
			return connectors.Result{}, err
		}
		res.Calls = id
		return connectors.Result{ResumeAt: x.now().Add(callRecheckMin), Output: map[string]any{"run_id": id, "flow": flowID}}, nil
	}
}

// followCall looks at the run a parked flow.call step started: its result
// finishes the step, its failure fails it, and a run still going parks the
// step again.
func (x *executor) followCall(ctx context.Context, st *runState, cs *flows.CompiledStep, res *StepResult) (walkResult, error) {
	if x.calls == nil {
		return x.failStep(ctx, st, cs, res, errNoEngine)
	}
	called, err := x.calls.callRun(ctx, res.Calls)
	if err != nil {
		if ctx.Err() != nil {
			return walkParked, ctx.Err()
		}
		if errors.Is(err, ErrNotFound) {
			return x.failStep(ctx, st, cs, res, fmt.Errorf("flow.call: the called run %s is gone", res.Calls))
		}
		return walkParked, err
	}
	switch called.Status {
	case RunSucceeded:
		out := called.Result()
		return x.finishStep(ctx, st, cs, res, StepSucceeded, st.red.value(out), out)
	case RunFailed:
		return x.failStep(ctx, st, cs, res, fmt.Errorf("flow %q failed (run %s): %s", called.FlowID, called.ID, called.Error))
	}
	now := x.now()
	due := now.Add(min(max(now.Sub(res.StartedAt)/4, callRecheckMin), callRecheckMax))
	res.ResumeAt = &due
	return x.parkRun(ctx, st, res, due)
}

// Result is what a finished run answers: what a webhook.respond step set
// as the body, else the output of its last connector step that succeeded.
func (r *Run) Result() any {
	if r.Response != nil {
		return r.Response.Body
	}
	for i := len(r.Steps) - 1; i >= 0; i-- {
		if r.Steps[i].Status == StepSucceeded && r.Steps[i].Use != "" {
			return r.Steps[i].Output
		}
	}
	return nil
}

// callDepth is how deep in nested flow.calls a run is (0: not called).
func callDepth(r *Run) int {
	if r.CalledBy == nil {
		return 0
	}
	return r.CalledBy.Depth
}

// startCall implements flowCaller.
func (e *Engine) startCall(ctx context.Context, caller *Run, stepID string, attempt int, flowID string, payload any) (string, error) {
	a := e.flows.get(flowID)
	switch {
	case a == nil:
		return "", connectors.Permanentf("flow.call: flow %q does not exist", flowID)
	case !a.Flow().Enabled:
		return "", connectors.Permanentf("flow.call: flow %q is turned off", flowID)
	}
	if payload == nil {
		payload = map[string]any{}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", connectors.Permanent(fmt.Errorf("flow.call: payload: %w", err))
	}
	ev := &Event{Source: SourceCall, Method: "POST", ContentType: "application/json", Body: body,
		Headers: map[string]string{}, DedupeKey: fmt.Sprintf("call:%s:%s:%d", caller.ID, stepID, attempt)}
	link := &Run{CalledBy: &CallLink{RunID: caller.ID, FlowID: caller.FlowID, StepID: stepID, Depth: callDepth(caller) + 1}}
	acc, err := e.accept(ctx, a, ev, false, link)
	if err != nil {
		if errors.Is(err, ErrSaturated) || errors.Is(err, ErrStoreUnavailable) {
			return "", connectors.Retryable(fmt.Errorf("flow.call: start %q: %w", flowID, err), 5*time.Second)
		}
		return "", fmt.Errorf("flow.call: start %q: %w", flowID, err)
	}
	return acc.RunID, nil
}

// callRun implements flowCaller.
func (e *Engine) callRun(ctx context.Context, id string) (*Run, error) { return e.store.Run(ctx, id) }

// ended implements flowCaller.
func (e *Engine) ended(ctx context.Context, st *runState) error {
	if st.run.Status == RunFailed {
		id, err := e.failed(ctx, st)
		if err != nil {
			return err
		}
		st.run.FailureRun = id
	}
	return e.notify(ctx, st)
}

// failed starts the error flow of a failed run: the flow's on_failure,
// else the settings' default (not for a called run, whose caller fails in
// turn). An error flow's own failure starts nothing, nor does a
// notification's (its error flow's notification could fail in turn).
func (e *Engine) failed(ctx context.Context, st *runState) (string, error) {
	r := st.run
	if r.FailureOf != "" || r.FlowID == NotifyFlowID || st.dry {
		return "", nil
	}
	target := ""
	if h := st.flow.Flow.OnFailure; h != nil {
		target = h.Flow
	} else if h := e.Settings().OnFailure; h != nil && r.CalledBy == nil {
		target = h.Flow
	}
	if target == "" {
		return "", nil
	}
	a := e.flows.get(target)
	if a == nil || !a.Flow().Enabled {
		e.log.WarnContext(ctx, "error flow missing or turned off; not started", "flow_id", r.FlowID, "run_id", r.ID, "error_flow", target)
		return "", nil
	}
	trig := st.red.value(st.trig.Body)
	body, err := json.Marshal(map[string]any{
		"run_id":      r.ID,
		"flow":        map[string]any{"id": st.flow.Flow.ID, "name": st.flow.Flow.Name},
		"failed_step": r.ErrorStep,
		"error":       r.Error,
		"trigger":     trig,
	})
	if err != nil {
		return "", fmt.Errorf("engine: error flow body: %w", err)
	}
	ev := &Event{Source: SourceFailure, Method: "POST", ContentType: "application/json", Body: body,
		Headers: map[string]string{}, DedupeKey: "failure:" + r.ID}
	acc, err := e.accept(ctx, a, ev, false, &Run{FailureOf: r.ID})
	if err != nil {
		return "", fmt.Errorf("engine: start error flow %q: %w", target, err)
	}
	return acc.RunID, nil
}

// callWakes lets a called run's end wake its caller at once. A caller
// not in the queue (a worker holds it) is remembered, and pushed due now
// when its worker parks it.
type callWakes struct {
	mu    sync.Mutex
	early map[string]bool
}

// wake makes the caller of a run that just ended due now.
func (e *Engine) wakeCaller(r *Run) {
	if r.CalledBy == nil || e.runQueue != nil {
		// A store's queue (pgstore) has no early wake: the caller's
		// recheck finds the run ended.
		return
	}
	w := &e.wakes
	w.mu.Lock()
	defer w.mu.Unlock()
	if !e.queue.makeDue(r.CalledBy.RunID) {
		if w.early == nil {
			w.early = map[string]bool{}
		}
		w.early[r.CalledBy.RunID] = true
	}
}

// requeue pushes a parked run back into the in-memory queue, due now when
// a run it called ended while it was being worked on.
func (e *Engine) requeue(runID string, due time.Time) {
	w := &e.wakes
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.early[runID] {
		delete(w.early, runID)
		due = time.Time{}
	}
	e.queue.push(queued{runID: runID, due: due})
}

// forgetWake drops a final run's wake mark, if any.
func (e *Engine) forgetWake(id string) {
	e.wakes.mu.Lock()
	delete(e.wakes.early, id)
	e.wakes.mu.Unlock()
}

// ErrFlowInUse: a flow other flows call (or name as their error flow)
// cannot be deleted. The error is a *FlowInUseError naming them.
var ErrFlowInUse = errors.New("flow is used by other flows")

// FlowInUseError names what still uses a flow someone tried to delete.
type FlowInUseError struct {
	ID string
	// By lists "flow <id>" for each flow that names it, and "settings"
	// when it is the default error flow.
	By []string
}

func (e *FlowInUseError) Error() string {
	return fmt.Sprintf("engine: delete flow %q: still used by %s; change those first", e.ID, strings.Join(e.By, ", "))
}

// Is makes errors.Is(err, ErrFlowInUse) hold.
func (e *FlowInUseError) Is(target error) bool { return target == ErrFlowInUse }

// FlowCallers lists, sorted, what names flow id: "flow <x>" for every
// other flow that calls it or names it as on_failure, then "settings" when
// it is the default error flow.
func (e *Engine) FlowCallers(id string) []string {
	var out []string
	for _, a := range e.flows.all() {
		if a.Flow().ID == id {
			continue
		}
		for _, ref := range flows.FlowRefs(a.Flow()) {
			if ref.Flow == id {
				out = append(out, "flow "+a.Flow().ID)
				break
			}
		}
	}
	slices.Sort(out)
	if h := e.Settings().OnFailure; h != nil && h.Flow == id {
		out = append(out, "settings")
	}
	return out
}

// checkFlowRefs is flows.CheckFlowRefs against the flows stored now.
func (e *Engine) checkFlowRefs(f *flows.Flow) (unknown, cycles []flows.FieldError) {
	return flows.CheckFlowRefs(f, func(id string) *flows.Flow {
		if a := e.flows.get(id); a != nil {
			return a.Flow()
		}
		return nil
	})
}
