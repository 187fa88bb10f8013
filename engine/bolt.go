package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DBFileName is the database file inside the data directory.
const DBFileName = "switchyard.db"

// maxGroup caps how many writes share one transaction, so one commit never
// grows without bound under a flood.
const maxGroup = 1024

// BoltStore is the Store kept in one bbolt file. All writes go through a
// single committer goroutine that folds whatever writes are waiting into one
// transaction and one fsync (group commit): a lone writer pays no added
// delay, and throughput grows with concurrency.
type BoltStore struct {
	db     *bolt.DB
	writes chan writeOp
	done   chan struct{}
}

// writeOp is one write waiting for the committer. fn must either fail
// before writing anything or succeed; it runs inside a shared transaction.
type writeOp struct {
	fn   func(tx *bolt.Tx) error
	errc chan error
}

// OpenBolt opens (or creates) the database in dir. When another process
// holds it, OpenBolt gives up after lockWait with ErrLocked naming the file.
func OpenBolt(dir string, lockWait time.Duration) (*BoltStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path := filepath.Join(dir, DBFileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockWait,
		// The freelist is rebuilt on open instead of written on every
		// commit: fewer pages per fsync on the hot ingest path.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w (lock held on %s; is another switchyard running on this data dir?)", path, ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init buckets: %w", err)
	}
	s := &BoltStore{db: db, writes: make(chan writeOp, maxGroup), done: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

// Close stops the committer and closes the file.
func (s *BoltStore) Close() error {
	close(s.writes)
	<-s.done
	return s.db.Close()
}

func (s *BoltStore) commitLoop() {
	defer close(s.done)
	batch := make([]writeOp, 0, maxGroup)
	for op := range s.writes {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < maxGroup {
			select {
			case more, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

func (s *BoltStore) commit(batch []writeOp) {
	errs := make([]error, len(batch))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, op := range batch {
			errs[i] = op.fn(tx)
		}
		return nil
	})
	for i, op := range batch {
		if err != nil {
			op.errc <- err
		} else {
			op.errc <- errs[i]
		}
	}
}

// write runs fn in the next group commit and returns once it is durable.
func (s *BoltStore) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	op := writeOp{fn: fn, errc: make(chan error, 1)}
	select {
	case s.writes <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the write will happen; wait for it even if ctx ends so
	// the caller never reports failure for data that reached the disk.
	return <-op.errc
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

// Accept implements Store.
func (s *BoltStore) Accept(ctx context.Context, ev *Event, run *Run, window time.Duration) (AcceptResult, error) {
	var res AcceptResult
	evCopy, runCopy := *ev, *run
	err := s.write(ctx, func(tx *bolt.Tx) error {
		res = AcceptResult{}
		var dkey []byte
		if evCopy.DedupeKey != "" {
			dkey = compositeKey(evCopy.FlowID, []byte(evCopy.DedupeKey))
			var d dedupeEntry
			if err := getJSON(tx.Bucket(bucketDedupe), dkey, &d); err == nil && d.Expires.After(evCopy.ReceivedAt) {
				res = AcceptResult{RunID: d.RunID, Duplicate: true}
				return nil
			}
		}
		evs := tx.Bucket(bucketEvents)
		evSeq, err := evs.NextSequence()
		if err != nil {
			return err
		}
		e := evCopy
		e.ID = formatID(eventIDPrefix, evSeq)
		r := runCopy
		r.EventID = e.ID
		if _, err := s.putNewRun(tx, &r); err != nil {
			return err
		}
		if err := putJSON(evs, seqKey(evSeq), &e); err != nil {
			return err
		}
		if dkey != nil {
			if err := putJSON(tx.Bucket(bucketDedupe), dkey, dedupeEntry{RunID: r.ID, Expires: e.ReceivedAt.Add(window)}); err != nil {
				return err
			}
		}
		res = AcceptResult{RunID: r.ID, EventID: e.ID}
		return nil
	})
	if err != nil {
		return AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, err)
	}
	if !res.Duplicate {
		ev.ID, run.ID, run.EventID = res.EventID, res.RunID, res.EventID
	}
	return res, nil
}

// putNewRun assigns run an ID and writes it with its index, flow index and
// queue entry.
func (s *BoltStore) putNewRun(tx *bolt.Tx, r *Run) ([]byte, error) {
	runs := tx.Bucket(bucketRuns)
	seq, err := runs.NextSequence()
	if err != nil {
		return nil, err
	}
	key := seqKey(seq)
	r.ID = formatID(runIDPrefix, seq)
	if err := putJSON(runs, key, r); err != nil {
		return nil, err
	}
	if err := putJSON(tx.Bucket(bucketRunIndex), key, r.Summary()); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketRunsByFlow).Put(compositeKey(r.FlowID, key), nil); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketEventRuns).Put(append(mustKey(eventIDPrefix, r.EventID), key...), nil); err != nil {
		return nil, err
	}
	if !r.Status.Final() {
		if err := tx.Bucket(bucketQueue).Put(queueKey(dueOf(r), key), nil); err != nil {
			return nil, err
		}
	}
	return key, nil
}

func dueOf(r *Run) time.Time {
	if r.DueAt == nil {
		return time.Time{}
	}
	return *r.DueAt
}

// AddRun implements Store.
func (s *BoltStore) AddRun(ctx context.Context, run *Run) error {
	r := *run
	err := s.write(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEvents).Get(mustKey(eventIDPrefix, r.EventID)) == nil {
			return fmt.Errorf("event %s: %w", r.EventID, ErrNotFound)
		}
		_, err := s.putNewRun(tx, &r)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: add run for event %s: %w", run.EventID, err)
	}
	run.ID = r.ID
	return nil
}

// mustKey parses an ID the caller produced; a malformed one maps to a key
// that matches nothing.
func mustKey(prefix, id string) []byte {
	k, err := parseID(prefix, id)
	if err != nil {
		return []byte{0xff}
	}
	return k
}

// SaveRun implements Store.
func (s *BoltStore) SaveRun(ctx context.Context, run *Run) error {
	key, err := parseID(runIDPrefix, run.ID)
	if err != nil {
		return fmt.Errorf("store: save run: %w", err)
	}
	data, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	sum := run.Summary()
	sumData, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRunIndex)
		var old RunSummary
		if err := getJSON(idx, key, &old); err != nil {
			return err
		}
		if old.Status.Final() {
			return ErrRunFinal
		}
		q := tx.Bucket(bucketQueue)
		oldDue := time.Time{}
		if old.DueAt != nil {
			oldDue = *old.DueAt
		}
		if err := q.Delete(queueKey(oldDue, key)); err != nil {
			return err
		}
		if !sum.Status.Final() {
			if err := q.Put(queueKey(dueOf(run), key), nil); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketRuns).Put(key, data); err != nil {
			return err
		}
		return idx.Put(key, sumData)
	})
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	return nil
}

