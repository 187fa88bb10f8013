// Package engine is Switchyard's runtime: durable ingest, the run queue and
// its workers, the executor with retries, recovery at start-up, retention,
// and encrypted connections. It knows nothing of HTTP servers or HTML.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultWorkers    = 64
	DefaultQueueLimit = 50000
	DefaultRetention  = 30 * 24 * time.Hour
	// shutdownGrace is how long in-flight steps may finish on shutdown
	// before they are cancelled (and rerun after restart).
	shutdownGrace = 10 * time.Second
)

// Config wires an Engine.
type Config struct {
	Store   Store
	Keyring *Keyring
	// HTTP is the client connectors send with; it should enforce the
	// egress policy. Defaults to a plain client (tests only).
	HTTP *http.Client
	// Dial opens raw connections for connectors that do not speak HTTP;
	// it should enforce the same egress policy. Defaults to a plain dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Workers is how many runs advance at once.
	Workers int
	// QueueLimit is how many unfinished runs may wait; beyond it Accept
	// fails with ErrSaturated and stores nothing.
	QueueLimit int
	// Retention is how long finished runs are kept (negative: forever).
	Retention time.Duration
	// RetentionRuns keeps at most this many runs per flow (0: no limit)
	// and RetentionBytes at most this many bytes of history (0: no
	// limit); see retention.go.
	RetentionRuns  int
	RetentionBytes int64
	// CompactFree is the free space in the database file past which it is
	// compacted, when that is also a quarter of the file (0: the default,
	// DefaultCompactFree; negative: never on its own).
	CompactFree int64
	Logger      *slog.Logger
	// Clock drives schedule and poll triggers; tests replace it.
	Clock Clock
	// StepJournal is the file where workers note the step they execute,
	// so that a step that takes the process down is not run forever
	// (stepjournal.go); normally StepJournalFile in the data dir. Empty:
	// no journal.
	StepJournal string
	// BulkJournal is the file that keeps the bulk actions not yet
	// carried out, so that a stop or a crash does not cut one short
	// (bulkjournal.go); normally BulkJournalFile in the data dir. Empty:
	// bulk actions last as long as the process.
	BulkJournal string
	// Observer receives run and step measurements (metrics); nil: none.
	Observer Observer
}

// Engine runs flows.
type Engine struct {
	// compactMu keeps compactions one at a time (retention.go).
	compactMu sync.Mutex
	cfg       Config
	store     Store
	keys      *Keyring
	log       *slog.Logger
	flows     *flowCache
	queue     *dueQueue
	// runQueue is the store's own queue when it has one (RunQueue): then
	// queue stays empty and the store's workers run the runs.
	runQueue RunQueue
	exec     *executor
	bus      *bus
	wait     *waiters
	wakes    callWakes
	settings settingsBox
	counts   counters
	refusals refusalLog
	sched    *scheduler
	journal  *stepJournal
	// gate holds back the runs of paused flows and of flows at their
	// concurrency limit (hold.go); rates are connections' rate limits.
	gate  gate
	rates RateBuckets
	bulk  *bulkRunner
	// bulkJournal is nil without Config.BulkJournal.
	bulkJournal *bulkJournal
	// journalFailed is set once a journal write failed (and was logged).
	journalFailed atomic.Bool

	pending atomic.Int64 // unfinished runs, for backpressure

	mu           sync.Mutex
	started      bool
	stopDispatch context.CancelFunc
	stopSteps    context.CancelFunc
	wg           sync.WaitGroup
}

