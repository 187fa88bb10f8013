// Package boltstore is Switchyard's embedded store: one bbolt file fronted
// by a write-ahead log (package wal), with its bucket layout and key encoders
// in boltkeys.go. It implements the store interfaces the engine and auth
// declare; only cmd/switchyard picks it.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore/wal"
)

// DBFileName is the database file inside the data directory.
const DBFileName = "switchyard.db"

// maxGroup caps how many writes share one log append, so one group never
// grows without bound under a flood.
const maxGroup = 1024

// maxGroupBytes stops a group from taking more writes once their records
// reach it (webhook bodies may be large): it bounds one pwrite and the
// buffer the logger keeps.
const maxGroupBytes = 8 << 20

// maxApply caps how many writes share one bbolt transaction. bbolt's cost
// per transaction (reading the touched pages into nodes, writing them back,
// two fdatasyncs) is large next to its cost per key, so the applier takes
// everything that waits, up to this many.
const maxApply = 8192

// applyBacklog is how many logged groups may wait for the applier before
// the logger waits too, which slows acknowledgements down to the pace at
// which bbolt takes the writes.
const applyBacklog = 64

// walAppliedMeta is the meta key of the newest log record bbolt holds.
var walAppliedMeta = []byte("\x00wal_applied")

// Store is the engine.Store kept in one bbolt file, fronted by a write-ahead
// log (package wal).
//
// Every write passes two goroutines in order. The logger takes the writes
// waiting for it as one group: it appends the logged ones (webhook ingest,
// run checkpoints) to the log with one fdatasync and answers them, then
// hands the whole group to the applier. The applier runs everything waiting
// for it in one bbolt transaction, records the newest LSN applied in the
// same transaction, and answers the other writes, whose callers need what
// bbolt checks (flows, connections, ticks, ...). Reads of what logged
// writes change (runs, events, the queue) wait until the applier has
// caught up with every logged write already answered, so a caller always
// reads what it wrote (viewRuns); other reads need not wait (view).
type Store struct {
	// seq hands out run (and event) keys without a transaction, so that
	// records are encoded before they join a group.
	seq atomic.Uint64
	// db is replaced by a compaction (compact.go), under dbMu, on the
	// applier: readers take it under dbMu's read lock.
	db     *bolt.DB
	dbMu   sync.RWMutex
	dir    string
	log    *wal.Log
	writes chan *writeOp
	applyq chan []*writeOp
	done   chan struct{}

	nextLSN uint64 // the logger's
	durable atomic.Uint64
	applied atomic.Uint64
	applyMu sync.Mutex
	applyCV *sync.Cond
	closed  bool // guarded by applyMu: no more applies will come
	// readers counts reads waiting for the applier; kick wakes it.
	readers atomic.Int32
	kick    chan struct{}

	open openRuns
	// trimStop ends trimLoop (maptrim.go), which closes trimDone.
	trimStop, trimDone chan struct{}
	// applyErrors counts failed attempts to apply a logged write alone
	// (see applyOne); closing makes the applier give up instead of retry,
	// and gaveUp, once it did, keeps it from applying anything after.
	applyErrors atomic.Int64
	closing     atomic.Bool
	// faulted is set once reading the mapped file faulted inside a write
	// transaction (update): bbolt's rollback then reads the file too,
	// faults again, and leaves its writer lock held, so no write
	// transaction may begin (it would wait for ever) and Close must not
	// close the database (it takes the same lock).
	faulted atomic.Bool
	gaveUp  bool // owned by the applier
	// stuck is set while bbolt refuses a logged write (bolt_apply.go);
	// backlog and backlogBytes count the logged writes acknowledged and
	// not yet applied, which may reach backlogMax and backlogMaxBytes
	// while it is stuck.
	stuck                       atomic.Pointer[applyStuck]
	readWait                    time.Duration
	backlog, backlogBytes       atomic.Int64
	backlogMax, backlogMaxBytes int64
	// The applier's own: when it last logged being stuck, whether it did
	// for this time, and the logged writes it held back meanwhile.
	stuckLogged   time.Time
	stuckReported bool
	stash         []*writeOp
	// The logger's own: since when the log cannot be written, when that
	// was last logged, and whether it was for this failure.
	logFailSince, logFailLogged time.Time
	logFailReported             bool
	// applyFault, when a test sets it, runs at the end of every
	// transaction of the applier; an error fails the transaction, as a
	// failing disk under bbolt would (see faults_testhooks.go).
	applyFault func() error
	// holdApply, when a test sets it, is received from before every bbolt
	// transaction of the applier: writes then stay in the log only, as
	// after a crash.
	holdApply chan struct{}
	// afterKVWrite, when a test sets it, runs after each named data store
	// write committed (faults_testhooks.go).
	afterKVWrite func()
	// saveRunDelay, when a test sets it, holds every run checkpoint back
	// that long before it is written.
	saveRunDelay time.Duration

	logger *slog.Logger
	// idx is the background search indexer (bolt_search.go).
	idx *indexer
	// recovery is what the replay at open did (Recover reports it).
	recovery *RecoveryReport
}

