package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Bulk retry and replay: a selection of runs (a filter or a list of ids)
// is planned first, so the caller can show how many runs of which flows it
// would touch, then started. The runs are created in the background at a
// bounded pace, so that a bulk action of thousands of runs does not
// starve live webhooks of workers.

// Bulk actions.
const (
	BulkRetry  = "retry"
	BulkReplay = "replay"
)

const (
	// MaxBulkRuns is the most runs one bulk action takes.
	MaxBulkRuns = 10000
	// bulkRate is how many runs a bulk action starts per second at most.
	bulkRate = 200
	// bulkQueue is how many planned bulk actions may wait for the one
	// being carried out.
	bulkQueue = 16
	// maxSkipped is how many skipped runs a plan names (it counts all).
	maxSkipped = 100
)

// ErrBulkBusy: too many bulk actions wait already.
var ErrBulkBusy = errors.New("too many bulk actions in progress")

// BulkRequest selects the runs of a bulk action: Filter, or RunIDs.
type BulkRequest struct {
	Action string
	Filter *RunFilter
	RunIDs []string
}

// BulkSkip is a selected run the action leaves alone, and why.
type BulkSkip struct {
	RunID  string `json:"run_id"`
	Reason string `json:"reason"`
}

// BulkPlan is what a bulk action does: the runs it retries or replays
// (RunIDs, at most MaxBulkRuns) and their count per flow.
type BulkPlan struct {
	Action string         `json:"action"`
	Count  int            `json:"count"`
	RunIDs []string       `json:"run_ids"`
	Flows  map[string]int `json:"flows"`
	// Skipped names up to maxSkipped selected runs left alone;
	// SkippedCount counts them all.
	Skipped      []BulkSkip `json:"skipped,omitempty"`
	SkippedCount int        `json:"skipped_count"`
}

func (p *BulkPlan) skip(id, reason string) {
	p.SkippedCount++
	if len(p.Skipped) < maxSkipped {
		p.Skipped = append(p.Skipped, BulkSkip{RunID: id, Reason: reason})
	}
}

// PlanBulk decides which runs a bulk action takes. A retry takes failed,
// unresolved runs, each at the newest retry of its chain (a run retried
// already is retried from that retry, once); a replay takes finished runs,
// one per event. A filter that matches more than MaxBulkRuns runs, or
// more ids than that, is refused (ErrBadFilter).
func (e *Engine) PlanBulk(ctx context.Context, req BulkRequest) (*BulkPlan, error) {
	if req.Action != BulkRetry && req.Action != BulkReplay {
		return nil, badFilter("action: must be retry or replay")
	}
	if (req.Filter == nil) == (len(req.RunIDs) == 0) {
		return nil, badFilter("give either filter or run_ids")
	}
	ids := req.RunIDs
	if req.Filter != nil {
		var err error
		if ids, err = e.selectRuns(ctx, req.Action, *req.Filter); err != nil {
			return nil, err
		}
	} else if len(ids) > MaxBulkRuns {
		return nil, badFilter("run_ids: at most %d runs at once", MaxBulkRuns)
	}
	plan := &BulkPlan{Action: req.Action, RunIDs: []string{}, Flows: map[string]int{}}
	taken := map[string]bool{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		target, reason, err := e.bulkTarget(ctx, req.Action, id)
		if err != nil {
			return nil, err
		}
		if target == nil {
			plan.skip(id, reason)
			continue
		}
		key := target.ID
		if req.Action == BulkReplay {
			key = target.EventID
		}
		if taken[key] {
			reason := "its newest retry is retried in this action"
			if req.Action == BulkReplay {
				reason = "another run of its event is replayed in this action"
			}
			plan.skip(id, reason)
			continue
		}
		taken[key] = true
		plan.RunIDs = append(plan.RunIDs, target.ID)
		plan.Flows[target.FlowID]++
	}
	plan.Count = len(plan.RunIDs)
	return plan, nil
}

