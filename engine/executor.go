package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
)

// defaultMaxBackoff caps the wait of a step that sets `retry` without
// max_backoff; its backoff defaults to flows.DefaultRetry's.
const defaultMaxBackoff = time.Hour

// SecretSource resolves stored connections for the executor.
type SecretSource interface {
	// Connection returns the decrypted values of one connection.
	Connection(ctx context.Context, name string) (ConnectionValues, error)
	// AllConnections returns every connection's values, for templates
	// that reference `secrets`.
	AllConnections(ctx context.Context) (map[string]ConnectionValues, error)
}

// executor walks a run's steps. It knows nothing of how runs are stored:
// the caller passes a save function that checkpoints.
type executor struct {
	http    *http.Client
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
	secrets SecretSource
	// kv is the data store of the store.* steps; nil: none.
	kv  KVStore
	now func() time.Time
	// log receives the detail of a step's internal error; nil logs to
	// slog's default.
	log *slog.Logger
	// limits holds connections' rate limits; nil: none are enforced.
	limits *RateBuckets
	// calls starts the runs of flow.call steps and error flows (calls.go);
	// nil where no engine runs.
	calls flowCaller
}

// rateSleep is the longest wait for a connection's rate limit that a
// worker sleeps through; a longer one parks the run (a checkpoint), so
// that a slow CRM does not tie up the workers other flows need.
const rateSleep = 50 * time.Millisecond

func (x *executor) logger() *slog.Logger {
	if x.log == nil {
		return slog.Default()
	}
	return x.log
}

// runState is one run being advanced.
type runState struct {
	run  *Run
	flow *flows.Compiled
	trig flows.TriggerData
	// envBase is what every step's expression environment shares (env).
	envBase *flows.EnvBase
	steps   map[string]flows.StepState
	dry     bool
	// save checkpoints the run; a nil save keeps the run in memory only.
	save func(ctx context.Context, r *Run) error
	// park, when true, makes the walk stop at a retry or delay and return;
	// when false (in-process runs) it sleeps instead.
	park bool
	// onUpdate is told about each step checkpoint.
	onUpdate func(r *Run, step *StepResult)
	// answer, when set, gets the run once a webhook.respond step has set
	// its answer and every step before it that acted outside is saved
	// (the sync webhook's caller is waiting for it).
	answer func(r *Run)
	// unsaved is set while a step that acted outside has finished but is
	// not checkpointed yet (deferSave).
	unsaved bool
	// red hides, in what the run records, every secret its steps have
	// met so far (redact.go); a panic's message is redacted with it before
	// it is logged.
	red *redactor
	// holdsSecret marks the steps whose output held a secret (a remote
	// echoed one): what later templates compute from them is recorded
	// masked, like what they compute from secrets.
	holdsSecret map[string]bool
	// enter, when set, is told before a step that has not finished yet
	// starts (the step journal).
	enter func(stepID string)
	// hold, when set, is asked before a step that has not finished yet
	// starts; a reason (the flow was paused) parks the run there.
	hold func() string
	// iter is the loop item being run (loop.go), nil outside loops; at
	// maps the loop items' checkpoints to their place in run.Steps.
	iter *iteration
	at   map[iterKey]int
	// mu is the run's lock while the items of a concurrent loop run
	// (loopconc.go); nil otherwise.
	mu *sync.Mutex
}

// outcome of a walk.
type walkResult int

const (
	walkContinue walkResult = iota // go on with the next step
	walkParked                     // run waits for DueAt
	walkFailed                     // run failed
)

func newRunState(run *Run, cf *flows.Compiled, ev *Event) (*runState, error) {
	trig, err := triggerData(ev)
	if err != nil {
		return nil, fmt.Errorf("parse trigger body: %w", err)
	}
	st := &runState{run: run, flow: cf, trig: trig, envBase: flows.NewEnvBase(cf.Flow, trig), steps: map[string]flows.StepState{}, red: newRedactor()}
	for _, r := range run.Steps {
		// An inner step's outputs are read inside its item only.
		if r.Status.done() && !r.InLoop() {
			st.steps[r.ID] = flows.StepState{Output: r.Output, Status: string(r.Status)}
		}
	}
	return st, nil
}

