package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
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
	// seq hands out run (and event) keys without a transaction, so that
	// records are encoded before they join a group commit.
	seq    atomic.Uint64
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
		// Map a large address range up front: remapping blocks every
		// reader and writer while the file grows.
		InitialMmapSize: 1 << 30,
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
	err = db.View(func(tx *bolt.Tx) error {
		// Start after every key in use: older data dirs numbered events
		// and runs with bucket sequences.
		last := max(appendBucket(tx, bucketRuns).Sequence(), appendBucket(tx, bucketEvents).Sequence())
		for _, b := range [][]byte{bucketRunIndex, bucketEvents, bucketRuns} {
			if k, _ := tx.Bucket(b).Cursor().Last(); k != nil {
				last = max(last, seqOf(k))
			}
		}
		s.seq.Store(last)
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: read sequences: %w", err)
	}
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
	failed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, op := range batch {
			if errs[i] = op.fn(tx); errs[i] != nil {
				failed = true
			}
		}
		if failed && len(batch) > 1 {
			// A write that failed may have written part of itself before
			// failing; throw the whole group away and give each write a
			// transaction of its own, so one bad write neither poisons the
			// others nor leaves half of itself behind.
			return errRetrySeparately
		}
		if failed {
			return errs[0]
		}
		return nil
	})
	if errors.Is(err, errRetrySeparately) {
		for _, op := range batch {
			op.errc <- s.db.Update(op.fn)
		}
		return
	}
	for i, op := range batch {
		switch {
		case errs[i] != nil:
			op.errc <- errs[i]
		default:
			op.errc <- err
		}
	}
}

// errRetrySeparately rolls back a group in which some write failed.
var errRetrySeparately = errors.New("store: group rolled back to retry writes separately")

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

// Accept implements Store. The event takes the key of the run it starts, and
// a run gets no record of its own until its first checkpoint: its index
// entry holds all a queued run needs. Everything is encoded before the
// write joins the group, so the committer only copies bytes.
func (s *BoltStore) Accept(ctx context.Context, ev *Event, run *Run, window time.Duration) (AcceptResult, error) {
	seq := s.seq.Add(1)
	key := seqKey(seq)
	e, r := *ev, *run
	e.ID = formatID(eventIDPrefix, seq)
	r.ID, r.EventID = formatID(runIDPrefix, seq), e.ID
	evData, err := json.Marshal(&e)
	if err != nil {
		return AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, err)
	}
	sum := r.Summary()
	idxData, err := encodeIndex(&sum)
	if err != nil {
		return AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, err)
	}
	var dkey, dval []byte
	if e.DedupeKey != "" {
		dkey = compositeKey(e.FlowID, []byte(e.DedupeKey))
		dval, _ = json.Marshal(dedupeEntry{RunID: r.ID, Expires: e.ReceivedAt.Add(window)})
	}
	var res AcceptResult
	err = s.write(ctx, func(tx *bolt.Tx) error {
		res = AcceptResult{RunID: r.ID, EventID: e.ID}
		if dkey != nil {
			var d dedupeEntry
			if err := getJSON(tx.Bucket(bucketDedupe), dkey, &d); err == nil && d.Expires.After(e.ReceivedAt) {
				res = AcceptResult{RunID: d.RunID, Duplicate: true}
				return nil
			}
		}
		if err := putIndexed(tx, key, r.FlowID, idxData, dueOf(&r), nil); err != nil {
			return err
		}
		if err := appendBucket(tx, bucketEvents).Put(key, evData); err != nil {
			return err
		}
		if dkey != nil {
			return tx.Bucket(bucketDedupe).Put(dkey, dval)
		}
		return nil
	})
	if err != nil {
		return AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, err)
	}
	if !res.Duplicate {
		ev.ID, run.ID, run.EventID = e.ID, r.ID, e.ID
	}
	return res, nil
}

// putIndexed writes a new run's index, flow index and queue entry, and its
// full record when there is one.
// appendFill is the fill of pages split in buckets whose keys only grow
// (sequence keys): bbolt's default of one half would leave every page
// half empty forever, doubling the file and the pages each commit writes.
const appendFill = 0.9

// appendBucket returns a time-ordered bucket set up for appends.
func appendBucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = appendFill
	return b
}

func putIndexed(tx *bolt.Tx, key []byte, flowID string, idx []byte, due time.Time, record []byte) error {
	if record != nil {
		if err := appendBucket(tx, bucketRuns).Put(key, record); err != nil {
			return err
		}
	}
	if err := appendBucket(tx, bucketRunIndex).Put(key, idx); err != nil {
		return err
	}
	if err := appendBucket(tx, bucketRunsByFlow).Put(compositeKey(flowID, key), nil); err != nil {
		return err
	}
	if !indexFinal(idx) {
		return tx.Bucket(bucketQueue).Put(queueKey(due, key), nil)
	}
	return nil
}

