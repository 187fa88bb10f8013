package boltstore

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// The applier: it moves logged writes into bbolt behind the log and runs
// the other writes (see Store).
//
// When bbolt refuses a logged write (a disk that is full, read-only or
// failing; a bug that panics), the write was acknowledged already and
// exists only in the log, so the applier retries it, backing off up to a
// second, for as long as it takes, and applies nothing after it meanwhile.
// While it is stuck so:
//   - an ERROR line says why, at most every stuckLogEvery however often
//     it gets stuck and unstuck; Health reports it (readiness, metrics);
//   - the logger still logs and acknowledges webhooks and checkpoints,
//     while the acknowledged writes waiting for bbolt stay under
//     backlogMax writes and backlogMaxBytes bytes; past that it refuses
//     them at once with ErrStoreUnavailable instead of hanging;
//   - writes that need bbolt's answer are refused at once, those already
//     queued included;
//   - reads that must see every acknowledged write give up at once with
//     ErrStoreUnavailable, and while it is not stuck they wait readWait at
//     most.
// A panic while applying is recovered, logged with its stack, and treated
// the same way: retried, never a crash.

const (
	// backlogMax and backlogMaxBytes bound the acknowledged writes that
	// wait for bbolt while it refuses them (docs/architecture.md).
	backlogMax      = 4096
	backlogMaxBytes = 64 << 20
	// readWait is the longest a read waits for the applier to catch up.
	readWait = 5 * time.Second
	// stuckLogEvery spaces the ERROR lines of a stuck applier.
	stuckLogEvery = 30 * time.Second
	// applyPace is the longest the applier lets answered writes gather
	// before a commit; reads and writes that need bbolt's answer do not
	// wait for it.
	applyPace = 10 * time.Millisecond
)

// applyStuck is why and since when the applier is stuck.
type applyStuck struct {
	cause    error
	since    time.Time
	attempts int
}

// errStoreStuck answers writes after the applier gave up on a logged write
// while closing.
var errStoreStuck = errors.New("store: closing with writes bbolt refused; they stay in the write-ahead log")

// errRetrySeparately rolls back a group in which some write failed.
var errRetrySeparately = errors.New("store: group rolled back to retry writes separately")

// unavailable is the error for requests refused while the applier is
// stuck.
func (st *applyStuck) unavailable(what string) error {
	return fmt.Errorf("%w: %s: the database has refused writes since %s (%v)", engine.ErrStoreUnavailable, what,
		st.since.UTC().Format(time.RFC3339), st.cause)
}

// applyLoop is the applier: it applies groups to bbolt, as many as wait at
// once, up to maxApply writes. When only logged writes wait (they were
// answered already) and nobody waits to read, it lets them gather for up to
// applyPace after the previous commit: fewer, larger bbolt transactions
// cost less CPU and fewer syncs per write. Writes held back while it was
// stuck (s.stash) go before anything still in the queue.
func (s *Store) applyLoop() {
	defer close(s.done)
	defer func() {
		s.applyMu.Lock()
		s.closed = true
		s.applyMu.Unlock()
		s.applyCV.Broadcast()
	}()
	// A fault reading the mapped file (an I/O error under it) becomes a
	// panic, which applying recovers, rather than a crash.
	debug.SetPanicOnFault(true)
	ops := make([]*writeOp, 0, maxApply)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lastCommit time.Time
	for {
		group, ok := s.unstash(maxApply)
		if !ok {
			if group, ok = <-s.applyq; !ok {
				return
			}
		}
		ops = append(ops[:0], group...)
		// pace is nil when the applier takes only what already waits.
		var pace <-chan time.Time
		if wait := time.Until(lastCommit.Add(applyPace)); !hasBarrier(group) && wait > 0 && s.readers.Load() == 0 {
			timer.Reset(wait)
			pace = timer.C
		}
	collect:
		for len(ops) < maxApply {
			if g, ok := s.unstash(maxApply - len(ops)); ok {
				ops = append(ops, g...)
				continue
			}
			g, ok := []*writeOp(nil), true
			if pace == nil {
				select {
				case g, ok = <-s.applyq:
				default:
					break collect
				}
			} else {
				select {
				case g, ok = <-s.applyq:
				case <-s.kick: // a read waits
					break collect
				case <-pace:
					break collect
				}
			}
			if !ok {
				break collect
			}
			ops = append(ops, g...)
			if hasBarrier(g) {
				pace = nil // its caller waits: take what is there and commit
			}
		}
		timer.Stop()
		if s.holdApply != nil {
			<-s.holdApply
		}
		s.apply(ops)
		lastCommit = time.Now()
		clear(ops)
	}
}