func (st *runState) env(attempt int, secrets map[string]map[string]string) flows.Env {
	env := st.envBase.Env(st.run.ID, attempt, st.steps, secrets)
	if st.iter != nil {
		env[flows.VarItem] = st.iter.item
		env[flows.VarIndex] = st.iter.index
	}
	return env
}

// advance runs the run's remaining steps. It returns when the run is final
// or (with park) waits for run.DueAt. An error means a checkpoint could not
// be written; the run is left as last saved.
func (x *executor) advance(ctx context.Context, st *runState) error {
	r := st.run
	now := x.now()
	if r.StartedAt == nil {
		r.StartedAt = &now
	}
	r.Status = RunRunning
	r.DueAt = nil
	r.WaitingFor = ""
	for {
		res, err := x.walk(ctx, st, st.flow.Steps)
		if err != nil {
			return err
		}
		switch res {
		case walkParked:
			if st.park {
				return nil
			}
			// In-process runs wait here instead of in the queue.
			if err := sleepUntil(ctx, *r.DueAt, x.now); err != nil {
				return err
			}
			r.Status = RunRunning
			r.DueAt = nil
			continue
		case walkFailed:
			r.Status = RunFailed
		default:
			r.Status = RunSucceeded
		}
		if x.calls != nil {
			// Before the final checkpoint: after a crash here the run
			// ends again on resume, and the dedupe keys of the error
			// flow's run and the notifications find those queued.
			if err := x.calls.ended(ctx, st); err != nil {
				return err
			}
		}
		fin := x.now()
		r.FinishedAt = &fin
		r.DueAt = nil
		return x.checkpoint(ctx, st, nil)
	}
}

func sleepUntil(ctx context.Context, t time.Time, now func() time.Time) error {
	d := t.Sub(now())
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (x *executor) checkpoint(ctx context.Context, st *runState, step *StepResult) error {
	if st.save != nil {
		if err := st.save(ctx, st.run); err != nil {
			return err
		}
	}
	st.unsaved = false
	st.stepDone(step)
	return nil
}

// stepDone tells onUpdate about a finished step (nil: the run), and hands
// the run's answer to the caller once nothing before it is left unsaved.
func (st *runState) stepDone(step *StepResult) {
	if st.onUpdate != nil {
		st.onUpdate(st.run, step)
	}
	if st.answer != nil && st.run.Response != nil && !st.unsaved {
		st.answer(st.run)
	}
}

// deferSave reports whether the checkpoint of a step that acted outside
// may wait: until the next step that acts outside starts (saveUnsaved),
// the run parks or ends. Only pure steps run in between, and they are
// computed again after a crash; the step's effect is then repeated after
// a crash in that stretch, as it is after one between the effect and its
// own checkpoint. Waiting saves a checkpoint for a flow whose call is
// followed by pure steps to the end (the HTTP call then the answer of
// W1: 3 log writes became 2; issue 16). Items of a concurrent loop
// checkpoint at once: they share the run.
func (st *runState) deferSave() bool {
	return st.save != nil && st.mu == nil
}

// saveUnsaved writes the checkpoint deferSave let wait.
func (x *executor) saveUnsaved(ctx context.Context, st *runState) error {
	if !st.unsaved {
		return nil
	}
	return x.checkpoint(ctx, st, nil)
}

func (x *executor) walk(ctx context.Context, st *runState, list []*flows.CompiledStep) (walkResult, error) {
	for _, cs := range list {
		res, err := x.step(ctx, st, cs)
		if err != nil || res != walkContinue {
			return res, err
		}
	}
	return walkContinue, nil
}

// stepResult returns the step's checkpoint, adding a fresh one when the
// step has not started yet.
func (x *executor) stepResult(st *runState, cs *flows.CompiledStep) *StepResult {
	if res := st.result(cs.Step.ID); res != nil {
		return res
	}
	r := StepResult{ID: cs.Step.ID, Use: cs.Step.Use, Status: StepRunning, StartedAt: x.now()}
	if st.iter != nil {
		i := st.iter.index
		r.Loop, r.Iteration = st.iter.loop, &i
	}
	if st.run.Steps == nil {
		// Most runs record each top-level step once: room for them all
		// at once, not a new array at the 1st, 2nd, 3rd, 5th step.
		st.run.Steps = make([]StepResult, 0, len(st.flow.Steps))
	}
	st.run.Steps = append(st.run.Steps, r)
	st.noteResult(len(st.run.Steps) - 1)
	return &st.run.Steps[len(st.run.Steps)-1]
}

// step runs one step. A panic in it (a connector's bug, say) fails that
// step with "internal error (see log, id X)", the stack going to the log
// only, instead of taking the process down.
func (x *executor) step(ctx context.Context, st *runState, cs *flows.CompiledStep) (res walkResult, err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		ierr := internalError(x.logger(), r, st.red.string, "flow_id", st.run.FlowID, "run_id", st.run.ID, "step_id", cs.Step.ID)
		res, err = x.failStep(ctx, st, cs, x.stepResult(st, cs), ierr)
	}()
	return x.runStep(ctx, st, cs)
}