// Run implements Store.
func (s *BoltStore) Run(ctx context.Context, id string) (*Run, error) {
	key, err := parseID(runIDPrefix, id)
	if err != nil {
		return nil, fmt.Errorf("store: run: %w", err)
	}
	var r Run
	err = s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketRuns), key, &r) })
	if err != nil {
		return nil, fmt.Errorf("store: run %s: %w", id, err)
	}
	return &r, nil
}

// Event implements Store.
func (s *BoltStore) Event(ctx context.Context, id string) (*Event, error) {
	key, err := parseID(eventIDPrefix, id)
	if err != nil {
		return nil, fmt.Errorf("store: event: %w", err)
	}
	var e Event
	err = s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketEvents), key, &e) })
	if err != nil {
		return nil, fmt.Errorf("store: event %s: %w", id, err)
	}
	return &e, nil
}

// ListRuns implements Store.
func (s *BoltStore) ListRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 500 {
		limit = 500
	}
	var start []byte // exclusive upper bound (a run key), nil = from the newest
	if f.Cursor != "" {
		k, err := parseID(runIDPrefix, f.Cursor)
		if err != nil {
			return RunPage{}, fmt.Errorf("store: list runs: cursor: %w", err)
		}
		start = k
	}
	page := RunPage{Runs: []RunSummary{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRunIndex)
		// next yields run keys newest first.
		var next func() []byte
		if f.FlowID != "" {
			prefix := compositeKey(f.FlowID, nil)
			c := tx.Bucket(bucketRunsByFlow).Cursor()
			var k []byte
			first := true
			next = func() []byte {
				if first {
					first = false
					if start != nil {
						k, _ = c.Seek(compositeKey(f.FlowID, start))
					} else {
						// Position just past the prefix, then step back.
						k, _ = c.Seek(append(append([]byte{}, prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
					}
					if k == nil {
						k, _ = c.Last()
					} else {
						k, _ = c.Prev()
					}
				} else {
					k, _ = c.Prev()
				}
				if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
					return nil
				}
				return k[len(prefix):]
			}
		} else {
			c := idx.Cursor()
			var k []byte
			first := true
			next = func() []byte {
				if first {
					first = false
					if start != nil {
						k, _ = c.Seek(start)
						if k == nil {
							k, _ = c.Last()
						} else {
							k, _ = c.Prev()
						}
					} else {
						k, _ = c.Last()
					}
				} else {
					k, _ = c.Prev()
				}
				return k
			}
		}
		for k := next(); k != nil; k = next() {
			var sum RunSummary
			if err := getJSON(idx, k, &sum); err != nil {
				continue // index entry without a run: skip rather than fail a listing
			}
			if !f.Until.IsZero() && !sum.CreatedAt.Before(f.Until) {
				continue
			}
			if !f.Since.IsZero() && sum.CreatedAt.Before(f.Since) {
				break // newest first: everything further is older still
			}
			if f.Status != "" && sum.Status != f.Status {
				continue
			}
			if len(page.Runs) == limit {
				page.NextCursor = page.Runs[len(page.Runs)-1].ID
				break
			}
			page.Runs = append(page.Runs, sum)
		}
		return nil
	})
	if err != nil {
		return RunPage{}, fmt.Errorf("store: list runs: %w", err)
	}
	return page, nil
}

