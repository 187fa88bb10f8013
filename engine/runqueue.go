package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RunQueue is a store that also queues runs durably and hands them to
// workers itself, on every node sharing it (pgstore, with River). Every
// write that makes a run due (Accept, AddRun, AcceptTick, AcceptPoll)
// enqueues it in the same transaction, so the engine keeps no queue of its
// own: it starts the store's workers instead of loading Pending.
type RunQueue interface {
	// StartRuns hands due runs to work, on this node, until StopRuns.
	// work advances one run and returns when it is final (nil) or parked
	// until the time it returns; an error has the queue try it again
	// later.
	StartRuns(ctx context.Context, work RunWork) error
	// StopRuns stops taking runs and waits for those in hand, at most
	// until ctx ends (then they are cancelled and taken again later, by
	// any node).
	StopRuns(ctx context.Context) error
	// CountPending counts the runs that are not final, on every node.
	CountPending(ctx context.Context) (int64, error)
}

// RunWork advances one run: see RunQueue.StartRuns.
type RunWork func(ctx context.Context, runID string) (due *time.Time, err error)

// ChangeFeed is a store that other nodes change too: WatchChanges calls
// onRun with every run checkpoint and onFlow with every flow saved or
// deleted by another node, until ctx ends, so that live updates, sync
// webhook answers and each node's compiled flows follow what the others
// did. Whenever it starts listening (again), changes made meanwhile went
// unheard: it calls onFlow with "" then, and the engine reloads every
// flow.
type ChangeFeed interface {
	WatchChanges(ctx context.Context, onRun func(RunChange), onFlow func(flowID string))
}

// RunChange is one checkpoint of a run, as another node saved it.
type RunChange struct {
	RunID  string    `json:"r"`
	FlowID string    `json:"f"`
	Status RunStatus `json:"s"`
	// StepID and StepStatus name the newest step checkpointed.
	StepID     string     `json:"p,omitempty"`
	StepStatus StepStatus `json:"ps,omitempty"`
	// Responded is set once a webhook.respond step set the answer.
	Responded bool `json:"a,omitempty"`
}

// ChangeOf is the RunChange a checkpoint of r makes.
func ChangeOf(r *Run) RunChange {
	c := RunChange{RunID: r.ID, FlowID: r.FlowID, Status: r.Status, Responded: r.Response != nil}
	if n := len(r.Steps); n > 0 {
		c.StepID, c.StepStatus = r.Steps[n-1].ID, r.Steps[n-1].Status
	}
	return c
}

// enqueue queues a run this node just stored, unless the store queued it
// itself.
func (e *Engine) enqueue(q queued) {
	if e.runQueue == nil {
		e.queue.push(q)
	}
}

// workRun is RunWork for a RunQueue's workers.
func (e *Engine) workRun(ctx context.Context, runID string) (*time.Time, error) {
	again, ok := e.processSafely(ctx, queued{runID: runID}, 0)
	e.gate.release(runID) // the run's next turn may be another node's
	if !ok {
		if err := ctx.Err(); err != nil {
			// Stopped (or out of time) mid-run: the queue must offer the
			// run again, to whichever node, from its last checkpoint.
			return nil, err
		}
		return nil, nil
	}
	return &again, nil
}

// remoteChange passes on a change another node made to a run: to the
// event stream, and to a sync webhook waiting here for the run.
func (e *Engine) remoteChange(ctx context.Context, c RunChange) {
	if c.StepID != "" {
		e.bus.publish(Update{Type: "step", RunID: c.RunID, FlowID: c.FlowID, Status: string(c.StepStatus), StepID: c.StepID})
	}
	e.bus.publish(Update{Type: "run", RunID: c.RunID, FlowID: c.FlowID, Status: string(c.Status)})
	if (c.Status.Final() || c.Responded) && e.wait.has(c.RunID) {
		if run, err := e.store.Run(ctx, c.RunID); err == nil {
			e.wait.deliver(run)
		}
	}
}