func (x *executor) runStep(ctx context.Context, st *runState, cs *flows.CompiledStep) (walkResult, error) {
	id := cs.Step.ID
	if prev := st.result(id); prev != nil && prev.Status.done() {
		if st.iter != nil {
			// An item's earlier steps are read from their checkpoints.
			st.steps[id] = flows.StepState{Output: prev.Output, Status: string(prev.Status)}
		}
		// Done before a restart or a retry: follow the branch it took.
		if cs.Step.IsSwitch() && prev.Branch != nil && *prev.Branch >= 0 && *prev.Branch < len(cs.Cases) {
			return x.followBranch(ctx, st, cs, *prev.Branch)
		}
		return walkContinue, nil
	}
	if st.hold != nil {
		if why := st.hold(); why != "" {
			// Parked before the step, due at once: the gate holds the
			// run until the flow is resumed.
			st.run.WaitingFor = why
			return x.parkRun(ctx, st, nil, x.now())
		}
	}
	if cs.Step.IsLoop() || cs.Spec.SideEffects {
		// A step that may act outside starts only once those before
		// it that did are saved (deferSave).
		if err := x.saveUnsaved(ctx, st); err != nil {
			return walkParked, err
		}
	}
	if st.enter != nil {
		st.enter(st.stepKey(id))
	}
	res := x.stepResult(st, cs)
	if cs.If != nil && res.Attempts == 0 && len(res.Conditions) == 0 {
		ok, why, err := cs.If.Explain(st.env(1, nil))
		cond := Condition{Field: cs.If.Field, Expr: cs.If.Source, Result: ok, Why: st.red.strings(why)}
		if err != nil {
			cond.Error = st.red.string(err.Error())
		}
		res.Conditions = append(res.Conditions, cond)
		if err != nil {
			return x.failStep(ctx, st, cs, res, err)
		}
		if !ok {
			return x.finishStep(ctx, st, cs, res, StepSkipped, nil, nil)
		}
	}
	if cs.Step.IsSwitch() {
		return x.route(ctx, st, cs, res)
	}
	if cs.Step.IsLoop() {
		return x.loop(ctx, st, cs, res)
	}
	return x.call(ctx, st, cs, res)
}