// Pending implements Store.
func (s *BoltStore) Pending(ctx context.Context) ([]QueueItem, error) {
	var out []QueueItem
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
			due, seq := decodeQueueKey(k)
			out = append(out, QueueItem{RunID: formatID(runIDPrefix, seq), Due: due})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending runs: %w", err)
	}
	return out, nil
}

// PurgeDedupe implements Store.
func (s *BoltStore) PurgeDedupe(ctx context.Context, now time.Time) (int, error) {
	var stale [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDedupe).ForEach(func(k, v []byte) error {
			var d dedupeEntry
			if json.Unmarshal(v, &d) == nil && !d.Expires.After(now) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDedupe)
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge dedupe: %w", err)
	}
	return len(stale), nil
}

// DeleteRunsBefore implements Store.
func (s *BoltStore) DeleteRunsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	type victim struct {
		key    []byte
		flowID string
		event  []byte
	}
	var victims []victim
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRunIndex).Cursor()
		runs := tx.Bucket(bucketRuns)
		for k, v := c.First(); k != nil && len(victims) < limit; k, v = c.Next() {
			var sum RunSummary
			if json.Unmarshal(v, &sum) != nil {
				continue
			}
			if !sum.CreatedAt.Before(t) {
				break
			}
			if !sum.Status.Final() {
				continue
			}
			var r struct {
				EventID string `json:"event_id"`
			}
			if err := getJSON(runs, k, &r); err != nil {
				continue
			}
			victims = append(victims, victim{key: bytes.Clone(k), flowID: sum.FlowID, event: mustKey(eventIDPrefix, r.EventID)})
		}
		return nil
	})
	if err != nil || len(victims) == 0 {
		return 0, err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		for _, v := range victims {
			if err := tx.Bucket(bucketRuns).Delete(v.key); err != nil {
				return err
			}
			if err := tx.Bucket(bucketRunIndex).Delete(v.key); err != nil {
				return err
			}
			if err := tx.Bucket(bucketRunsByFlow).Delete(compositeKey(v.flowID, v.key)); err != nil {
				return err
			}
			// Retries and replays share an event with the run they came
			// from: the event goes with the last run that points at it.
			er := tx.Bucket(bucketEventRuns)
			if err := er.Delete(append(bytes.Clone(v.event), v.key...)); err != nil {
				return err
			}
			if k, _ := er.Cursor().Seek(v.event); k == nil || !bytes.HasPrefix(k, v.event) {
				if err := tx.Bucket(bucketEvents).Delete(v.event); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete old runs: %w", err)
	}
	return len(victims), nil
}
