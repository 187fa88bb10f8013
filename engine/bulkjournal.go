package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/fsutil"
)

// BulkJournalFile is the file in the data dir that keeps the bulk actions
// not yet carried out (Config.BulkJournal).
const BulkJournalFile = "bulk.pending"

// bulkProgressEvery is how often a bulk action notes how far it got: a
// note per run would cost a sync per run at bulkRate. The runs started
// since the last note are found again at the next start and left out
// (acted), so that none is retried or replayed twice.
const bulkProgressEvery = time.Second

// bulkJob is a bulk action queued or under way: what is left of it. It is
// what the bulk journal keeps.
type bulkJob struct {
	Action string   `json:"action"`
	RunIDs []string `json:"run_ids"`
	// Started is when the action was started: the runs it made are no
	// older, which tells them from earlier retries and replays.
	Started time.Time `json:"started"`
}

// bulkJournal keeps the queued and unfinished bulk actions in a file, so
// that an action cut short by a stop or a crash resumes when the engine
// starts again. It is rewritten whole (a new file renamed over the old),
// when an action is queued, every bulkProgressEvery while one runs, and
// when one ends.
type bulkJournal struct {
	path string
	mu   sync.Mutex
	jobs []*bulkJob
}

type bulkJournalFile struct {
	Actions []*bulkJob `json:"actions"`
}

// openBulkJournal reads the actions left at path (none when it does not
// exist).
func openBulkJournal(path string) (*bulkJournal, error) {
	j := &bulkJournal{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("engine: read bulk journal: %w", err)
	}
	var f bulkJournalFile
	if err := json.Unmarshal(b, &f); err != nil {
		// Damaged (not a torn write: the file is replaced whole): the
		// actions in it are lost, which the log says; the engine starts.
		return j, fmt.Errorf("%w: %w", errBulkJournalDamaged, err)
	}
	j.jobs = f.Actions
	return j, nil
}

var errBulkJournalDamaged = errors.New("engine: bulk journal damaged")

// add notes a queued action.
func (j *bulkJournal) add(job *bulkJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = append(j.jobs, job)
	if err := j.save(); err != nil {
		j.jobs = j.jobs[:len(j.jobs)-1]
		return err
	}
	return nil
}

// progress notes that only left of job's runs are still to act on.
func (j *bulkJournal) progress(job *bulkJob, left []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	job.RunIDs = left
	return j.save()
}

// remove forgets a finished (or refused) action.
func (j *bulkJournal) remove(job *bulkJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = slices.DeleteFunc(j.jobs, func(x *bulkJob) bool { return x == job })
	return j.save()
}

// save writes the journal whole (fsutil.WriteFileAtomic); no file when
// nothing is left.
func (j *bulkJournal) save() error {
	if len(j.jobs) == 0 {
		if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("engine: bulk journal: %w", err)
		}
		return fsutil.SyncDir(filepath.Dir(j.path))
	}
	b, err := json.Marshal(bulkJournalFile{Actions: j.jobs})
	if err == nil {
		err = fsutil.WriteFileAtomic(j.path, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("engine: bulk journal: %w", err)
	}
	return nil
}

// resumeBulk queues again the actions a stop or crash cut short, without
// the runs they had already acted on (acted).
func (e *Engine) resumeBulk(ctx context.Context) error {
	for _, job := range e.bulkJournal.jobs {
		left := make([]string, 0, len(job.RunIDs))
		for _, id := range job.RunIDs {
			done, err := e.acted(ctx, job, id)
			if err != nil {
				return fmt.Errorf("engine: resume bulk actions: %w", err)
			}
			if !done {
				left = append(left, id)
			}
		}
		e.log.Info("bulk action resumed", "action", job.Action, "runs", len(left), "already_done", len(job.RunIDs)-len(left))
		if err := e.bulkJournal.progress(job, left); err != nil {
			return err
		}
		select {
		case e.bulk.jobs <- job:
		default:
			// More than the queue holds can only come from a journal
			// of another build; the rest waits for the next start.
			e.log.Warn("bulk action not resumed: the queue is full", "action", job.Action)
		}
	}
	return nil
}

// acted reports whether job already retried or replayed run id: a retry
// or replay of it exists that is no older than the action.
func (e *Engine) acted(ctx context.Context, job *bulkJob, id string) (bool, error) {
	links, err := e.RunLinks(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return true, nil // gone (retention): nothing to act on
	}
	if err != nil {
		return false, err
	}
	made := links.RetriedBy
	if job.Action == BulkReplay {
		made = links.ReplayedBy
	}
	for _, m := range made {
		r, err := e.store.Run(ctx, m)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if !r.CreatedAt.Before(job.Started) {
			return true, nil
		}
	}
	return false, nil
}