// route evaluates a switch's cases in order and walks the first that holds.
func (x *executor) route(ctx context.Context, st *runState, cs *flows.CompiledStep, res *StepResult) (walkResult, error) {
	env := st.env(1, nil)
	branch := -1
	for i, c := range cs.Cases {
		if c.Default || c.When == nil {
			branch = i
			break
		}
		ok, why, err := c.When.Explain(env)
		cond := Condition{Field: c.When.Field, Expr: c.When.Source, Result: ok, Why: st.red.strings(why)}
		if err != nil {
			cond.Error = st.red.string(err.Error())
		}
		res.Conditions = append(res.Conditions, cond)
		if err != nil {
			return x.failStep(ctx, st, cs, res, err)
		}
		if ok {
			branch = i
			break
		}
	}
	res.Branch = &branch
	out := switchOutput(branch, nil)
	if r, err := x.finishStep(ctx, st, cs, res, StepSucceeded, out, out); err != nil || r != walkContinue {
		return r, err
	}
	if branch < 0 {
		return walkContinue, nil
	}
	return x.followBranch(ctx, st, cs, branch)
}

// call runs one attempt of a connector step.
func (x *executor) call(ctx context.Context, st *runState, cs *flows.CompiledStep, res *StepResult) (walkResult, error) {
	if cs.Step.Use == flows.UseFlowCall && res.Status == StepWaiting && res.Calls != "" {
		return x.followCall(ctx, st, cs, res)
	}
	conn, err := connectors.Lookup(cs.Step.Use)
	if err != nil {
		return x.failStep(ctx, st, cs, res, err)
	}
	attempt := res.Attempts + 1
	resumed := res.Status == StepWaiting
	red := st.red

	var secrets map[string]map[string]string
	policy := flows.SecretPolicy{Step: st.outputHoldsSecret()}
	if cs.With != nil && cs.With.UsesSecrets && x.secrets != nil {
		all, err := x.secrets.AllConnections(ctx)
		if err != nil {
			return x.failStep(ctx, st, cs, res, fmt.Errorf("load secrets: %w", err))
		}
		secrets = make(map[string]map[string]string, len(all))
		secretFields := make(map[string]map[string]string, len(all))
		for name, c := range all {
			secrets[name] = c.Values
			// Only secret fields are hidden by content: a host or a user
			// name a template reads stays readable.
			secretFields[name] = c.Secret()
			red.add(secretFields[name])
		}
		policy.Field = func(conn, field string) bool {
			_, ok := secretFields[conn][field]
			return ok
		}
	}
	var cfg, recorded map[string]any
	if cs.With != nil {
		cfg, err = cs.With.Render(st.env(attempt, secrets))
		if err != nil {
			res.Attempts = attempt
			return x.failStep(ctx, st, cs, res, err)
		}
		// What a template computed from a secret is recorded masked
		// whole, and hidden wherever it shows up again; the connector
		// gets cfg as rendered.
		var hidden []string
		recorded, hidden = cs.With.Redact(cfg, Redacted, policy)
		for _, v := range hidden {
			red.addValue(v)
		}
	}
	var connVals map[string]string
	if name, _ := cfg[connectors.KeyConnection].(string); name != "" {
		if x.secrets == nil {
			return x.failStep(ctx, st, cs, res, fmt.Errorf("connection %q: no connections available here", name))
		}
		conn, err := x.secrets.Connection(ctx, name)
		if err != nil {
			res.Attempts = attempt
			return x.failStep(ctx, st, cs, res, fmt.Errorf("connection %q: %w", name, err))
		}
		connVals = conn.Values
		red.add(conn.Secret())
		if conn.Rate != nil && x.limits != nil && !st.dry {
			if r, err := x.awaitRate(ctx, st, res, name, *conn.Rate); r != walkContinue || err != nil {
				return r, err
			}
		}
	}
	res.Attempts = attempt
	res.Input = red.config(cs.Spec, recorded)
	res.Status = StepRunning
	res.NextAttemptAt = nil
	res.ResumeAt = nil

	start := x.now()
	execute := conn.Execute
	if cs.Step.Use == flows.UseFlowCall {
		execute = x.callExecute(st, res)
	}
	// Items of a concurrent loop share the run: they change it only
	// under its lock, which they let go while a connector works. A
	// sub-flow call records its callee in the step's result as it starts,
	// so it keeps the lock.
	unlocked := cs.Step.Use != flows.UseFlowCall
	if unlocked {
		st.unlock()
	}
	out, err := execute(ctx, connectors.Input{
		Config:         cfg,
		Connection:     connVals,
		RunID:          st.run.ID,
		StepID:         cs.Step.ID,
		IdempotencyKey: st.run.idempotencyKey(st.stepKey(cs.Step.ID)),
		Attempt:        attempt,
		Resumed:        resumed,
		DryRun:         st.dry,
		HTTP:           x.http,
		Dial:           x.dial,
		Conceal:        st.conceal,
		KV:             x.kvFor(st),
	})
	if unlocked {
		st.lock()
	}
	res.DurationMS += float64(x.now().Sub(start).Microseconds()) / 1000
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: the attempt did not really fail. Leave the
			// last checkpoint as it is; recovery runs the step again.
			return walkParked, ctx.Err()
		}
		retryable, after := connectors.IsRetryable(err)
		var se *connectors.StepError
		if errors.As(err, &se) {
			res.StatusCode = se.Status
		}
		err = red.err(err)
		if policy := flows.EffectiveRetry(cs.Step, cs.Spec); retryable && policy != nil && attempt < policy.Attempts {
			due := x.now().Add(backoff(policy, attempt, after))
			res.Status = StepRetrying
			res.Error = err.Error()
			res.NextAttemptAt = &due
			return x.parkRun(ctx, st, res, due)
		}
		if !retryable && attempt > 1 {
			err = fmt.Errorf("%w (permanent, attempt %d)", err, attempt)
		}
		return x.failStep(ctx, st, cs, res, err)
	}
	res.Error = ""
	hits := red.hits
	res.Output = red.value(out.Output)
	if red.hits != hits {
		st.markHoldsSecret(cs.Step.ID)
	}
	if out.Respond != nil {
		// The answer goes back to the webhook's caller, and is recorded:
		// secrets stay out of both.
		resp := *out.Respond
		if resp.Body != nil {
			resp.Body = red.value(resp.Body)
		}
		resp.Headers = red.stringMap(resp.Headers)
		st.run.Response = &resp
	}
	if !out.ResumeAt.IsZero() && !resumed {
		due := out.ResumeAt
		res.Status = StepWaiting
		res.ResumeAt = &due
		return x.parkRun(ctx, st, res, due)
	}
	return x.finishStep(ctx, st, cs, res, StepSucceeded, res.Output, out.Output)
}

