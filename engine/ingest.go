package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// RunStore keeps events and runs: durable ingest, the queue behind the
// workers, run history and its retention.
type RunStore interface {
	// Accept stores ev and its first run (status queued) with the run's
	// queue entry in one durable transaction, assigning both IDs. When
	// ev.DedupeKey is set and a delivery with the same key was accepted for
	// the flow within window, nothing is stored and the result names the
	// first run.
	Accept(ctx context.Context, ev *Event, run *Run, window time.Duration) (AcceptResult, error)
	// AddRun stores a new queued run for an event already stored (retry,
	// replay), with its queue entry, assigning its ID.
	AddRun(ctx context.Context, run *Run) error
	// SaveRun checkpoints a run. A run that is not final keeps a queue entry
	// due at run.DueAt (now when nil); a final run loses it. A run already
	// final in the store is never rewritten: SaveRun returns ErrRunFinal.
	SaveRun(ctx context.Context, run *Run) error
	// Run and Event load one record.
	Run(ctx context.Context, id string) (*Run, error)
	Event(ctx context.Context, id string) (*Event, error)
	// ListRuns lists run summaries newest first.
	ListRuns(ctx context.Context, f RunFilter) (RunPage, error)
	// Pending lists every run that is not final with its due time, for
	// recovery at start-up.
	Pending(ctx context.Context) ([]QueueItem, error)
	// PurgeDedupe forgets dedupe keys that expired before now.
	PurgeDedupe(ctx context.Context, now time.Time) (int, error)
	// DeleteRunsBefore removes final runs (and events no run needs any
	// more) created before t, at most limit of them; it reports how many.
	DeleteRunsBefore(ctx context.Context, t time.Time, limit int) (int, error)
}

// Accepted is what Accept did with an event.
type Accepted struct {
	RunID string
	// Duplicate is true when the event's dedupe key was seen before;
	// RunID names the first run and nothing was stored.
	Duplicate bool
	// Done, when the caller asked to wait, yields the run once a
	// webhook.respond step answered or the run ended.
	Done <-chan *Run
}

// DedupeError says that a flow's dedupe expression failed on an event.
type DedupeError struct{ Err error }

func (e *DedupeError) Error() string { return "dedupe: " + e.Err.Error() }
func (e *DedupeError) Unwrap() error { return e.Err }

// WebhookFlow returns the enabled webhook flow listening on path.
func (e *Engine) WebhookFlow(path string) (*ActiveFlow, bool) {
	a := e.flows.byWebhookPath(path)
	return a, a != nil
}

// Accept durably stores an event for a flow with its queued run and only
// then returns: a caller may acknowledge the event once Accept succeeded.
// Over the queue limit it stores nothing and returns ErrSaturated. With
// wait, Accepted.Done yields the run when it responds or ends; the caller
// must call Forget if it stops waiting.
func (e *Engine) Accept(ctx context.Context, a *ActiveFlow, ev *Event, wait bool) (Accepted, error) {
	return e.accept(ctx, a, ev, wait, nil)
}

// accept is Accept; link, when set, holds what a run started by another
// run keeps of it (CalledBy, FailureOf), and its dedupe key is kept for
// internalDedupeWindow.
func (e *Engine) accept(ctx context.Context, a *ActiveFlow, ev *Event, wait bool, link *Run) (Accepted, error) {
	if n := e.pending.Add(1); n > int64(e.cfg.QueueLimit) {
		e.pending.Add(-1)
		e.counts.saturated.Add(1)
		return Accepted{}, ErrSaturated
	}
	release := true
	defer func() {
		if release {
			e.pending.Add(-1)
		}
	}()
	cf := a.Compiled
	ev.FlowID = cf.Flow.ID
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = time.Now().UTC()
	}
	if cf.Dedupe != nil && ev.DedupeKey == "" {
		key, err := dedupeKey(cf, ev)
		if err != nil {
			return Accepted{}, &DedupeError{Err: err}
		}
		ev.DedupeKey = key
	}
	run := &Run{
		FlowID:      cf.Flow.ID,
		FlowVersion: a.Record.Version,
		Status:      RunQueued,
		CreatedAt:   ev.ReceivedAt,
		Steps:       []StepResult{},
	}
	window := cf.Flow.Trigger.EffectiveDedupeWindow()
	if link != nil {
		run.CalledBy, run.FailureOf = link.CalledBy, link.FailureOf
		window = internalDedupeWindow
	}
	res, err := e.store.Accept(ctx, ev, run, window)
	if err != nil {
		return Accepted{}, err
	}
	if res.Duplicate {
		e.counts.duplicates.Add(1)
		return Accepted{RunID: res.RunID, Duplicate: true}, nil
	}
	release = false
	e.counts.accepted.Add(1)
	out := Accepted{RunID: run.ID}
	if wait {
		// Registered before the run can start, so no answer is missed.
		out.Done = e.wait.add(run.ID)
	}
	e.enqueue(queued{runID: run.ID, run: run, event: ev, flowID: run.FlowID, created: run.CreatedAt})
	e.bus.publish(Update{Type: "run", RunID: run.ID, FlowID: run.FlowID, Status: string(RunQueued)})
	return out, nil
}

// Forget stops waiting for a run (a sync webhook that timed out).
func (e *Engine) Forget(runID string) { e.wait.remove(runID) }