// unstash takes up to n of the writes held back while the applier was
// stuck.
func (s *Store) unstash(n int) ([]*writeOp, bool) {
	if len(s.stash) == 0 {
		return nil, false
	}
	n = min(n, len(s.stash))
	g := s.stash[:n:n]
	s.stash = s.stash[n:]
	if len(s.stash) == 0 {
		s.stash = nil
	}
	return g, true
}

// hasBarrier reports whether a group holds a write whose caller waits for
// bbolt's answer.
func hasBarrier(group []*writeOp) bool {
	for _, op := range group {
		if op.rec == nil {
			return true
		}
	}
	return false
}

func (s *Store) apply(ops []*writeOp) {
	// A write that must run alone (a compaction) splits the batch: what
	// came before it is applied first, what came after it next.
	for i, op := range ops {
		if op == nil || op.exclusive == nil {
			continue
		}
		if i > 0 {
			s.apply(ops[:i])
		}
		if s.gaveUp || s.stuck.Load() != nil {
			op.errc <- errStoreStuck
		} else {
			op.errc <- s.runExclusive(op.exclusive)
		}
		if rest := ops[i+1:]; len(rest) > 0 {
			s.apply(rest)
		}
		return
	}
	if s.gaveUp {
		for _, op := range ops {
			if op.rec == nil {
				op.errc <- errStoreStuck
			}
		}
		return
	}
	var last uint64
	for _, op := range ops {
		last = max(last, op.lsn)
	}
	fns, _ := foldRuns(ops)
	err := s.update(func(tx *bolt.Tx) error {
		failed := false
		for _, fn := range fns {
			if fn(tx) != nil {
				failed = true
			}
		}
		if failed {
			// A write that failed may have written part of itself before
			// failing; throw the whole group away and give each write a
			// transaction of its own, so one bad write neither poisons the
			// others nor leaves half of itself behind.
			return errRetrySeparately
		}
		return setApplied(tx, last)
	})
	if err != nil {
		// Also when the commit itself failed: each write alone, in order.
		last = 0
		for i, op := range ops {
			if op == nil {
				continue // refused while the applier was stuck
			}
			err := errStoreStuck
			if !s.gaveUp {
				err = s.applyOne(op, ops[i+1:])
			}
			if op.rec == nil {
				op.errc <- err
			} else if err == nil {
				last = op.lsn
				s.settle(op)
			} else {
				// Only when closing: what is not applied stays in the log,
				// and nothing after it may be applied, or the next start
				// would take the log as applied past it.
				s.gaveUp = true
			}
		}
	} else {
		for _, op := range ops {
			if op.rec == nil {
				op.errc <- nil
			} else {
				s.settle(op)
			}
		}
	}
	s.publishApplied(last)
}

// update is db.Update for the applier: a panic in fn or in bbolt becomes
// an error (with its stack), and a test may make the transaction fail.
//
// A fault reading the mapped file (a file cut short behind the store's
// back, an I/O error under it) marks the store faulted: bbolt's rollback
// of that transaction faults as well and leaves its writer lock held, and
// the next write transaction waited for ever (TestWriteFaultDoesNotHang).
// From then on every write fails at once with ErrDatabaseDamaged; logged
// writes stay in the log, the applier stuck, until a restart.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if s.faulted.Load() {
		return fmt.Errorf("store: write refused: %w (a read faulted while writing; restart once the file is repaired)", ErrDatabaseDamaged)
	}
	err := safeApply(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			if s.applyFault != nil {
				return s.applyFault()
			}
			return nil
		})
	})
	if p, ok := err.(*applyPanic); ok && memoryFault(p.value) {
		s.faulted.Store(true)
		return fmt.Errorf("store: writing %s: %w: %v", DBFileName, ErrDatabaseDamaged, p.value)
	}
	return err
}