// outputHoldsSecret is the SecretPolicy.Step of the run's next template:
// nil while no output held a secret.
func (st *runState) outputHoldsSecret() func(id string) bool {
	if len(st.holdsSecret) == 0 {
		return nil
	}
	return func(id string) bool { return st.holdsSecret[id] }
}

func (st *runState) markHoldsSecret(id string) {
	if st.holdsSecret == nil {
		st.holdsSecret = map[string]bool{}
	}
	st.holdsSecret[id] = true
}

// backoff is the delay before attempt+1: exponential from the policy's
// backoff, with jitter that keeps each delay above the previous one, capped
// by max_backoff, and never shorter than what the remote asked for.
func backoff(p *flows.Retry, attempt int, retryAfter time.Duration) time.Duration {
	base := p.Backoff.Std()
	if base <= 0 {
		base = flows.DefaultRetry.Backoff.Std()
	}
	maxB := p.MaxBackoff.Std()
	if maxB <= 0 {
		maxB = defaultMaxBackoff
	}
	d := base
	for i := 1; i < attempt && d < maxB; i++ {
		d *= 2
	}
	// Jitter within [80%, 100%] spreads retries of many runs apart while
	// every delay stays longer than the one before it.
	d = time.Duration(float64(d) * (0.8 + 0.2*rand.Float64()))
	if d > maxB {
		d = maxB
	}
	if retryAfter > d {
		d = retryAfter
	}
	return d
}