// writeOp is one write waiting for the logger. fn must either fail before
// writing anything or succeed; it runs inside a shared transaction. A
// logged write has rec set: it is answered once rec is in the log, and fn
// must not fail but for bbolt's own errors.
type writeOp struct {
	fn   func(tx *bolt.Tx) error
	rec  []byte
	lsn  uint64
	errc chan error
	// accept and save are set on logged ingest and checkpoints, so that
	// the applier can fold a run's ingest and final checkpoint together.
	accept *acceptRecord
	save   *saveRecord
	// exclusive, when set, runs on the applier between two transactions
	// while the logger goes on (runExclusive): a compaction.
	exclusive func() error
}

// openRuns are the runs that are not final, by sequence: SaveRun checks
// them instead of bbolt, which may not hold the newest checkpoints yet.
type openRuns struct {
	mu sync.Mutex
	m  map[uint64]struct{}
}

func (o *openRuns) add(seq uint64) {
	o.mu.Lock()
	o.m[seq] = struct{}{}
	o.mu.Unlock()
}

// claim reports whether seq is open, and closes it when final.
func (o *openRuns) claim(seq uint64, final bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.m[seq]
	if ok && final {
		delete(o.m, seq)
	}
	return ok
}

func (o *openRuns) remove(seq uint64) {
	o.mu.Lock()
	delete(o.m, seq)
	o.mu.Unlock()
}

// Options are the settings of OpenWith.
type Options struct {
	// LockWait is how long to wait while another process holds the
	// database before giving up with ErrLocked; 0 waits for ever.
	LockWait time.Duration
	// Logger receives what the store reports on its own (the database
	// refusing writes, a recovered panic); nil means slog.Default().
	Logger *slog.Logger
}

// Open opens (or creates) the database in dir. When another process
// holds it, Open gives up after lockWait with ErrLocked naming the file.
// Writes that were in the log but not yet in bbolt when the last process
// ended are applied before it returns. A damaged database file fails with
// a DatabaseDamageError (see boltcheck.go), a damaged log with a
// LogDamageError (see Recover).
func Open(dir string, lockWait time.Duration) (*Store, error) {
	return OpenWith(dir, Options{LockWait: lockWait})
}

// OpenWith is Open with more settings.
func OpenWith(dir string, o Options) (*Store, error) {
	return openBolt(dir, o, false)
}

// Recover salvages a damaged write-ahead log: it applies every intact
// record to the database, reading on after each damaged stretch at the
// next intact frame, moves the damaged segments aside (to wal-damaged/
// beside the log) and reports what was lost. On an intact log it only
// replays it, as an open would.
func Recover(dir string, lockWait time.Duration) (*RecoveryReport, error) {
	s, err := openBolt(dir, Options{LockWait: lockWait}, true)
	if err != nil {
		return nil, err
	}
	report := s.recovery
	if err := s.Close(); err != nil {
		return report, err
	}
	return report, nil
}

func openBolt(dir string, o Options, salvage bool) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path := filepath.Join(dir, DBFileName)
	db, err := openBoltFile(path, o.LockWait)
	var damaged *DatabaseDamageError
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w (lock held on %s; is another switchyard running on this data dir?)", path, engine.ErrLocked, path)
	}
	if errors.As(err, &damaged) {
		return nil, err // a paragraph for the operator, naming the file already
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Store{db: db, dir: dir, writes: make(chan *writeOp, maxGroup),
		applyq: make(chan []*writeOp, applyBacklog), done: make(chan struct{}),
		open: openRuns{m: map[uint64]struct{}{}}, kick: make(chan struct{}, 1), logger: log,
		backlogMax: backlogMax, backlogMaxBytes: backlogMaxBytes, readWait: readWait}
	s.applyCV = sync.NewCond(&s.applyMu)
	walDir := filepath.Join(dir, wal.DirName)
	nextSeg, err := s.load(path, walDir, salvage)
	if err != nil {
		db.Close()
		return nil, err
	}
	if s.log, err = wal.Create(walDir, nextSeg); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open write-ahead log: %w", err)
	}
	if installTestFaults != nil {
		installTestFaults(s)
	}
	go s.logLoop()
	go s.applyLoop()
	s.startIndexer()
	s.trimStop, s.trimDone = make(chan struct{}), make(chan struct{})
	go s.trimLoop(s.trimStop, s.trimDone)
	return s, nil
}

