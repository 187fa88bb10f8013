package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore/wal"
)

func TestWALRecordsRoundTrip(t *testing.T) {
	a := &acceptRecord{key: seqKey(42), due: 1234, flowID: []byte("orders"), index: []byte{1, 2}, event: []byte(`{"id":"e"}`)}
	got, err := decodeWALRecord(a.encode())
	if err != nil {
		t.Fatal(err)
	}
	if g := got.(*acceptRecord); !bytes.Equal(g.key, a.key) || g.due != a.due || string(g.flowID) != "orders" ||
		!bytes.Equal(g.index, a.index) || !bytes.Equal(g.event, a.event) {
		t.Fatalf("accept record: %+v, want %+v", g, a)
	}
	sr := &saveRecord{key: seqKey(7), due: -5, index: []byte{9}, record: []byte(`{}`)}
	got, err = decodeWALRecord(sr.encode())
	if err != nil {
		t.Fatal(err)
	}
	if g := got.(*saveRecord); !bytes.Equal(g.key, sr.key) || g.due != sr.due || !bytes.Equal(g.index, sr.index) || !bytes.Equal(g.record, sr.record) {
		t.Fatalf("save record: %+v, want %+v", g, sr)
	}
	for _, bad := range [][]byte{nil, {99}, sr.encode()[:10], append(sr.encode(), 0)} {
		if _, err := decodeWALRecord(bad); !errors.Is(err, errWALRecord) {
			t.Errorf("decode %x: %v, want errWALRecord", bad, err)
		}
	}
}

// crash leaves the store as kill -9 would while nothing was applied since
// holdApply was set: the log has the writes, bbolt does not.
func crash(t *testing.T, s *Store) {
	t.Helper()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s.log.KillFile()
}

func TestWALReplayAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// One run is in bbolt before the crash, the rest only in the log.
	first, err := s.Accept(ctx, newEvent("f", `{"n":0}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(ctx, first.RunID); err != nil {
		t.Fatal(err)
	}
	s.holdApply = make(chan struct{})
	// With the applier held, the logger hands on at most applyBacklog
	// groups before acknowledgements wait for bbolt (by design). Each
	// write may be a group of its own on a fast disk, so the writes stay
	// under it: 40 accepts and 20 checkpoints (a run of this test with
	// 300 hung on a quiet machine).
	const n = 40
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"n":%d}`, i+1)), newRun("f"), 0)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = res.RunID
			if i%2 == 0 {
				// Half of them finish; their checkpoints are logged too.
				now := time.Now().UTC()
				r := newRun("f")
				r.ID, r.EventID, r.Status, r.FinishedAt = res.RunID, res.EventID, engine.RunSucceeded, &now
				r.Steps = []engine.StepResult{{ID: "s", Status: engine.StepSucceeded}}
				if err := s.SaveRun(ctx, r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	crash(t, s)

	s2, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i, id := range ids {
		r, err := s2.Run(ctx, id)
		if err != nil {
			t.Fatalf("run %d (%s) lost in the crash: %v", i, id, err)
		}
		want := engine.RunQueued
		if i%2 == 0 {
			want = engine.RunSucceeded
		}
		if r.Status != want || (want == engine.RunSucceeded && len(r.Steps) != 1) {
			t.Fatalf("run %d: status %s with %d steps, want %s", i, r.Status, len(r.Steps), want)
		}
		if ev, err := s2.Event(ctx, r.EventID); err != nil || !bytes.Contains(ev.Body, fmt.Appendf(nil, `"n":%d`, i+1)) {
			t.Fatalf("event of run %d: %v %v", i, ev, err)
		}
	}
	pend, err := s2.Pending(ctx)
	if err != nil || len(pend) != n/2+1 {
		t.Fatalf("pending %d (%v), want %d", len(pend), err, n/2+1)
	}
	// The replayed log is gone; new IDs follow the replayed ones.
	if segs, _ := wal.Segments(filepath.Join(dir, wal.DirName)); len(segs) != 1 {
		t.Fatalf("segments after replay: %v, want only the new one", segs)
	}
	res, err := s2.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if id >= res.RunID {
			t.Fatalf("new run %s does not follow replayed run %s", res.RunID, id)
		}
	}
	// A finished run stays finished: replay reopened only unfinished ones.
	r, _ := s2.Run(ctx, ids[0])
	r.Status = engine.RunRunning
	if err := s2.SaveRun(ctx, r); !errors.Is(err, engine.ErrRunFinal) {
		t.Fatalf("save over a replayed final run: %v, want ErrRunFinal", err)
	}
}

func TestWALReplayTwiceChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := heldStore(t, dir) // everything stays in the log
	ctx := context.Background()
	res, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Keep a copy of the log: replaying it again over a store that already
	// holds it (a crash right after the replay's commit, before the log was
	// deleted) must change nothing.
	segs, _ := wal.Segments(filepath.Join(dir, wal.DirName))
	logCopy, err := os.ReadFile(filepath.Join(dir, wal.DirName, wal.SegmentName(segs[0])))
	if err != nil {
		t.Fatal(err)
	}
	crash(t, s)
	s2, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	r, _ := s2.Run(ctx, res.RunID)
	r.Status, r.FinishedAt = engine.RunSucceeded, &now
	if err := s2.SaveRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, wal.DirName, wal.SegmentName(segs[0])), logCopy, 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	got, err := s3.Run(ctx, res.RunID)
	if err != nil || got.Status != engine.RunSucceeded {
		t.Fatalf("run after a second replay: %v %v, want succeeded", got, err)
	}
	if pend, _ := s3.Pending(ctx); len(pend) != 0 {
		t.Fatalf("pending after a second replay: %v", pend)
	}
}

func TestStoreReadsOwnLoggedWrites(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for j := range 20 {
				res, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"i":%d,"j":%d}`, i, j)), newRun("f"), 0)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Run(ctx, res.RunID); err != nil {
					t.Errorf("run %s not readable right after Accept: %v", res.RunID, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzWALFrames(f *testing.F) {
	f.Add(wal.AppendFrame(nil, 1, 1, (&acceptRecord{key: seqKey(1), flowID: []byte("f"), index: []byte{0}, event: []byte("{}")}).encode()), uint64(1))
	f.Add(wal.AppendFrame(nil, 3, 9, (&saveRecord{key: seqKey(2), index: []byte{1}, record: []byte("{}")}).encode()), uint64(3))
	f.Add(wal.AppendFrame(nil, 2, 5, (&voidRecord{wal.Void{First: 3, Last: 4}}).encode()), uint64(2))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, seg uint64) {
		end, err := wal.ReadFrames(data, seg, func(lsn uint64, rec []byte) error {
			r, err := decodeWALRecord(rec)
			if err == nil && r == nil {
				t.Fatal("nil record without an error")
			}
			return nil
		})
		if err != nil || end < 0 || end > len(data) {
			t.Fatalf("end %d of %d, err %v", end, len(data), err)
		}
		// Whatever was read re-frames to the same bytes.
		var again []byte
		wal.ReadFrames(data[:end], seg, func(lsn uint64, rec []byte) error {
			again = wal.AppendFrame(again, seg, lsn, rec)
			return nil
		})
		if !bytes.Equal(again, data[:end]) {
			t.Fatalf("re-framed %x, want %x", again, data[:end])
		}
	})
}

// TestFoldRunsSameState applies one batch of ingests and checkpoints with
// folding and the same writes one by one without it: both stores must end
// up with the same bytes in every bucket.
func TestFoldRunsSameState(t *testing.T) {
	now := time.Now().UTC()
	mk := func(seq uint64) []*writeOp {
		key := seqKey(seq)
		r := newRun("f")
		r.ID, r.EventID = formatID(runIDPrefix, seq), formatID(eventIDPrefix, seq)
		sum := r.Summary()
		idx, _ := encodeIndex(&sum)
		acc := &acceptRecord{key: key, flowID: []byte("f"), index: idx, event: fmt.Appendf(nil, `{"n":%d}`, seq)}
		save := func(status engine.RunStatus) *writeOp {
			r.Status = status
			if status.Final() {
				r.FinishedAt = &now
			}
			data, _ := json.Marshal(r)
			sum := r.Summary()
			idx, _ := encodeIndex(&sum)
			sr := &saveRecord{key: key, index: idx, record: data}
			return &writeOp{fn: func(tx *bolt.Tx) error { return sr.apply(nil, tx) }, rec: sr.encode(), save: sr}
		}
		accOp := &writeOp{fn: func(tx *bolt.Tx) error { return acc.apply(nil, tx) }, rec: acc.encode(), accept: acc}
		switch seq % 4 {
		case 0: // queued only
			return []*writeOp{accOp}
		case 1: // straight to final
			return []*writeOp{accOp, save(engine.RunSucceeded)}
		case 2: // a running checkpoint, then final
			return []*writeOp{accOp, save(engine.RunRunning), save(engine.RunFailed)}
		default: // final, then a late checkpoint that must not win
			return []*writeOp{accOp, save(engine.RunSucceeded), save(engine.RunRunning)}
		}
	}
	var ops []*writeOp
	for seq := uint64(1); seq <= 40; seq++ {
		ops = append(ops, mk(seq)...)
	}
	folded, plain := openTestStore(t), openTestStore(t)
	// The search indexer works on its own time; compare what the applier wrote.
	folded.stopIndexer()
	plain.stopIndexer()
	folded.apply(ops)
	for _, op := range ops {
		if err := plain.applyOne(op, nil); err != nil {
			t.Fatal(err)
		}
	}
	dump := func(s *Store) map[string]string {
		out := map[string]string{}
		s.db.View(func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if bytes.Equal(b, bucketMeta) {
					continue
				}
				tx.Bucket(b).ForEach(func(k, v []byte) error {
					out[string(b)+"/"+string(k)] = string(v)
					return nil
				})
			}
			return nil
		})
		return out
	}
	a, b := dump(folded), dump(plain)
	if len(a) != len(b) {
		t.Fatalf("folded batch left %d keys, one by one %d", len(a), len(b))
	}
	for k, v := range b {
		if a[k] != v {
			t.Fatalf("key %q: folded %q, one by one %q", k, a[k], v)
		}
	}
	// Runs 1, 2 and 3 of every four reach a final status after their
	// ingest: all 30 fold.
	if fns, n := foldRuns(ops); len(fns) != len(ops) || n != 30 {
		t.Fatalf("foldRuns: %d functions for %d writes, %d folded, want 30", len(fns), len(ops), n)
	}
}

// TestWALWriteFailure: a group whose log write fails is refused (not
// acknowledged), the next group goes to a new segment, and a restart
// replays both segments.
func TestWALWriteFailure(t *testing.T) {
	dir := t.TempDir()
	s := heldStore(t, dir) // everything stays in the log
	ctx := context.Background()
	first, err := s.Accept(ctx, newEvent("f", `{"n":1}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	s.log.KillFile() // the disk goes away under the logger
	if res, err := s.Accept(ctx, newEvent("f", `{"n":2}`), newRun("f"), 0); err == nil {
		t.Fatalf("accept with a failing log answered %+v, want an error", res)
	}
	third, err := s.Accept(ctx, newEvent("f", `{"n":3}`), newRun("f"), 0)
	if err != nil {
		t.Fatalf("accept after the failed group: %v (want a new segment)", err)
	}
	segs, _ := wal.Segments(filepath.Join(dir, wal.DirName))
	if len(segs) != 2 {
		t.Fatalf("segments %v, want the broken one and a new one", segs)
	}
	// The new segment begins by voiding the refused group's LSN.
	data, _ := os.ReadFile(filepath.Join(dir, wal.DirName, wal.SegmentName(segs[1])))
	var kinds []byte
	wal.ReadFrames(data, segs[1], func(_ uint64, rec []byte) error { kinds = append(kinds, rec[0]); return nil })
	if !bytes.Equal(kinds, []byte{walVoid, walAccept}) {
		t.Fatalf("new segment holds records of kinds %v, want a void, then the accept", kinds)
	}
	crash(t, s)
	s2, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, id := range []string{first.RunID, third.RunID} {
		if _, err := s2.Run(ctx, id); err != nil {
			t.Errorf("acknowledged run %s lost: %v", id, err)
		}
	}
	if pend, _ := s2.Pending(ctx); len(pend) != 2 {
		t.Errorf("pending %d runs after replay, want 2 (the refused one was never stored)", len(pend))
	}
}