// putNewRun assigns run an ID and writes it (record, indexes, queue entry).
// A run for an event that another run started (retry, replay) is linked to
// the event so that retention keeps the event while the run exists.
func (s *BoltStore) putNewRun(tx *bolt.Tx, r *Run, linkEvent bool) ([]byte, error) {
	key := seqKey(s.seq.Add(1))
	r.ID = formatID(runIDPrefix, seqOf(key))
	record, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	sum := r.Summary()
	idx, err := encodeIndex(&sum)
	if err != nil {
		return nil, err
	}
	if err := putIndexed(tx, key, r.FlowID, idx, dueOf(r), record); err != nil {
		return nil, err
	}
	if linkEvent {
		if err := tx.Bucket(bucketEventRuns).Put(append(mustKey(eventIDPrefix, r.EventID), key...), nil); err != nil {
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
		if appendBucket(tx, bucketEvents).Get(mustKey(eventIDPrefix, r.EventID)) == nil {
			return fmt.Errorf("event %s: %w", r.EventID, ErrNotFound)
		}
		_, err := s.putNewRun(tx, &r, true)
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
	idxData, err := encodeIndex(&sum)
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		idx := appendBucket(tx, bucketRunIndex)
		old := idx.Get(key)
		if old == nil {
			return ErrNotFound
		}
		if indexFinal(old) {
			return ErrRunFinal
		}
		q := tx.Bucket(bucketQueue)
		if err := q.Delete(queueKey(indexDue(old), key)); err != nil {
			return err
		}
		if !sum.Status.Final() {
			if err := q.Put(queueKey(dueOf(run), key), nil); err != nil {
				return err
			}
		}
		if err := appendBucket(tx, bucketRuns).Put(key, data); err != nil {
			return err
		}
		return idx.Put(key, idxData)
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
	var r *Run
	err = s.db.View(func(tx *bolt.Tx) error {
		if data := appendBucket(tx, bucketRuns).Get(key); data != nil {
			r = &Run{}
			return json.Unmarshal(data, r)
		}
		var sum RunSummary
		if err := decodeIndex(appendBucket(tx, bucketRunIndex).Get(key), &sum); err != nil {
			return ErrNotFound
		}
		r = sum.run()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: run %s: %w", id, err)
	}
	return r, nil
}

// Event implements Store.
func (s *BoltStore) Event(ctx context.Context, id string) (*Event, error) {
	key, err := parseID(eventIDPrefix, id)
	if err != nil {
		return nil, fmt.Errorf("store: event: %w", err)
	}
	var e Event
	err = s.db.View(func(tx *bolt.Tx) error { return getJSON(appendBucket(tx, bucketEvents), key, &e) })
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
		idx := appendBucket(tx, bucketRunIndex)
		// next yields run keys newest first with their index values.
		var next func() ([]byte, []byte)
		if f.FlowID != "" {
			walk := newIndexWalker(tx)
			prefix := compositeKey(f.FlowID, nil)
			c := appendBucket(tx, bucketRunsByFlow).Cursor()
			var k []byte
			first := true
			next = func() ([]byte, []byte) {
				if first {
					first = false
					if start != nil {
						if k, _ = c.Seek(compositeKey(f.FlowID, start)); k == nil {
							k, _ = c.Last()
						} else {
							k, _ = c.Prev()
						}
					} else {
						k, _ = lastUnder(c, prefix)
					}
				} else {
					k, _ = c.Prev()
				}
				if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
					return nil, nil
				}
				return k[len(prefix):], walk.get(k[len(prefix):])
			}
		} else {
			c := idx.Cursor()
			var k, v []byte
			first := true
			next = func() ([]byte, []byte) {
				if first {
					first = false
					if start != nil {
						k, _ = c.Seek(start)
						if k == nil {
							k, v = c.Last()
						} else {
							k, v = c.Prev()
						}
					} else {
						k, v = c.Last()
					}
				} else {
					k, v = c.Prev()
				}
				return k, v
			}
		}
		var until, since int64
		if !f.Until.IsZero() {
			until = f.Until.UnixNano()
		}
		if !f.Since.IsZero() {
			since = f.Since.UnixNano()
		}
		wantStatus := runStatusCodes[f.Status]
		for k, v := next(); k != nil; k, v = next() {
			// The header holds creation time and status: entries the filter
			// drops are never decoded, so a rare status or a narrow period
			// costs a key walk, not a JSON decode per run.
			if created, status, ok := indexHeader(v); ok && created != 0 {
				if until != 0 && created >= until {
					continue
				}
				if since != 0 && created < since {
					break // newest first: everything further is older still
				}
				if wantStatus != 0 && status != 0 && status != wantStatus {
					continue
				}
			}
			var sum RunSummary
			if err := decodeIndex(v, &sum); err != nil {
				continue // a damaged entry: skip rather than fail a listing
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
		c := appendBucket(tx, bucketRunIndex).Cursor()
		for k, v := c.First(); k != nil && len(victims) < limit; k, v = c.Next() {
			var sum RunSummary
			if decodeIndex(v, &sum) != nil {
				continue
			}
			if !sum.CreatedAt.Before(t) {
				break
			}
			if !sum.Status.Final() {
				continue
			}
			victims = append(victims, victim{key: bytes.Clone(k), flowID: sum.FlowID, event: mustKey(eventIDPrefix, sum.EventID)})
		}
		return nil
	})
	if err != nil || len(victims) == 0 {
		return 0, err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		for _, v := range victims {
			for _, b := range [][]byte{bucketRuns, bucketRunIndex} {
				if err := tx.Bucket(b).Delete(v.key); err != nil {
					return err
				}
			}
			if err := appendBucket(tx, bucketRunsByFlow).Delete(compositeKey(v.flowID, v.key)); err != nil {
				return err
			}
			// The event goes with the last run that needs it: its first run
			// (whose key it shares) and every retry or replay linked to it.
			er := tx.Bucket(bucketEventRuns)
			if err := er.Delete(append(bytes.Clone(v.event), v.key...)); err != nil {
				return err
			}
			linked, _ := er.Cursor().Seek(v.event)
			stillLinked := linked != nil && bytes.HasPrefix(linked, v.event)
			firstAlive := appendBucket(tx, bucketRunIndex).Get(v.event) != nil
			if !stillLinked && !firstAlive {
				if err := appendBucket(tx, bucketEvents).Delete(v.event); err != nil {
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

func seqOf(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}