// load readies the store over its open file: the buckets, the replay of
// the log, the sequences and the open runs. Reading a damaged file can
// still make bbolt or a decoder panic or fault here: that ends as a
// DatabaseDamageError, not a crash.
func (s *Store) load(path, walDir string, salvage bool) (next uint64, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			next, err = 0, &DatabaseDamageError{Path: path, Reason: fmt.Sprintf("reading it failed: %v", r)}
		}
	}()
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %q: %w", b, err)
			}
		}
		return moveOldRefusals(tx)
	})
	if errors.Is(err, berrors.ErrIncompatibleValue) {
		return 0, &DatabaseDamageError{Path: path, Reason: err.Error()}
	}
	if err != nil {
		return 0, fmt.Errorf("store: init buckets: %w", err)
	}
	// Replay first: the sequences and open runs below must see every
	// write that was acknowledged.
	if next, err = s.replay(walDir, salvage); err != nil {
		return 0, err
	}
	if err := s.db.Update(buildResolutions); err != nil {
		return 0, fmt.Errorf("store: build the index of unresolved runs: %w", err)
	}
	if err := s.db.Update(buildFailedByFlow); err != nil {
		return 0, fmt.Errorf("store: build the index of failed runs by flow: %w", err)
	}
	if err := s.db.Update(buildSearch); err != nil {
		return 0, fmt.Errorf("store: mark runs for the search index: %w", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		// Start after every key in use: older data dirs numbered events
		// and runs with bucket sequences.
		last := max(appendBucket(tx, bucketRuns).Sequence(), appendBucket(tx, bucketEvents).Sequence())
		for _, b := range [][]byte{bucketRunIndex, bucketEvents, bucketRuns} {
			if k, _ := lastOf(tx.Bucket(b).Cursor()); k != nil {
				last = max(last, seqOf(k))
			}
		}
		s.seq.Store(last)
		// Every run that is not final has a queue entry.
		return tx.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
			_, seq := decodeQueueKey(k)
			s.open.m[seq] = struct{}{}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: read sequences: %w", err)
	}
	return next, nil
}