// pendingLoop keeps the backpressure count in step with the runs every
// node left unfinished: with a shared queue, runs accepted here finish
// elsewhere.
func (e *Engine) pendingLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if n, err := e.runQueue.CountPending(ctx); err == nil {
			e.pending.Store(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startWorkers starts what takes runs: the store's workers when it queues
// runs itself, else the in-memory queue (loaded with every unfinished run,
// from its last checkpoint) and this engine's workers. dctx stops taking
// runs, sctx cancels steps in flight.
func (e *Engine) startWorkers(ctx, dctx, sctx context.Context) error {
	if e.runQueue != nil {
		n, err := e.runQueue.CountPending(ctx)
		if err != nil {
			return fmt.Errorf("engine: count pending runs: %w", err)
		}
		e.pending.Store(n)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.pauseLoop(dctx)
		}()
		if err := e.runQueue.StartRuns(sctx, e.workRun); err != nil {
			return fmt.Errorf("engine: start run workers: %w", err)
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.pendingLoop(dctx)
		}()
		if feed, ok := e.store.(ChangeFeed); ok {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				feed.WatchChanges(dctx, func(c RunChange) { e.remoteChange(dctx, c) },
					func(id string) { e.reloadFlow(dctx, id) })
			}()
		}
		return nil
	}
	items, err := e.store.Pending(ctx)
	if err != nil {
		return fmt.Errorf("engine: recover: %w", err)
	}
	e.primeSlots(ctx, items)
	for _, it := range items {
		e.queue.push(queued{runID: it.RunID, due: it.Due})
	}
	e.pending.Store(int64(len(items)))
	if len(items) > 0 {
		e.log.Info("recovered unfinished runs", "count", len(items))
	}
	work := make(chan queued)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(work)
		e.queue.dispatch(dctx, work)
	}()
	for i := 0; i < e.cfg.Workers; i++ {
		e.wg.Add(1)
		go func(slot int) {
			defer e.wg.Done()
			for q := range work {
				if due, ok := e.processSafely(sctx, q, slot); ok {
					e.requeue(q.runID, due)
				}
			}
		}(i)
	}
	return nil
}

// PollLeaser is a store shared by several nodes that lets one of them poll
// a flow at a time: LeasePoll takes or renews this node's lease on the
// flow for ttl and reports whether it holds it. A node that died holds
// its leases until they lapse; then the next node whose tick comes takes
// them over.
type PollLeaser interface {
	LeasePoll(ctx context.Context, flowID string, ttl time.Duration) (bool, error)
}

// PollLeaseTTL is how long a node's lease on polling a flow lasts past its
// last poll: it outlasts one poll (the request's own timeout), so polls of
// two nodes never overlap, and it bounds how long a dead node's polls
// stop: polling moves on within PollLeaseTTL and one interval of the flow.
const PollLeaseTTL = 30 * time.Second

// mayPoll reports whether this node is the one to poll the flow now.
func (e *Engine) mayPoll(ctx context.Context, flowID string) bool {
	pl, ok := e.store.(PollLeaser)
	if !ok {
		return true
	}
	held, err := pl.LeasePoll(ctx, flowID, PollLeaseTTL)
	if err != nil {
		e.log.Warn("poll lease", "flow_id", flowID, "err", err)
		return false
	}
	return held
}

// reloadFlow takes a flow another node saved or deleted into this node's
// cache and schedule.
func (e *Engine) reloadFlow(ctx context.Context, id string) {
	if id == "" {
		e.reloadFlows(ctx)
		return
	}
	rec, err := e.store.Flow(ctx, id)
	if errors.Is(err, ErrNotFound) {
		e.flows.remove(id)
		e.sched.update(ctx, id, nil)
		return
	}
	if err != nil {
		e.log.Error("reload flow changed by another node", "flow_id", id, "err", err)
		return
	}
	if cur := e.flows.get(id); cur != nil && cur.Record.Version == rec.Version && string(cur.Record.Flow) == string(rec.Flow) {
		return
	}
	cf, err := compileRecord(rec)
	if err != nil {
		e.log.Error("flow changed by another node does not compile here", "flow_id", id, "err", err)
		return
	}
	a := &ActiveFlow{Compiled: cf, Record: rec}
	e.flows.set(a)
	e.sched.update(ctx, id, a)
}

// reloadFlows brings every flow of this node's cache up to the store's.
func (e *Engine) reloadFlows(ctx context.Context) {
	recs, err := e.store.Flows(ctx)
	if err != nil {
		e.log.Error("reload flows", "err", err)
		return
	}
	stored := map[string]bool{}
	for _, rec := range recs {
		stored[rec.ID] = true
		e.reloadFlow(ctx, rec.ID)
	}
	for _, a := range e.flows.all() {
		if !stored[a.Record.ID] {
			e.reloadFlow(ctx, a.Record.ID)
		}
	}
}