// New makes an engine over a store: it checks the secret key against the
// data and loads every flow. Call Start to recover runs and begin work.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: no store")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = DefaultQueueLimit
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.CompactFree == 0 {
		cfg.CompactFree = DefaultCompactFree
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	e := &Engine{
		cfg:   cfg,
		store: cfg.Store,
		keys:  cfg.Keyring,
		log:   cfg.Logger,
		flows: newFlowCache(),
		queue: newDueQueue(),
		bus:   newBus(),
		wait:  newWaiters(),
		bulk:  newBulkRunner(),
	}
	if rq, ok := cfg.Store.(RunQueue); ok {
		e.runQueue = rq
	}
	e.refusals.init()
	e.sched = newScheduler(e, cfg.Clock)
	e.queue.admit = e.admitQueued
	e.exec = &executor{http: cfg.HTTP, dial: cfg.Dial, secrets: e, now: time.Now, log: cfg.Logger, limits: &e.rates, calls: e}
	e.exec.kv, _ = cfg.Store.(KVStore)
	if e.keys != nil {
		if err := checkKey(ctx, e.store, e.keys); err != nil {
			return nil, err
		}
	}
	if err := e.loadSettings(ctx); err != nil {
		return nil, err
	}
	recs, err := e.store.Flows(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: load flows: %w", err)
	}
	for _, rec := range recs {
		cf, err := compileRecord(rec)
		if err != nil {
			// A flow saved by an older version that no longer compiles
			// must not keep the server from starting: it is loaded as
			// disabled and the error is logged.
			e.log.Error("flow does not compile; skipping it", "flow_id", rec.ID, "err", err)
			continue
		}
		e.flows.set(&ActiveFlow{Compiled: cf, Record: rec})
		if err := e.loadPause(ctx, rec.ID); err != nil {
			return nil, fmt.Errorf("engine: load flows: %w", err)
		}
	}
	return e, nil
}

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Start re-queues every run that was queued, running or waiting (from its
// last checkpoint) and starts the workers. Call it before the HTTP listener
// opens so that recovered runs go first.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("engine: already started")
	}
	if e.cfg.StepJournal != "" {
		j, entries, err := openStepJournal(e.cfg.StepJournal, e.cfg.Workers)
		if err != nil {
			return fmt.Errorf("engine: open step journal: %w", err)
		}
		if err := e.countCrashes(ctx, entries); err != nil {
			j.close()
			return err
		}
		e.journal = j
	}
	if e.cfg.BulkJournal != "" {
		bj, err := openBulkJournal(e.cfg.BulkJournal)
		if errors.Is(err, errBulkJournalDamaged) {
			e.log.Error("the bulk journal is damaged; the bulk actions it held are not resumed", "err", err)
		} else if err != nil {
			e.closeStepJournal()
			return err
		}
		e.bulkJournal = bj
		// What an earlier Start of this engine queued is in the journal:
		// queued once more, it would run twice.
		for len(e.bulk.jobs) > 0 {
			<-e.bulk.jobs
		}
		if err := e.resumeBulk(ctx); err != nil {
			e.closeStepJournal()
			return err
		}
	}
	dctx, cancelDispatch := context.WithCancel(context.WithoutCancel(ctx))
	sctx, cancelSteps := context.WithCancel(context.WithoutCancel(ctx))
	e.stopDispatch, e.stopSteps = cancelDispatch, cancelSteps
	if err := e.startWorkers(ctx, dctx, sctx); err != nil {
		cancelDispatch()
		cancelSteps()
		return err
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.retentionLoop(dctx)
	}()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.refusalLoop(dctx)
	}()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.bulkLoop(dctx)
	}()
	for _, a := range e.flows.all() {
		e.sched.update(ctx, a.Record.ID, a)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.sched.run(dctx)
	}()
	e.started = true
	return nil
}

// Stop stops taking work, lets steps in flight finish for a grace period,
// then cancels them; their runs resume after the next start.
func (e *Engine) Stop() {
	e.mu.Lock()
	if !e.started {
		e.mu.Unlock()
		return
	}
	e.started = false
	e.mu.Unlock()
	e.stopDispatch()
	if e.runQueue != nil {
		// The queue's workers have the grace period to finish what they
		// hold; what they do not finish any node takes again.
		gctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if err := e.runQueue.StopRuns(gctx); err != nil {
			e.log.Warn("stop run workers", "err", err)
		}
		cancel()
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		e.stopSteps()
		<-done
	}
	e.stopSteps()
	e.closeStepJournal()
}

func (e *Engine) closeStepJournal() {
	if e.journal != nil {
		e.journal.close()
		e.journal = nil
	}
}

// processSafely is process for a worker: a panic outside any step (steps
// recover their own) fails the run with an internal error instead of
// taking the worker, and with it the process, down.
//
// slot is the worker's slot in the step journal, cleared once the worker
// is done with the run.
func (e *Engine) processSafely(ctx context.Context, q queued, slot int) (again time.Time, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ierr := internalError(e.log, r, nil, "run_id", q.runID)
			e.failRun(ctx, q.runID, ierr)
			again, ok = time.Time{}, false
		}
		if e.journal != nil {
			e.journalDone(e.journal.leave(slot))
		}
	}()
	return e.process(ctx, q, slot)
}

