package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/switchyard/switchyard/engine"
)

// Ingest commits in groups, as the bbolt store's log does: an event that
// arrives while acceptFlushers transactions of accepts are in flight waits
// with the others that arrive meanwhile, and the next transaction writes
// them all (their keys, events, runs and River jobs, a few round trips for
// the lot). Each caller returns once the transaction holding its event
// committed, so a 2xx still means committed. A transaction of several that
// fails is retried one event at a time, so one bad row fails only its own
// caller.

// acceptFlushers is how many accept transactions one node keeps in flight:
// two, so that one is being built while the other waits for its commit.
const acceptFlushers = 2

// maxAcceptBatch caps the events of one transaction.
const maxAcceptBatch = 256

// acceptTimeout bounds one accept transaction. It does not follow the
// caller's context: the transaction carries other callers' events.
const acceptTimeout = 30 * time.Second

// acceptReq is one Accept waiting for its transaction.
type acceptReq struct {
	ev     *engine.Event
	run    *engine.Run
	window time.Duration
	res    engine.AcceptResult
	err    error
	// done receives a batch this caller is to commit (it is the batch's
	// first), or is closed once res and err are set.
	done chan []*acceptReq
}

// acceptGroup gathers the accepts that wait for a transaction. Whenever
// some wait, acceptFlushers transactions are in flight, and the first of
// those to finish hands the waiting ones to one of their callers.
type acceptGroup struct {
	mu       sync.Mutex
	pending  []*acceptReq
	flushing int
	// txs counts the transactions that committed accepts.
	txs atomic.Int64
	// beforeTx, when set (tests), runs before each accept transaction.
	beforeTx func()
}

// join queues r; a batch returned (r alone) is the caller's to commit.
func (g *acceptGroup) join(r *acceptReq) []*acceptReq {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = append(g.pending, r)
	if g.flushing == acceptFlushers {
		return nil
	}
	g.flushing++
	return g.take()
}

// take removes the next batch from the queue; g.mu is held.
func (g *acceptGroup) take() []*acceptReq {
	n := min(len(g.pending), maxAcceptBatch)
	b := slices.Clone(g.pending[:n])
	g.pending = slices.Delete(g.pending, 0, n)
	return b
}

// release ends a transaction: the waiting accepts, if any, go to the first
// of them to commit.
func (g *acceptGroup) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) == 0 {
		g.flushing--
		return
	}
	b := g.take()
	b[0].done <- b
}

// Accept implements engine.RunStore: the event, its run and the run's job
// are committed, in a transaction shared with the accepts that arrived
// meanwhile, before it returns. A dedupe key is claimed first, through the
// key's primary key, so two nodes taking the same delivery at once make
// one run.
func (s *Store) Accept(ctx context.Context, ev *engine.Event, run *engine.Run, window time.Duration) (engine.AcceptResult, error) {
	req := &acceptReq{ev: ev, run: run, window: window, done: make(chan []*acceptReq, 1)}
	batch := s.accepts.join(req)
	if batch == nil {
		batch = <-req.done // nil once answered
	}
	if batch != nil {
		s.commitAccepts(ctx, batch)
		s.accepts.release()
		for _, r := range batch[1:] {
			close(r.done)
		}
	}
	if req.err != nil {
		return engine.AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, unavailable(req.err))
	}
	if !req.res.Duplicate {
		ev.ID, run.ID, run.EventID = req.res.EventID, req.res.RunID, req.res.EventID
	}
	return req.res, nil
}

// commitAccepts commits batch and sets each accept's result: in one
// transaction, or, when that fails, in one transaction each.
func (s *Store) commitAccepts(ctx context.Context, batch []*acceptReq) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), acceptTimeout)
	defer cancel()
	if f := s.accepts.beforeTx; f != nil {
		f()
	}
	if len(batch) > 1 {
		err := s.tx(ctx, func(tx pgx.Tx) error { return s.acceptMany(ctx, tx, batch) })
		if err == nil {
			s.accepts.txs.Add(1)
			return
		}
		s.log.Debug("accept batch failed, accepting one by one", "events", len(batch), "err", err)
	}
	for _, r := range batch {
		r.res, r.err = s.acceptOne(ctx, r.ev, r.run, r.window)
		if r.err == nil {
			s.accepts.txs.Add(1)
		}
	}
}