// TestApplyRetriesLoggedWrites: an acknowledged write that bbolt refuses is
// retried until it is taken, with the applier stuck meanwhile (the write
// after it that waits for bbolt is refused at once); only when closing does
// the applier give up, and then it applies nothing after it, so the log
// keeps both for the next start.
func TestApplyRetriesLoggedWrites(t *testing.T) {
	s := openTestStore(t)
	fails := 3
	flaky := &writeOp{lsn: 1, rec: []byte{walSave}, fn: func(tx *bolt.Tx) error {
		if fails > 0 {
			fails--
			return errors.New("disk hiccup")
		}
		return tx.Bucket(bucketMeta).Put([]byte("flaky"), []byte("ok"))
	}}
	barrier := &writeOp{fn: func(tx *bolt.Tx) error { return nil }, errc: make(chan error, 1)}
	s.backlog.Add(1) // as the logger would have
	s.apply([]*writeOp{flaky, barrier})
	if err := <-barrier.errc; !errors.Is(err, engine.ErrStoreUnavailable) {
		t.Fatalf("write behind a refused logged write: %v, want ErrStoreUnavailable", err)
	}
	// The first failure rolls the group back; the write alone fails twice
	// more, then goes in.
	if v, _ := s.Meta(context.Background(), "flaky"); string(v) != "ok" || s.ApplyErrors() != 2 || s.applied.Load() != 1 {
		t.Fatalf("after retries: value %q, %d apply errors, applied %d; want ok, 2, 1", v, s.ApplyErrors(), s.applied.Load())
	}
	if h := s.Health(); h.Stuck || h.Backlog != 0 {
		t.Fatalf("health after the write went in: %+v", h)
	}

	s.closing.Store(true)
	broken := &writeOp{lsn: 2, rec: []byte{walSave}, fn: func(*bolt.Tx) error { return errors.New("disk gone") }}
	after := &writeOp{lsn: 3, rec: []byte{walSave}, fn: func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("after"), []byte("x"))
	}}
	barrier = &writeOp{fn: func(tx *bolt.Tx) error { return nil }, errc: make(chan error, 1)}
	s.apply([]*writeOp{broken, after, barrier})
	if err := <-barrier.errc; !errors.Is(err, errStoreStuck) {
		t.Fatalf("barrier after a refused logged write: %v, want errStoreStuck", err)
	}
	s.closing.Store(false)
	if v, _ := s.Meta(context.Background(), "after"); v != nil || s.applied.Load() != 1 {
		t.Fatalf("a write after the refused one was applied (%q) or the log position moved (%d)", v, s.applied.Load())
	}
}