func setApplied(tx *bolt.Tx, lsn uint64) error {
	if lsn == 0 {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(walAppliedMeta, binary.BigEndian.AppendUint64(nil, lsn))
}

// Close stops taking writes, applies everything logged to bbolt, deletes
// the log and closes the file.
func (s *Store) Close() error {
	s.stopIndexer()
	s.closing.Store(true)
	close(s.trimStop)
	<-s.trimDone
	close(s.writes)
	<-s.done
	err := s.log.Close(s.applied.Load())
	if s.faulted.Load() {
		// The file stays open and locked until the process ends; what
		// was acknowledged is in the log for the next start.
		return errors.Join(err, fmt.Errorf("store: %s left open: %w (a read faulted while writing)", DBFileName, ErrDatabaseDamaged))
	}
	return errors.Join(err, s.db.Close())
}

// logLoop is the logger: it appends each group's logged writes to the log,
// answers them once the group is durable, and passes the group on.
func (s *Store) logLoop() {
	defer close(s.applyq)
	var frames []byte
	var voids []voidRecord // failed groups not yet voided in the log
	for op := range s.writes {
		batch := []*writeOp{op}
		groupBytes := len(op.rec)
	drain:
		for len(batch) < maxGroup && groupBytes < maxGroupBytes {
			select {
			case more, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, more)
				groupBytes += len(more.rec)
			default:
				break drain
			}
		}
		if st := s.stuck.Load(); st != nil {
			if batch = s.refuseWhileStuck(batch, st); len(batch) == 0 {
				continue
			}
		}
		size, logged, loggedBytes := 0, int64(0), int64(0)
		for _, op := range batch {
			if op.rec != nil {
				size += wal.FrameSize(len(op.rec))
				logged++
				loggedBytes += int64(len(op.rec))
			}
		}
		if size == 0 {
			s.applyq <- batch
			continue
		}
		for _, v := range voids {
			size += wal.FrameSize(len(v.encode()))
		}
		seg, err := s.log.Room(size)
		if err == nil {
			frames = frames[:0]
			lsn := s.nextLSN
			// A failed group voids its void records' LSNs too: every LSN
			// spent must be accounted for at replay (wal/replay.go).
			first := lsn + 1
			for _, v := range voids {
				lsn++
				frames = wal.AppendFrame(frames, seg, lsn, v.encode())
			}
			for _, op := range batch {
				if op.rec != nil {
					lsn++
					op.lsn = lsn
					frames = wal.AppendFrame(frames, seg, lsn, op.rec)
				}
			}
			// The LSNs are spent whatever happens next: a number that
			// may have reached the disk is never given to another record.
			s.nextLSN = lsn
			err = s.log.Append(frames, lsn)
			if cap(frames) > maxGroupBytes {
				frames = nil // a group of large bodies: do not keep its buffer
			}
			if err == nil {
				voids = voids[:0]
				s.durable.Store(lsn)
			} else if n := len(voids); n > 0 && voids[n-1].Last+1 >= first {
				// Consecutive failures void one range, not one each.
				voids[n-1].Last = lsn
			} else {
				voids = append(voids, voidRecord{wal.Void{First: first, Last: lsn}})
			}
		}
		if err != nil {
			err = fmt.Errorf("%w: %w", engine.ErrStoreUnavailable, err)
			// Not durable, so not acknowledged and not applied; the next
			// group that reaches the log voids these LSNs first, in case
			// part of this one reached the disk all the same. The broken
			// segment is closed at the next group.
			s.logFailing(err)
			kept := batch[:0]
			for _, op := range batch {
				if op.rec != nil {
					op.errc <- err
				} else {
					kept = append(kept, op)
				}
			}
			if len(kept) > 0 {
				s.applyq <- kept
			}
			continue
		}
		s.logWorks()
		// Handed on before the answers: a full backlog holds
		// acknowledgements back until bbolt catches up.
		s.backlog.Add(logged)
		s.backlogBytes.Add(loggedBytes)
		s.applyq <- batch
		for _, op := range batch {
			if op.rec != nil {
				op.errc <- nil
			}
		}
	}
}

// logFailing reports that a group could not be logged: at once, then at
// most every stuckLogEvery, however often the log fails and works again
// (a disk that is nearly full does both by turns).
func (s *Store) logFailing(err error) {
	now := time.Now()
	if s.logFailSince.IsZero() {
		s.logFailSince = now
	}
	if !s.logFailLogged.IsZero() && now.Sub(s.logFailLogged) < stuckLogEvery {
		return
	}
	s.logFailLogged, s.logFailReported = now, true
	s.logger.Error("store: the write-ahead log cannot be written; webhooks and checkpoints are refused until it can",
		"err", err, "since", s.logFailSince)
}

// logWorks reports that the log takes writes again after failing, when
// the failure was reported.
func (s *Store) logWorks() {
	if s.logFailSince.IsZero() {
		return
	}
	if s.logFailReported {
		s.logger.Info("store: the write-ahead log takes writes again", "failed_for", time.Since(s.logFailSince).Round(time.Millisecond).String())
	}
	s.logFailSince, s.logFailReported = time.Time{}, false
}

// foldRuns returns the functions that apply ops in one transaction. When a
// run's ingest and its final checkpoint are in the same batch (a short run
// under load), the ingest writes only the event and the flow index and the
// checkpoint only the record and the final index entry: the queue entry
// and index value the ingest would write, and the checkpoint would read
// and delete again, are skipped. The end state is the same. It also
// reports how many runs it folded.
func foldRuns(ops []*writeOp) ([]func(*bolt.Tx) error, int) {
	fns := make([]func(*bolt.Tx) error, len(ops))
	folded := 0
	var accepts map[uint64]int
	for i, op := range ops {
		fns[i] = op.fn
		if op.accept != nil {
			if accepts == nil {
				accepts = make(map[uint64]int, len(ops))
			}
			accepts[seqOf(op.accept.key)] = i
		}
	}
	for i, op := range ops {
		if op.save == nil || !indexFinal(op.save.index) {
			continue
		}
		seq := seqOf(op.save.key)
		j, ok := accepts[seq]
		if !ok || j > i {
			continue
		}
		delete(accepts, seq)
		a, sv := ops[j].accept, op.save
		fns[j] = a.applyFolded
		fns[i] = sv.applyFolded
		folded++
	}
	return fns, folded
}