// selectRuns lists the ids a filter selects, newest first.
func (e *Engine) selectRuns(ctx context.Context, action string, f RunFilter) ([]string, error) {
	if action == BulkRetry {
		if f.Resolved != nil && *f.Resolved {
			return nil, badFilter("filter: resolved runs are not retried")
		}
		if f.Status != "" && f.Status != RunFailed {
			return nil, badFilter("filter: only failed runs are retried")
		}
		no := false
		f.Status, f.Resolved = RunFailed, &no
	}
	f.Limit, f.Cursor = 500, ""
	var ids []string
	for {
		page, err := e.ListRuns(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Runs {
			ids = append(ids, r.ID)
		}
		if len(ids) > MaxBulkRuns {
			return nil, badFilter("filter: matches more than %d runs; narrow it (flow, since, until)", MaxBulkRuns)
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		f.Cursor = page.NextCursor
	}
}

// bulkTarget is the run an action on run id acts on, or nil and why not.
func (e *Engine) bulkTarget(ctx context.Context, action, id string) (*Run, string, error) {
	run, err := e.store.Run(ctx, id)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrBadID) {
		return nil, "no such run", nil
	}
	if err != nil {
		return nil, "", err
	}
	if !run.Status.Final() {
		return nil, "still " + string(run.Status), nil
	}
	if action == BulkReplay {
		return run, "", nil
	}
	if run.Status != RunFailed {
		return nil, "did not fail", nil
	}
	for range maxResolveHops {
		links, err := e.RunLinks(ctx, run.ID)
		if err != nil {
			return nil, "", err
		}
		if links.Resolved {
			return nil, "resolved by " + links.ResolvedBy, nil
		}
		if len(links.RetriedBy) == 0 {
			return run, "", nil
		}
		next, err := e.store.Run(ctx, links.RetriedBy[len(links.RetriedBy)-1])
		if err != nil {
			return nil, "", err
		}
		if !next.Status.Final() {
			return nil, "a retry of it is in progress (" + next.ID + ")", nil
		}
		run = next
	}
	return nil, "too long a chain of retries", nil
}

// maxResolveHops bounds the walk down a chain of retries.
const maxResolveHops = 64

// bulkRunner carries out planned bulk actions one after the other.
type bulkRunner struct {
	jobs chan *bulkJob
	// queue makes StartBulk's check for room and its send one step.
	queue sync.Mutex
	mu    sync.Mutex
	// outstanding are the runs bulk actions started that have not
	// finished; freed is signalled when one finishes.
	outstanding map[string]struct{}
	freed       chan struct{}
}

func newBulkRunner() *bulkRunner {
	return &bulkRunner{jobs: make(chan *bulkJob, bulkQueue), outstanding: map[string]struct{}{}, freed: make(chan struct{}, 1)}
}

// done is told of every run that finished.
func (b *bulkRunner) done(id string) {
	b.mu.Lock()
	_, ok := b.outstanding[id]
	delete(b.outstanding, id)
	b.mu.Unlock()
	if ok {
		select {
		case b.freed <- struct{}{}:
		default:
		}
	}
}

func (b *bulkRunner) busy() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.outstanding)
}

// StartBulk queues a planned bulk action; its runs are created in the
// background. With a bulk journal (Config.BulkJournal) the action is
// durable once StartBulk returns: one cut short by a stop or a crash goes
// on when the engine starts again, without the runs it had acted on.
func (e *Engine) StartBulk(ctx context.Context, plan *BulkPlan) error {
	if plan.Count == 0 {
		return nil
	}
	// Microseconds: a store may keep times no finer, and acted compares
	// the runs' creation with it.
	job := &bulkJob{Action: plan.Action, RunIDs: slices.Clone(plan.RunIDs), Started: time.Now().UTC().Truncate(time.Microsecond)}
	e.bulk.queue.Lock()
	defer e.bulk.queue.Unlock()
	if len(e.bulk.jobs) == cap(e.bulk.jobs) {
		return ErrBulkBusy
	}
	if e.bulkJournal != nil {
		if err := e.bulkJournal.add(job); err != nil {
			return err
		}
	}
	e.bulk.jobs <- job // room checked above, under the lock
	flows := plan.SortedFlows()
	e.log.Info("bulk action started", "action", plan.Action, "runs", plan.Count, "flows", flows)
	e.Audit(ctx, AuditEntry{Action: AuditRunsBulk, Target: strings.Join(flows, ", "),
		Detail: fmt.Sprintf("%s %d runs", plan.Action, plan.Count)})
	return nil
}