// journalDone logs the first failed write of the step journal: the engine
// works on without it, only without its protection.
func (e *Engine) journalDone(err error) {
	if err != nil && e.journalFailed.CompareAndSwap(false, true) {
		e.log.Error("cannot write the step journal; a step that crashes the engine may run again on every start", "err", err)
	}
}

// failRun marks a run that cannot go on failed, as read from the store.
func (e *Engine) failRun(ctx context.Context, id string, cause error) {
	defer func() {
		if r := recover(); r != nil {
			internalError(e.log, r, nil, "run_id", id)
		}
	}()
	run, err := e.store.Run(ctx, id)
	if err != nil || run.Status.Final() {
		return
	}
	now := time.Now()
	run.Status, run.Error, run.FinishedAt, run.DueAt = RunFailed, cause.Error(), &now, nil
	if err := e.store.SaveRun(ctx, run); err != nil {
		e.log.Error("save failed run", "run_id", id, "err", err)
		return
	}
	e.runDone(run)
}

// process advances one run taken from the queue, for the worker of the
// given journal slot. When the run must be taken again later (it parked,
// or the store refused it for now) it returns when, and ok.
func (e *Engine) process(ctx context.Context, q queued, slot int) (again time.Time, ok bool) {
	run, ev := q.run, q.event
	var err error
	if run == nil {
		if run, err = e.store.Run(ctx, q.runID); err != nil {
			return e.loadFailed(q, "load queued run", err)
		}
	}
	if run.Status.Final() {
		e.leaveRun(run.FlowID, run.ID)
		return time.Time{}, false
	}
	if !e.admitRun(run.FlowID, run.ID, run.CreatedAt, run.StartedAt != nil) {
		return e.heldBack(run)
	}
	if ev == nil {
		if ev, err = e.store.Event(ctx, run.EventID); err != nil {
			return e.loadFailed(q, "load event of run", err)
		}
	}
	// Built only when something goes wrong: With costs allocations that
	// every run would otherwise pay.
	log := func() *slog.Logger { return e.log.With("flow_id", run.FlowID, "run_id", run.ID) }
	cf, err := e.flows.version(ctx, e.store, run.FlowID, run.FlowVersion)
	var st *runState
	if err == nil {
		st, err = newRunState(run, cf, ev)
	}
	if err != nil {
		// Nothing can run: fail the run with the reason rather than
		// retrying it forever.
		now := time.Now()
		run.Status, run.Error, run.FinishedAt, run.DueAt = RunFailed, err.Error(), &now, nil
		if serr := e.store.SaveRun(ctx, run); serr != nil {
			log().Error("save unrunnable run", "err", serr)
			return time.Time{}, false
		}
		e.runDone(run)
		return time.Time{}, false
	}
	e.observer().RunsInProgress(1)
	defer e.observer().RunsInProgress(-1)
	st.park = true
	st.save = e.store.SaveRun
	st.onUpdate = e.publishStep
	st.answer = e.wait.deliver
	st.hold = func() string { return e.pausedReason(run.FlowID) }
	if j := e.journal; j != nil {
		st.enter = func(stepID string) { e.journalDone(j.enter(slot, run.ID, stepID)) }
	}

	if err := e.exec.advance(ctx, st); err != nil {
		if errors.Is(err, ErrRunFinal) {
			return time.Time{}, false
		}
		if ctx.Err() != nil {
			return time.Time{}, false // shutting down; recovery resumes it
		}
		// The store refused a checkpoint: try the run again shortly from
		// what was last saved. A store that cannot take writes at all
		// logs that itself, once, not once per run.
		if errors.Is(err, ErrStoreUnavailable) {
			log().Debug("checkpoint refused; run will be retried", "err", err)
		} else {
			log().Error("checkpoint failed; run will be retried", "err", err)
		}
		return time.Now().Add(5 * time.Second), true
	}
	if run.Status.Final() {
		e.runDone(run)
		return time.Time{}, false
	}
	e.bus.publish(Update{Type: "run", RunID: run.ID, FlowID: run.FlowID, Status: string(run.Status)})
	return *run.DueAt, true
}

