package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/switchyard/switchyard/engine"
)

// Runs are River jobs: every write that makes a run due inserts a job
// naming it, in the same transaction (InsertTx), and River's workers on
// every node take the jobs. A run that parks (a retry's backoff, a
// flow.delay) snoozes its job until it is due; a node killed mid-run
// leaves its job running until River's rescuer, on the elected leader,
// makes it available again after RescueAfter (JobTimeout + rescueMargin),
// and another node resumes the run from its last checkpoint.

// DefaultJobTimeout is the default of Options.JobTimeout.
const DefaultJobTimeout = time.Minute

// rescueMargin is how much longer than the job timeout a job may stay
// running before River takes it for stuck: a live node gives up on a run
// (its context ends) before another may take it.
const rescueMargin = 15 * time.Second

// runJob is the job of one run.
type runJob struct {
	RunID string `json:"run_id"`
}

// Kind implements river.JobArgs.
func (runJob) Kind() string { return "switchyard_run" }

// runQueue is the River client on the store's pool and the work it hands
// runs to once started.
type runQueue struct {
	client  *river.Client[pgx.Tx]
	work    atomic.Pointer[engine.RunWork]
	started atomic.Bool
	stopMu  sync.Mutex
	// rescueAfter is River's RescueStuckJobsAfter.
	rescueAfter time.Duration
}

type runWorker struct {
	river.WorkerDefaults[runJob]
	q *runQueue
}

// Work implements river.Worker.
func (w *runWorker) Work(ctx context.Context, job *river.Job[runJob]) error {
	work := w.q.work.Load()
	if work == nil {
		return river.JobSnooze(time.Second)
	}
	due, err := (*work)(ctx, job.Args.RunID)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// Shutting down: offer the run again at once, without
			// spending an attempt.
			return river.JobSnooze(0)
		}
		return err
	}
	if due != nil {
		return river.JobSnooze(max(0, time.Until(*due)))
	}
	return nil
}

// newRunQueue makes the River client (started later, by StartRuns).
func (s *Store) newRunQueue(o Options) error {
	q := &runQueue{}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &runWorker{q: q}); err != nil {
		return err
	}
	timeout := o.JobTimeout
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	client, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{
		ID:                   s.node,
		Logger:               s.log,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(1, o.Workers)}},
		Workers:              workers,
		JobTimeout:           timeout,
		RescueStuckJobsAfter: timeout + rescueMargin,
		// Completed jobs are the runs' history's, which the store keeps:
		// River need not keep them long.
		CompletedJobRetentionPeriod: time.Hour,
	})
	if err != nil {
		return fmt.Errorf("pgstore: river: %w", err)
	}
	q.client, q.rescueAfter = client, timeout+rescueMargin
	s.queue = q
	return nil
}

// enqueue inserts the job that works run id, due at due, in tx.
func (s *Store) enqueue(ctx context.Context, tx pgx.Tx, id string, due time.Time) error {
	job := runJobParams(id, due)
	_, err := s.queue.client.InsertTx(ctx, tx, job.Args, job.InsertOpts)
	return err
}

// runJobParams is the job that works run id, due at due.
func runJobParams(id string, due time.Time) river.InsertManyParams {
	var opts *river.InsertOpts
	if !due.IsZero() && due.After(time.Now()) {
		opts = &river.InsertOpts{ScheduledAt: due}
	}
	return river.InsertManyParams{Args: runJob{RunID: id}, InsertOpts: opts}
}

// RescueAfter is how long after a node died its runs are taken up by
// another: River's rescue delay; its rescuer looks every 30 s besides.
func (s *Store) RescueAfter() time.Duration {
	return s.queue.rescueAfter
}

// StartRuns implements engine.RunQueue.
func (s *Store) StartRuns(ctx context.Context, work engine.RunWork) error {
	s.queue.work.Store(&work)
	if err := s.queue.client.Start(ctx); err != nil {
		return fmt.Errorf("pgstore: start river: %w", err)
	}
	s.queue.started.Store(true)
	return nil
}

// StopRuns implements engine.RunQueue.
func (s *Store) StopRuns(ctx context.Context) error {
	return s.queue.stop(ctx)
}

func (q *runQueue) stop(ctx context.Context) error {
	q.stopMu.Lock()
	defer q.stopMu.Unlock()
	if !q.started.Load() {
		return nil
	}
	q.started.Store(false)
	if err := q.client.Stop(ctx); err != nil {
		// Out of time: cancel the work in hand; River offers it again.
		return q.client.StopAndCancel(context.Background())
	}
	return nil
}

// CountPending implements engine.RunQueue.
func (s *Store) CountPending(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sy_runs WHERE NOT final`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count pending runs: %w", unavailable(err))
	}
	return n, nil
}

// QueueStats are the River queue's gauges.
type QueueStats struct {
	Available, Running, Scheduled, Retryable int64
}

// QueueStats counts the jobs of the run queue by state.
func (s *Store) QueueStats(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	rows, err := s.pool.Query(ctx, `SELECT state::text, count(*) FROM river_job WHERE state IN ('available', 'running', 'scheduled', 'retryable') GROUP BY state`)
	if err != nil {
		return st, unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return st, err
		}
		switch state {
		case "available":
			st.Available = n
		case "running":
			st.Running = n
		case "scheduled":
			st.Scheduled = n
		case "retryable":
			st.Retryable = n
		}
	}
	return st, rows.Err()
}

var _ engine.RunQueue = (*Store)(nil)