// view is db.View, for reads of everything else: only bbolt writes change
// it, and those are in bbolt before their callers hear back. (Waiting for
// the applier there would put a bbolt commit in front of every signed
// webhook's secret lookup and every API token check.)
func (s *Store) view(fn func(tx *bolt.Tx) error) error { return s.dbView(fn) }

// memoryFault reports whether a recovered panic is a fault reading the
// mapped file (SetPanicOnFault turns one into a panic whose value has the
// faulting address).
func memoryFault(r any) bool {
	_, ok := r.(interface{ Addr() uintptr })
	return ok
}

// dbView is db.View where a fault reading the mapped file (an I/O error
// under it, a file cut short behind the store's back) fails the read with
// ErrDatabaseDamaged instead of killing the process. Other panics go on.
func (s *Store) dbView(fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if !memoryFault(r) {
				panic(r)
			}
			err = fmt.Errorf("store: reading %s: %w: %v", DBFileName, ErrDatabaseDamaged, r)
		}
	}()
	// The transaction is begun under dbMu, so that a compaction cannot
	// swap the file in between; once begun, it keeps the file it read
	// open until it ends (the old file's Close waits for it).
	s.dbMu.RLock()
	tx, err := s.db.Begin(false)
	s.dbMu.RUnlock()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// write runs fn in the next bbolt transaction and returns once that
// committed (durable), with fn's error. (Logged writes submit a writeOp
// with rec set; they return once rec is in the log.)
func (s *Store) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	return s.submit(ctx, &writeOp{fn: fn, errc: make(chan error, 1)})
}

func (s *Store) submit(ctx context.Context, op *writeOp) error {
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
		return engine.ErrNotFound
	}
	return unmarshalRecord(data, v)
}

// walRecord is a logged write decoded from the log, ready to apply.
type walRecord interface {
	apply(s *Store, tx *bolt.Tx) error
}

// apply does nothing: a void record only tells replay what to skip.
func (v *voidRecord) apply(*Store, *bolt.Tx) error { return nil }

// apply stores the event and its queued run.
func (a *acceptRecord) apply(_ *Store, tx *bolt.Tx) error {
	var due time.Time
	if a.due != 0 {
		due = time.Unix(0, a.due)
	}
	if err := putIndexed(tx, a.key, string(a.flowID), a.index, due, nil); err != nil {
		return err
	}
	if err := noteSearch(tx, a.key, a.index); err != nil {
		return err
	}
	return appendBucket(tx, bucketEvents).Put(a.key, a.event)
}

// applyFolded is apply without the index value and queue entry, for an
// ingest whose final checkpoint follows in the same transaction.
func (a *acceptRecord) applyFolded(tx *bolt.Tx) error {
	if err := appendBucket(tx, bucketRunsByFlow).Put(compositeKey(string(a.flowID), a.key), nil); err != nil {
		return err
	}
	return appendBucket(tx, bucketEvents).Put(a.key, a.event)
}

// applyFolded writes a final checkpoint whose ingest came earlier in the
// same transaction without its index value or queue entry.
func (r *saveRecord) applyFolded(tx *bolt.Tx) error {
	if err := appendBucket(tx, bucketRuns).Put(r.key, r.record); err != nil {
		return err
	}
	if err := appendBucket(tx, bucketRunIndex).Put(r.key, r.index); err != nil {
		return err
	}
	if err := noteSearch(tx, r.key, r.index); err != nil {
		return err
	}
	return noteFinal(tx, r.key, r.index)
}