// loadFailed handles a run that could not be loaded to advance it. When
// the store only cannot serve reads right now (it logs why itself), the
// run is queued again; otherwise it would wait for the next start.
func (e *Engine) loadFailed(q queued, what string, err error) (again time.Time, ok bool) {
	if errors.Is(err, ErrStoreUnavailable) {
		e.log.Debug(what, "run_id", q.runID, "err", err)
		return time.Now().Add(5 * time.Second), true
	}
	e.log.Error(what, "run_id", q.runID, "err", err)
	return time.Time{}, false
}

// runDone accounts for a run that reached a final status.
func (e *Engine) runDone(run *Run) {
	e.pending.Add(-1)
	e.leaveRun(run.FlowID, run.ID)
	if run.Status == RunSucceeded {
		e.counts.succeeded.Add(1)
	} else {
		e.counts.failed.Add(1)
	}
	e.observeRun(run)
	e.wait.deliver(run)
	e.forgetWake(run.ID)
	e.wakeCaller(run)
	e.bulk.done(run.ID)
	e.bus.publish(Update{Type: "run", RunID: run.ID, FlowID: run.FlowID, Status: string(run.Status)})
}

func (e *Engine) publishStep(r *Run, step *StepResult) {
	if step == nil {
		return
	}
	e.counts.steps.Add(1)
	e.observeStep(step)
	e.bus.publish(Update{Type: "step", RunID: r.ID, FlowID: r.FlowID, Status: string(step.Status), StepID: step.ID})
}

// Stats are counters for /metrics.
type Stats struct {
	Accepted, Duplicates, Saturated, Succeeded, Failed, Steps, Refused int64
	// RefusalsDropped counts refusals not recorded because a flood filled
	// the backlog faster than it was written.
	RefusalsDropped int64
	// StoreApplyErrors counts failed attempts of the store to move
	// acknowledged writes into its database (boltstore.Store.ApplyErrors).
	StoreApplyErrors int64
	// StoreStuck is 1 while the store's database refuses acknowledged
	// writes; StoreBacklog counts those waiting for it.
	StoreStuck, StoreBacklog int64
	Pending                  int64
	Workers                  int
}

type counters struct {
	accepted, duplicates, saturated, succeeded, failed, steps, refused atomic.Int64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	h := e.StoreHealth()
	st := Stats{
		Accepted: e.counts.accepted.Load(), Duplicates: e.counts.duplicates.Load(),
		Saturated: e.counts.saturated.Load(), Succeeded: e.counts.succeeded.Load(),
		Failed: e.counts.failed.Load(), Steps: e.counts.steps.Load(), Refused: e.counts.refused.Load(),
		Pending: e.pending.Load(), Workers: e.cfg.Workers, RefusalsDropped: e.refusals.dropped.Load(),
		StoreApplyErrors: h.ApplyErrors, StoreBacklog: h.Backlog,
	}
	if h.Stuck {
		st.StoreStuck = 1
	}
	return st
}

// SearchBacklog is how many runs wait for the store's search index; ok is
// false when the store indexes as it writes (or not at all).
func (e *Engine) SearchBacklog(ctx context.Context) (n int64, ok bool, err error) {
	sb, ok := e.store.(SearchBacklogger)
	if !ok {
		return 0, false, nil
	}
	n, err = sb.SearchBacklog(ctx)
	return n, true, err
}

// StoreHealth is the store's report on its database, for stores that keep
// one (a store without returns the zero value: healthy).
func (e *Engine) StoreHealth() StoreHealth {
	if h, ok := e.store.(interface{ Health() StoreHealth }); ok {
		return h.Health()
	}
	return StoreHealth{}
}

// Ready reports whether the engine has started (recovery done).
func (e *Engine) Ready() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}

func (e *Engine) retentionLoop(ctx context.Context) {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		e.enforceRetention(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// enforceRetention deletes the finished runs the retention limits say go
// (retention.go) and forgets expired dedupe keys, in chunks so no single
// transaction grows large; then it compacts the database when enough of
// it is free.
func (e *Engine) enforceRetention(ctx context.Context) {
	if n, err := e.store.PurgeDedupe(ctx, time.Now()); err != nil {
		e.log.Error("purge dedupe keys", "err", err)
	} else if n > 0 {
		e.log.Info("purged expired dedupe keys", "count", n)
	}
	e.purgeKV(ctx)
	if n, err := e.trimHistory(ctx); err != nil {
		e.log.Error("retention", "err", err)
	} else if n > 0 {
		e.log.Info("retention deleted finished runs", "count", n)
	}
	e.maybeCompact(ctx)
}