// acceptMany writes batch in tx: its ids in one query, its dedupe keys
// (in key order, so that transactions on several nodes lock them in one
// order) in one round trip, its events and runs in another, its jobs with
// River's InsertManyTx. Results are set on the requests; they stand only
// if tx commits.
func (s *Store) acceptMany(ctx context.Context, tx pgx.Tx, batch []*acceptReq) error {
	rows, err := tx.Query(ctx, `SELECT nextval('sy_ids') FROM generate_series(1, $1)`, len(batch))
	if err != nil {
		return err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if len(seqs) != len(batch) {
		return fmt.Errorf("%d ids for %d events", len(seqs), len(batch))
	}
	slices.Sort(seqs) // ids in the order the events arrived
	for _, r := range batch {
		r.res, r.err = engine.AcceptResult{}, nil
	}
	if err := s.claimKeys(ctx, tx, batch, seqs); err != nil {
		return err
	}
	b := &pgx.Batch{}
	var jobs []river.InsertManyParams
	for i, req := range batch {
		if req.res.Duplicate {
			continue
		}
		e, r := *req.ev, *req.run
		e.ID = formatID(eventIDPrefix, seqs[i])
		r.EventID = e.ID
		data, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		b.Queue(insertEventSQL, seqs[i], e.FlowID, data)
		args, err := runRowArgs(seqs[i], seqs[i], &r, &e)
		if err != nil {
			return err
		}
		b.Queue(insertRunSQL, args...)
		if !r.Status.Final() {
			jobs = append(jobs, runJobParams(r.ID, dueOf(&r)))
		}
		req.res = engine.AcceptResult{RunID: r.ID, EventID: e.ID}
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	if len(jobs) > 0 {
		if _, err := s.queue.client.InsertManyTx(ctx, tx, jobs); err != nil {
			return err
		}
	}
	return nil
}

// claimKeys claims the dedupe keys of batch, the event at i for the run
// numbered seqs[i], and marks the duplicates. The claims are statements
// in one round trip, run in order, so the second of two events with one
// key in the batch finds the first's claim.
func (s *Store) claimKeys(ctx context.Context, tx pgx.Tx, batch []*acceptReq, seqs []int64) error {
	var keyed []int
	for i, r := range batch {
		if r.ev.DedupeKey != "" {
			keyed = append(keyed, i)
		}
	}
	if len(keyed) == 0 {
		return nil
	}
	slices.SortStableFunc(keyed, func(a, b int) int {
		ea, eb := batch[a].ev, batch[b].ev
		return cmp.Or(cmp.Compare(ea.FlowID, eb.FlowID), cmp.Compare(ea.DedupeKey, eb.DedupeKey))
	})
	b := &pgx.Batch{}
	for _, i := range keyed {
		b.Queue(claimSQL, claimArgs(batch[i].ev, seqs[i], batch[i].window)...)
	}
	var dups []int
	br := tx.SendBatch(ctx, b)
	for _, i := range keyed {
		var first int64
		err := br.QueryRow().Scan(&first)
		if errors.Is(err, pgx.ErrNoRows) {
			dups = append(dups, i)
			continue
		}
		if err != nil {
			br.Close()
			return err
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	if len(dups) == 0 {
		return nil
	}
	// Seen within their window: name the first run, store nothing.
	b = &pgx.Batch{}
	for _, i := range dups {
		b.Queue(dupSQL, batch[i].ev.FlowID, batch[i].ev.DedupeKey)
	}
	br = tx.SendBatch(ctx, b)
	for _, i := range dups {
		var first int64
		if err := br.QueryRow().Scan(&first); err != nil {
			br.Close()
			return err
		}
		batch[i].res = engine.AcceptResult{RunID: formatID(runIDPrefix, first), Duplicate: true}
	}
	return br.Close()
}