// applyOne applies one write in a transaction of its own. A logged write
// was acknowledged already and exists only in the log: it is retried for
// as long as it takes, with the applier stuck meanwhile (see the top of
// this file), so that the log is never deleted past it. rest are the writes
// after it in the same batch. Only when the store is closing does it give
// up; the log then keeps the write for the next start.
func (s *Store) applyOne(op *writeOp, rest []*writeOp) error {
	wait := 50 * time.Millisecond
	for {
		err := s.update(func(tx *bolt.Tx) error {
			if err := op.fn(tx); err != nil {
				return err
			}
			return setApplied(tx, op.lsn)
		})
		if err == nil {
			s.unstick()
			return nil
		}
		if op.rec == nil {
			return err
		}
		s.applyErrors.Add(1)
		if s.closing.Load() {
			return err
		}
		s.stick(err, rest)
		s.waitRetry(wait)
		wait = min(2*wait, time.Second)
	}
}

// stick records that bbolt refused a logged write with err. The first time,
// it refuses the writes after it that wait for bbolt's answer, and wakes
// the reads that wait, to give up.
func (s *Store) stick(err error, rest []*writeOp) {
	now := time.Now()
	old := s.stuck.Load()
	st := &applyStuck{cause: err, since: now, attempts: 1}
	if old != nil {
		st.since, st.attempts = old.since, old.attempts+1
	}
	s.applyMu.Lock()
	s.stuck.Store(st)
	s.applyMu.Unlock()
	if old == nil {
		s.applyCV.Broadcast()
		for i, op := range rest {
			if op != nil && op.rec == nil {
				op.errc <- st.unavailable("write refused")
				rest[i] = nil
			}
		}
	}
	if !s.stuckLogged.IsZero() && now.Sub(s.stuckLogged) < stuckLogEvery {
		return
	}
	s.stuckLogged, s.stuckReported = now, true
	args := []any{"err", err, "since", st.since, "attempts", st.attempts,
		"backlog", s.backlog.Load(), "backlog_max", s.backlogMax}
	var p *applyPanic
	if errors.As(err, &p) {
		args = append(args, "stack", string(p.stack))
	}
	s.logger.Error("store: the database refuses writes; acknowledged writes wait in the write-ahead log, "+
		"and past the backlog limit new ones are refused", args...)
}

// unstick records that bbolt takes writes again.
func (s *Store) unstick() {
	st := s.stuck.Load()
	if st == nil {
		return
	}
	s.applyMu.Lock()
	s.stuck.Store(nil)
	s.applyMu.Unlock()
	if s.stuckReported {
		s.logger.Info("store: the database takes writes again", "stuck_for", time.Since(st.since).Round(time.Millisecond).String(),
			"attempts", st.attempts, "backlog", s.backlog.Load())
	}
	s.stuckReported = false
}

// waitRetry waits d before the next attempt, taking in the groups the
// logger hands on meanwhile so that it never blocks on a stuck applier.
func (s *Store) waitRetry(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	q := s.applyq
	for {
		select {
		case g, ok := <-q:
			if !ok {
				q = nil // closing: nothing more comes
				continue
			}
			s.hold(g)
		case <-t.C:
			return
		}
	}
}

// hold keeps a group that came while the applier is stuck: its logged
// writes wait in the stash, in order; the others are refused.
func (s *Store) hold(g []*writeOp) {
	st := s.stuck.Load()
	for _, op := range g {
		if op.rec != nil {
			s.stash = append(s.stash, op)
		} else if st != nil {
			op.errc <- st.unavailable("write refused")
		} else {
			s.stash = append(s.stash, op)
		}
	}
}