func dedupeKey(cf *flows.Compiled, ev *Event) (string, error) {
	trig, err := triggerData(ev)
	if err != nil {
		return "", err
	}
	v, err := cf.Dedupe.Eval(flows.NewEnv(flows.EnvInput{Flow: cf.Flow, Trigger: trig}))
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case float64:
		return fmt.Sprintf("%.0f", x), nil
	default:
		return fmt.Sprint(x), nil
	}
}

// RunNow starts a run of a flow (any trigger type) from a payload, as the
// manual trigger does. The run is queued durably like a webhook's.
func (e *Engine) RunNow(ctx context.Context, flowID string, ev *Event) (Accepted, error) {
	a := e.flows.get(flowID)
	if a == nil {
		return Accepted{}, fmt.Errorf("engine: run flow %q: %w", flowID, ErrFlowNotFound)
	}
	if ev.Source == "" {
		ev.Source = flows.TriggerManual
	}
	return e.Accept(ctx, a, ev, false)
}

// Sentinel errors of run control.
var (
	ErrNotFailed = errors.New("only a failed run can be retried")
)

// RetryRun starts a new run for a failed run's event that resumes at the
// failed step: the steps that succeeded keep their results and do not run
// again. The failed run itself is never changed.
func (e *Engine) RetryRun(ctx context.Context, id string) (*Run, error) {
	old, err := e.store.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := e.checkRetryable(ctx, old); err != nil {
		return nil, err
	}
	kept := []StepResult{}
	for _, s := range old.Steps {
		if s.Status == StepSucceeded || s.Status == StepSkipped {
			kept = append(kept, s)
		}
	}
	// The steps sent again keep the keys they were first sent with: a
	// remote that took the failed attempt can recognise this one.
	key := old.IdempotencyRun
	if key == "" {
		key = old.ID
	}
	nr := &Run{RetryOf: old.ID, Steps: kept, IdempotencyRun: key}
	return e.startFrom(ctx, old, nr)
}

// ReplayRun starts a new run from the same event as run id, from the first
// step, with the flow's current version. A run still in progress is not
// replayed (ErrNotFinal): its steps may yet run.
func (e *Engine) ReplayRun(ctx context.Context, id string) (*Run, error) {
	old, err := e.store.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	if !old.Status.Final() {
		return nil, fmt.Errorf("engine: replay run %s: %w (status %s)", id, ErrNotFinal, old.Status)
	}
	return e.startFrom(ctx, old, &Run{ReplayOf: old.ID, Steps: []StepResult{}})
}

func (e *Engine) startFrom(ctx context.Context, old, nr *Run) (*Run, error) {
	nr.FlowID, nr.EventID, nr.FlowVersion = old.FlowID, old.EventID, old.FlowVersion
	// Users retry after fixing the flow: use its current version when it
	// still exists.
	if a := e.flows.get(old.FlowID); a != nil {
		nr.FlowVersion = a.Record.Version
	}
	nr.Status = RunQueued
	nr.CreatedAt = time.Now().UTC()
	if n := e.pending.Add(1); n > int64(e.cfg.QueueLimit) {
		e.pending.Add(-1)
		return nil, ErrSaturated
	}
	if err := e.store.AddRun(ctx, nr); err != nil {
		e.pending.Add(-1)
		return nil, err
	}
	e.enqueue(queued{runID: nr.ID, run: nr, flowID: nr.FlowID, created: nr.CreatedAt})
	e.bus.publish(Update{Type: "run", RunID: nr.ID, FlowID: nr.FlowID, Status: string(RunQueued)})
	return nr, nil
}

// TestRun executes a flow once in memory against an event and returns the
// run with every step's result; nothing is stored. With dry, connectors
// send nothing out. Retries and delays wait in place (bounded by ctx).
func (e *Engine) TestRun(ctx context.Context, cf *flows.Compiled, ev *Event, dry bool) (*Run, error) {
	return RunOnce(ctx, cf, ev, RunOnceOptions{Dry: dry, HTTP: e.cfg.HTTP, Dial: e.cfg.Dial, Secrets: e, KV: e.exec.kv, Limits: &e.rates})
}

// RunOnceOptions configure RunOnce.
type RunOnceOptions struct {
	Dry     bool
	HTTP    *http.Client
	Dial    func(ctx context.Context, network, address string) (net.Conn, error)
	Secrets SecretSource
	// OnStep is told about each step checkpoint (e.g. to print progress).
	OnStep func(r *Run, step *StepResult)
	// Limits, when set, holds the rate limits of connections: steps wait
	// their turn in place.
	Limits *RateBuckets
	// KV is the data store the store.* steps use; nil: they fail.
	KV KVStore
}

// RunOnce executes a flow in-process without a store, as `switchyard run`
// and flow tests do.
func RunOnce(ctx context.Context, cf *flows.Compiled, ev *Event, opts RunOnceOptions) (*Run, error) {
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = time.Now().UTC()
	}
	ev.FlowID = cf.Flow.ID
	run := &Run{ID: "run_test", FlowID: cf.Flow.ID, EventID: ev.ID, Status: RunQueued, CreatedAt: time.Now().UTC(), Steps: []StepResult{}}
	st, err := newRunState(run, cf, ev)
	if err != nil {
		return nil, err
	}
	st.dry = opts.Dry
	st.onUpdate = opts.OnStep
	client := opts.HTTP
	if client == nil {
		client = &http.Client{}
	}
	dial := opts.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	x := &executor{http: client, dial: dial, secrets: opts.Secrets, kv: opts.KV, now: time.Now, limits: opts.Limits}
	if err := x.advance(ctx, st); err != nil {
		return run, err
	}
	return run, nil
}