// apply checkpoints the run. SaveRun checked that the run was open when it
// logged the record, so a run that is missing or final here is only an
// accident of ordering (two savers racing): it is left as it is.
func (r *saveRecord) apply(_ *Store, tx *bolt.Tx) error {
	idx := appendBucket(tx, bucketRunIndex)
	old := idx.Get(r.key)
	if old == nil || indexFinal(old) {
		return nil
	}
	q := tx.Bucket(bucketQueue)
	if err := q.Delete(queueKey(indexDue(old), r.key)); err != nil {
		return err
	}
	if !indexFinal(r.index) {
		var due time.Time
		if r.due != 0 {
			due = time.Unix(0, r.due)
		}
		if err := q.Put(queueKey(due, r.key), nil); err != nil {
			return err
		}
	}
	if err := appendBucket(tx, bucketRuns).Put(r.key, r.record); err != nil {
		return err
	}
	if err := idx.Put(r.key, r.index); err != nil {
		return err
	}
	if indexFinal(r.index) {
		if err := noteSearch(tx, r.key, r.index); err != nil {
			return err
		}
		return noteFinal(tx, r.key, r.index)
	}
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Accept implements engine.Store. The event takes the key of the run it starts, and
// a run gets no record of its own until its first checkpoint: its index
// entry holds all a queued run needs. Everything is encoded before the
// write joins the group. Without a dedupe key the write is logged (durable
// on return, in bbolt soon after); with one it goes through bbolt, which
// holds the keys seen.
func (s *Store) Accept(ctx context.Context, ev *engine.Event, run *engine.Run, window time.Duration) (engine.AcceptResult, error) {
	seq := s.seq.Add(1)
	key := seqKey(seq)
	e, r := *ev, *run
	e.ID = formatID(eventIDPrefix, seq)
	r.ID, r.EventID = formatID(runIDPrefix, seq), e.ID
	evData, _ := packJSON(nil, func(b []byte) ([]byte, error) { return appendEventJSON(b, &e), nil })
	sum := r.Summary()
	idxData, err := encodeIndex(&sum)
	if err != nil {
		return engine.AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, err)
	}
	rec := &acceptRecord{key: key, due: unixNano(dueOf(&r)), flowID: []byte(r.FlowID), index: idxData, event: evData}
	res := engine.AcceptResult{RunID: r.ID, EventID: e.ID}
	if e.DedupeKey == "" {
		s.open.add(seq)
		err = s.submit(ctx, &writeOp{fn: func(tx *bolt.Tx) error { return rec.apply(s, tx) },
			rec: rec.encode(), accept: rec, errc: make(chan error, 1)})
		if err != nil {
			s.open.remove(seq)
			return engine.AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, err)
		}
	} else {
		dkey := compositeKey(e.FlowID, []byte(e.DedupeKey))
		dval, _ := json.Marshal(dedupeEntry{RunID: r.ID, Expires: e.ReceivedAt.Add(window)})
		err = s.write(ctx, func(tx *bolt.Tx) error {
			res = engine.AcceptResult{RunID: r.ID, EventID: e.ID}
			var d dedupeEntry
			if err := getJSON(tx.Bucket(bucketDedupe), dkey, &d); err == nil && d.Expires.After(e.ReceivedAt) {
				res = engine.AcceptResult{RunID: d.RunID, Duplicate: true}
				return nil
			}
			if err := rec.apply(s, tx); err != nil {
				return err
			}
			return tx.Bucket(bucketDedupe).Put(dkey, dval)
		})
		if err != nil {
			return engine.AcceptResult{}, fmt.Errorf("store: accept event for flow %q: %w", ev.FlowID, err)
		}
		if !res.Duplicate {
			s.open.add(seq)
		}
	}
	if !res.Duplicate {
		ev.ID, run.ID, run.EventID = e.ID, r.ID, e.ID
	}
	return res, nil
}

// appendFill is the fill of pages split in buckets whose keys only grow
// (sequence keys): bbolt's default of one half would leave every page
// half empty forever, doubling the file and the pages each commit writes.
// Pages are filled whole: a page behind the newest is rarely written
// again. The run index is the exception (indexFill).
const appendFill = 1.0

// indexFill is the fill of the run index's pages: each entry grows once,
// when its run ends, often after its page has filled. About 230,000 W0
// events (issue 16), bytes per event of the index at a fill of 1.0: 136,
// 0.9: 125, 0.8: 141; of the events bucket at 1.0: 111, at 0.9: 121.
const indexFill = 0.9

// appendBucket returns a time-ordered bucket set up for appends.
func appendBucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = appendFill
	if bytes.Equal(name, bucketRunIndex) {
		b.FillPercent = indexFill
	}
	return b
}