// TestWALReplaySkipsVoidedGroups: a group whose sync failed was refused,
// yet its frames may have reached the disk; the void record the next group
// wrote (in a later segment) keeps replay from applying them.
func TestWALReplaySkipsVoidedGroups(t *testing.T) {
	dir := t.TempDir()
	walDir := filepath.Join(dir, wal.DirName)
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		t.Fatal(err)
	}
	accept := func(seq uint64) []byte {
		r := newRun("f")
		r.ID, r.EventID = formatID(runIDPrefix, seq), formatID(eventIDPrefix, seq)
		sum := r.Summary()
		idx, _ := encodeIndex(&sum)
		return (&acceptRecord{key: seqKey(seq), flowID: []byte("f"), index: idx, event: []byte(`{}`)}).encode()
	}
	seg1 := wal.AppendFrame(nil, 1, 1, accept(1))
	seg1 = wal.AppendFrame(seg1, 1, 2, accept(2)) // refused: its sync failed
	seg2 := wal.AppendFrame(nil, 2, 3, (&voidRecord{wal.Void{First: 2, Last: 2}}).encode())
	seg2 = wal.AppendFrame(seg2, 2, 4, accept(3))
	for no, data := range map[uint64][]byte{1: seg1, 2: seg2} {
		if err := os.WriteFile(filepath.Join(walDir, wal.SegmentName(no)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for seq, want := range map[uint64]bool{1: true, 2: false, 3: true} {
		_, err := s.Run(ctx, formatID(runIDPrefix, seq))
		if got := err == nil; got != want {
			t.Errorf("run %d stored %v after replay, want %v (%v)", seq, got, want, err)
		}
	}
	// New records continue after every LSN the log used.
	if s.nextLSN != 4 {
		t.Errorf("next LSN after replay %d, want 4", s.nextLSN)
	}
}

// TestReadsOutsideRunsDoNotWait: only reads of what logged writes change
// wait for the applier; a token check or a flow lookup never does.
func TestReadsOutsideRunsDoNotWait(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if err := s.PutToken(ctx, auth.TokenRecord{ID: "t1", Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	s.holdApply = hold
	defer close(hold)
	res, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.TokenByHash(ctx, "h1")
		if err == nil {
			_, err = s.Flows(ctx)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a token lookup waited for the applier")
	}
	// A run read does wait, and sees the run once the applier went on.
	got := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, res.RunID)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("run read returned before the applier applied the run: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	hold <- struct{}{}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