// bulkLoop carries out bulk actions: at most bulkRate runs a second, and
// never more than twice as many unfinished runs of bulk actions as there
// are workers, so live webhooks always find workers free. A stop leaves
// the action in the journal, noted as far as it got.
func (e *Engine) bulkLoop(ctx context.Context) {
	limit := 2 * e.cfg.Workers
	tick := time.NewTicker(time.Second / bulkRate)
	defer tick.Stop()
	for {
		var job *bulkJob
		select {
		case <-ctx.Done():
			return
		case job = <-e.bulk.jobs:
		}
		ids := job.RunIDs
		noted := time.Now()
		started, failed := 0, 0
		for i, id := range ids {
			for e.bulk.busy() >= limit {
				select {
				case <-ctx.Done():
					return
				case <-e.bulk.freed:
				case <-time.After(time.Second):
					e.pruneBulk(ctx)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := e.bulkOne(ctx, job.Action, id); err != nil {
				if ctx.Err() != nil {
					return // stopping: this run is acted on after the start
				}
				failed++
				e.log.Warn("bulk "+job.Action+": run not started", "run_id", id, "err", err)
			} else {
				started++
			}
			if e.bulkJournal != nil && time.Since(noted) >= bulkProgressEvery {
				noted = time.Now()
				if err := e.bulkJournal.progress(job, ids[i+1:]); err != nil {
					e.log.Warn("bulk "+job.Action+": progress not noted; after a crash the runs since are checked again", "err", err)
				}
			}
		}
		if e.bulkJournal != nil {
			if err := e.bulkJournal.remove(job); err != nil {
				e.log.Warn("bulk "+job.Action+": the finished action stays in the journal; the next start finds its runs acted on", "err", err)
			}
		}
		e.log.Info("bulk action done", "action", job.Action, "runs", started, "not_started", failed)
	}
}

// pruneBulk forgets outstanding runs that are final: a run that ended in
// a way that did not pass runDone must not hold a bulk action back.
func (e *Engine) pruneBulk(ctx context.Context) {
	e.bulk.mu.Lock()
	ids := make([]string, 0, len(e.bulk.outstanding))
	for id := range e.bulk.outstanding {
		ids = append(ids, id)
	}
	e.bulk.mu.Unlock()
	for _, id := range ids {
		if r, err := e.store.Run(ctx, id); errors.Is(err, ErrNotFound) || (err == nil && r.Status.Final()) {
			e.bulk.done(id)
		}
	}
}

// bulkOne retries or replays one run, waiting while the engine is
// saturated, and counts the new run as outstanding until it finishes.
func (e *Engine) bulkOne(ctx context.Context, action, id string) (*Run, error) {
	for {
		var run *Run
		var err error
		if action == BulkRetry {
			run, err = e.RetryRun(ctx, id)
		} else {
			run, err = e.ReplayRun(ctx, id)
		}
		if err == nil {
			e.bulk.mu.Lock()
			e.bulk.outstanding[run.ID] = struct{}{}
			e.bulk.mu.Unlock()
			// It may have finished before it was counted: then done
			// found nothing to remove.
			if r, err := e.store.Run(ctx, run.ID); err == nil && r.Status.Final() {
				e.bulk.done(run.ID)
			}
		}
		if !errors.Is(err, ErrSaturated) {
			return run, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// SortedFlows lists a plan's flows by name, for messages.
func (p *BulkPlan) SortedFlows() []string {
	out := make([]string, 0, len(p.Flows))
	for f, n := range p.Flows {
		out = append(out, fmt.Sprintf("%s (%d)", f, n))
	}
	sort.Strings(out)
	return out
}