// settle accounts for a logged write that bbolt took.
func (s *Store) settle(op *writeOp) {
	s.backlog.Add(-1)
	s.backlogBytes.Add(-int64(len(op.rec)))
}

// refuseWhileStuck is the logger's side of a stuck applier: of batch, it
// refuses at once the writes that need bbolt, and the logged ones that
// would take the backlog past its bound, and returns the rest.
func (s *Store) refuseWhileStuck(batch []*writeOp, st *applyStuck) []*writeOp {
	n, size := s.backlog.Load(), s.backlogBytes.Load()
	full := false
	kept := batch[:0]
	for _, op := range batch {
		if op.rec != nil && !full {
			n, size = n+1, size+int64(len(op.rec))
			full = n > s.backlogMax || size > s.backlogMaxBytes
		}
		switch {
		case op.rec == nil:
			op.errc <- st.unavailable("write refused")
		case full:
			op.errc <- st.unavailable(fmt.Sprintf("write refused, %d acknowledged writes wait already", s.backlog.Load()))
		default:
			kept = append(kept, op)
		}
	}
	return kept
}

// safeApply calls fn, turning a panic into an error that carries the
// stack: a bug in applying one record must not take the process down (nor,
// at open, keep it from ever starting).
func safeApply(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &applyPanic{value: r, stack: debug.Stack()}
		}
	}()
	return fn()
}

// applyPanic is a panic recovered while applying a write.
type applyPanic struct {
	value any
	stack []byte
}

func (p *applyPanic) Error() string {
	return fmt.Sprintf("store: panic while applying a write: %v", p.value)
}

// ApplyErrors counts failed attempts to move an acknowledged write from the
// write-ahead log into bbolt; above zero, the disk needs attention.
func (s *Store) ApplyErrors() int64 { return s.applyErrors.Load() }

// Health reports how the applier is doing (StoreHealth).
func (s *Store) Health() engine.StoreHealth {
	h := engine.StoreHealth{Backlog: s.backlog.Load(), BacklogMax: s.backlogMax, ApplyErrors: s.applyErrors.Load()}
	if st := s.stuck.Load(); st != nil {
		h.Stuck, h.Cause, h.Since = true, st.cause, st.since
	}
	return h
}

func (s *Store) publishApplied(lsn uint64) {
	if lsn == 0 {
		return
	}
	s.applyMu.Lock()
	s.applied.Store(lsn)
	s.applyMu.Unlock()
	s.applyCV.Broadcast()
	s.log.Release(lsn)
}

// caughtUp waits until bbolt holds every logged write answered so far. It
// gives up with ErrStoreUnavailable when the applier is stuck, or still
// behind after readWait.
func (s *Store) caughtUp() error {
	want := s.durable.Load()
	if s.applied.Load() >= want {
		return nil
	}
	// Tell a pacing applier that someone waits.
	s.readers.Add(1)
	defer s.readers.Add(-1)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	start := time.Now()
	timeout := time.AfterFunc(s.readWait, func() {
		s.applyMu.Lock()
		s.applyMu.Unlock()
		s.applyCV.Broadcast()
	})
	defer timeout.Stop()
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	for s.applied.Load() < want && !s.closed {
		if st := s.stuck.Load(); st != nil {
			return st.unavailable("read refused")
		}
		if time.Since(start) >= s.readWait {
			return fmt.Errorf("%w: read refused: the database is still %d writes behind after %s", engine.ErrStoreUnavailable,
				want-s.applied.Load(), s.readWait)
		}
		s.applyCV.Wait()
	}
	return nil
}

// viewRuns is db.View after the applier caught up, for reads of what
// logged writes change (events, runs, their indexes, the queue): they see
// every write that was answered before they began.
func (s *Store) viewRuns(fn func(tx *bolt.Tx) error) error {
	if err := s.caughtUp(); err != nil {
		return err
	}
	return s.dbView(fn)
}