// awaitRate takes a token of connection name's rate limit for the step,
// waiting for it in place when it is due soon (or the run cannot park),
// else parking the run until it is due, with the reason recorded.
func (x *executor) awaitRate(ctx context.Context, st *runState, res *StepResult, name string, lim flows.RateLimit) (walkResult, error) {
	holder := st.run.ID + ":" + st.stepKey(res.ID)
	now := x.now()
	at := x.limits.Reserve("connection\x00"+name, lim, holder, now)
	wait := at.Sub(now)
	if wait <= 0 {
		return walkContinue, nil
	}
	if !st.park || wait <= rateSleep {
		if err := sleepUntil(ctx, at, x.now); err != nil {
			return walkParked, err
		}
		return walkContinue, nil
	}
	x.limits.Keep(holder, at)
	st.run.WaitingFor = fmt.Sprintf("waiting for %s rate limit", name)
	res.NextAttemptAt = &at
	return x.parkRun(ctx, st, res, at)
}

func (x *executor) parkRun(ctx context.Context, st *runState, res *StepResult, due time.Time) (walkResult, error) {
	if st.mu != nil && st.run.Status == RunWaiting && st.run.DueAt != nil && st.run.DueAt.Before(due) {
		// Another item of a concurrent loop is due sooner.
		due = *st.run.DueAt
	}
	st.run.Status = RunWaiting
	st.run.DueAt = &due
	if err := x.checkpoint(ctx, st, res); err != nil {
		return walkParked, err
	}
	return walkParked, nil
}

// finishStep records a step's end: recorded is its output as history
// keeps it, out as later steps read it (they differ when a secret was
// redacted).
func (x *executor) finishStep(ctx context.Context, st *runState, cs *flows.CompiledStep, res *StepResult, status StepStatus, recorded, out any) (walkResult, error) {
	now := x.now()
	res.Status = status
	res.FinishedAt = &now
	res.Output = recorded
	st.steps[res.ID] = flows.StepState{Output: out, Status: string(status)}
	if status == StepSucceeded && cs.Spec.SideEffects {
		if !st.deferSave() {
			return walkContinue, x.checkpoint(ctx, st, res)
		}
		st.unsaved = true
	}
	// A step that changed nothing outside (a skipped step, a switch, a
	// data.set) is folded into the next checkpoint: after a crash it is
	// simply computed again, which saves a disk write per pure step.
	st.stepDone(res)
	return walkContinue, nil
}

// failStep records a step's final failure. With on_error continue the run
// goes on; otherwise it fails, and the run's error names the step.
func (x *executor) failStep(ctx context.Context, st *runState, cs *flows.CompiledStep, res *StepResult, err error) (walkResult, error) {
	now := x.now()
	res.Status = StepFailed
	res.Error = st.red.string(err.Error())
	res.FinishedAt = &now
	if cs.Step.OnError == flows.OnErrorContinue {
		out := map[string]any{"error": res.Error}
		res.Output = out
		st.steps[res.ID] = flows.StepState{Output: out, Status: string(StepFailed)}
		return walkContinue, x.checkpoint(ctx, st, res)
	}
	st.steps[res.ID] = flows.StepState{Status: string(StepFailed)}
	st.run.Error = fmt.Sprintf("step %q failed: %s", st.stepKey(cs.Step.ID), res.Error)
	st.run.ErrorStep = cs.Step.ID
	if st.onUpdate != nil {
		st.onUpdate(st.run, res)
	}
	// The final checkpoint is written by advance with the run's status.
	return walkFailed, nil
}