// putIndexed writes a new run's index, flow index and queue entry, and its
// full record when there is one.
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
func (s *Store) putNewRun(tx *bolt.Tx, r *engine.Run, linkEvent bool) ([]byte, error) {
	key := seqKey(s.seq.Add(1))
	r.ID = formatID(runIDPrefix, seqOf(key))
	record, err := packJSON(nil, func(b []byte) ([]byte, error) { return appendRunJSON(b, r) })
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
	if err := noteSearch(tx, key, idx); err != nil {
		return nil, err
	}
	if linkEvent {
		if err := tx.Bucket(bucketEventRuns).Put(append(mustKey(eventIDPrefix, r.EventID), key...), nil); err != nil {
			return nil, err
		}
	}
	s.markOpen(key, idx)
	return key, nil
}

// markOpen records a run written by a bbolt write (not a logged one) as
// open, from inside that write: its caller learns the run's ID only after
// the commit, so no checkpoint can come first. Should the transaction roll
// back, the entry names a run that never existed, which nothing can save.
func (s *Store) markOpen(key, idx []byte) {
	if !indexFinal(idx) {
		s.open.add(seqOf(key))
	}
}

func dueOf(r *engine.Run) time.Time {
	if r.DueAt == nil {
		return time.Time{}
	}
	return *r.DueAt
}

// AddRun implements engine.Store.
func (s *Store) AddRun(ctx context.Context, run *engine.Run) error {
	r := *run
	err := s.write(ctx, func(tx *bolt.Tx) error {
		if appendBucket(tx, bucketEvents).Get(mustKey(eventIDPrefix, r.EventID)) == nil {
			return fmt.Errorf("event %s: %w", r.EventID, engine.ErrNotFound)
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

// SaveRun implements engine.Store. Whether the run may still change is decided
// from the open runs in memory, in the caller; the checkpoint is logged and
// durable on return.
func (s *Store) SaveRun(ctx context.Context, run *engine.Run) error {
	if s.saveRunDelay > 0 {
		time.Sleep(s.saveRunDelay)
	}
	key, err := parseID(runIDPrefix, run.ID)
	if err != nil {
		return fmt.Errorf("store: save run: %w", err)
	}
	data, err := packJSON(nil, func(b []byte) ([]byte, error) { return appendRunJSON(b, run) })
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	sum := run.Summary()
	idxData, err := encodeIndex(&sum)
	if err != nil {
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	seq, final := seqOf(key), sum.Status.Final()
	if !s.open.claim(seq, final) {
		// Final, or never stored: bbolt tells which once it caught up.
		err := s.viewRuns(func(tx *bolt.Tx) error {
			if appendBucket(tx, bucketRunIndex).Get(key) == nil {
				return engine.ErrNotFound
			}
			return engine.ErrRunFinal
		})
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	rec := &saveRecord{key: key, due: unixNano(dueOf(run)), index: idxData, record: data}
	op := &writeOp{fn: func(tx *bolt.Tx) error { return rec.apply(s, tx) }, rec: rec.encode(), save: rec, errc: make(chan error, 1)}
	if err := s.submit(ctx, op); err != nil {
		if final {
			s.open.add(seq)
		}
		return fmt.Errorf("store: save run %s: %w", run.ID, err)
	}
	return nil
}

// Run implements engine.Store.
func (s *Store) Run(ctx context.Context, id string) (*engine.Run, error) {
	key, err := parseID(runIDPrefix, id)
	if err != nil {
		return nil, fmt.Errorf("store: run: %w", err)
	}
	var r *engine.Run
	err = s.viewRuns(func(tx *bolt.Tx) error {
		if data := appendBucket(tx, bucketRuns).Get(key); data != nil {
			r = &engine.Run{}
			return unmarshalRecord(data, r)
		}
		var sum engine.RunSummary
		if err := decodeIndex(appendBucket(tx, bucketRunIndex).Get(key), &sum); err != nil {
			return engine.ErrNotFound
		}
		r = sum.AsRun()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: run %s: %w", id, err)
	}
	return r, nil
}

// Event implements engine.Store.
func (s *Store) Event(ctx context.Context, id string) (*engine.Event, error) {
	key, err := parseID(eventIDPrefix, id)
	if err != nil {
		return nil, fmt.Errorf("store: event: %w", err)
	}
	var e engine.Event
	err = s.viewRuns(func(tx *bolt.Tx) error { return getJSON(appendBucket(tx, bucketEvents), key, &e) })
	if err != nil {
		return nil, fmt.Errorf("store: event %s: %w", id, err)
	}
	return &e, nil
}

// ListRuns implements engine.Store.
func (s *Store) ListRuns(ctx context.Context, f engine.RunFilter) (engine.RunPage, error) {
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
			return engine.RunPage{}, fmt.Errorf("store: list runs: cursor: %w", err)
		}
		start = k
	}
	page := engine.RunPage{Runs: []engine.RunSummary{}}
	err := s.viewRuns(func(tx *bolt.Tx) error {
		idx := appendBucket(tx, bucketRunIndex)
		// next yields run keys newest first with their index values.
		var next func() ([]byte, []byte)
		if f.FlowID != "" {
			walk := newIndexWalker(tx)
			prefix := compositeKey(f.FlowID, nil)
			// A flow's failed runs have their own index: a flow that
			// rarely fails is not walked whole to fill a page.
			byFlow := bucketRunsByFlow
			if f.Status == engine.RunFailed {
				byFlow = bucketFailedByFlow
			}
			c := appendBucket(tx, byFlow).Cursor()
			var k []byte
			first := true
			next = func() ([]byte, []byte) {
				if first {
					first = false
					k = newestBefore(c, prefix, start)
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
							k, v = lastOf(c)
						} else {
							k, v = c.Prev()
						}
					} else {
						k, v = lastOf(c)
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
			if !addIndexed(&page, f, v, limit) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return engine.RunPage{}, fmt.Errorf("store: list runs: %w", err)
	}
	return page, nil
}

// Pending implements engine.Store.
func (s *Store) Pending(ctx context.Context) ([]engine.QueueItem, error) {
	var out []engine.QueueItem
	err := s.viewRuns(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
			due, seq := decodeQueueKey(k)
			out = append(out, engine.QueueItem{RunID: formatID(runIDPrefix, seq), Due: due})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending runs: %w", err)
	}
	return out, nil
}

// PurgeDedupe implements engine.Store.
func (s *Store) PurgeDedupe(ctx context.Context, now time.Time) (int, error) {
	n, err := s.purgeExpired(ctx, bucketDedupe, func(v []byte) bool {
		var d dedupeEntry
		return json.Unmarshal(v, &d) == nil && !d.Expires.After(now)
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge dedupe: %w", err)
	}
	return n, nil
}

// purgeExpired deletes the records of a bucket that expired says are
// past their time. It reads first and writes only the keys found, so a
// purge with nothing to do writes nothing to the log.
func (s *Store) purgeExpired(ctx context.Context, bucket []byte, expired func(v []byte) bool) (int, error) {
	var stale [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if expired(v) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(stale), nil
}

// DeleteRunsBefore implements engine.Store.
func (s *Store) DeleteRunsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	var victims []victim
	err := s.viewRuns(func(tx *bolt.Tx) error {
		c := appendBucket(tx, bucketRunIndex).Cursor()
		for k, v := c.First(); k != nil && len(victims) < limit; k, v = c.Next() {
			var sum engine.RunSummary
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
	if err != nil {
		return 0, err
	}
	return s.deleteRuns(ctx, victims)
}

// victim is a finished run retention deletes.
type victim struct {
	key    []byte
	flowID string
	event  []byte
	terms  []string // its search terms (victimTerms)
}

// deleteRuns deletes finished runs with their index entries, and each
// event once no run needs it any more, in one transaction.
func (s *Store) deleteRuns(ctx context.Context, victims []victim) (int, error) {
	if len(victims) == 0 {
		return 0, nil
	}
	if err := s.victimTerms(victims); err != nil {
		return 0, fmt.Errorf("store: delete old runs: read their search terms: %w", err)
	}
	err := s.write(ctx, func(tx *bolt.Tx) error {
		if err := forgetSearch(tx, victims); err != nil {
			return err
		}
		for _, v := range victims {
			for _, b := range [][]byte{bucketRuns, bucketRunIndex} {
				if err := tx.Bucket(b).Delete(v.key); err != nil {
					return err
				}
			}
			if err := appendBucket(tx, bucketRunsByFlow).Delete(compositeKey(v.flowID, v.key)); err != nil {
				return err
			}
			if err := appendBucket(tx, bucketFailedByFlow).Delete(compositeKey(v.flowID, v.key)); err != nil {
				return err
			}
			if err := forgetResolution(tx, v.key); err != nil {
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
