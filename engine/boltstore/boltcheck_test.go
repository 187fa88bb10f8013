package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
)

// sampleDB returns the bytes of a closed store holding n runs, and the
// page size, root page and used length its newer meta page gives.
func sampleDB(t testing.TB, n int) (db []byte, page, root, used int) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		res, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("p", 200))), newRun("f"), 0)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		r := newRun("f")
		r.ID, r.EventID, r.Status, r.FinishedAt = res.RunID, res.EventID, engine.RunSucceeded, &now
		r.Steps = []engine.StepResult{{ID: "s", Status: engine.StepSucceeded, Output: map[string]any{"big": strings.Repeat("o", i%3*3000)}}}
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutFlow(ctx, "f", []byte(`{"id":"f"}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = os.ReadFile(filepath.Join(dir, DBFileName))
	if err != nil {
		t.Fatal(err)
	}
	page = int(binary.NativeEndian.Uint32(db[boltPageHeader+8:]))
	m0, _ := readBoltMeta(db)
	m1, _ := readBoltMeta(db[page:])
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	return db, page, int(m.root), int(m.pgid) * page
}

// openDamaged writes db as the database of a new data dir and opens it.
func openDamaged(t testing.TB, db []byte) (*bolt.DB, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), DBFileName)
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	return openBoltFile(path, time.Second)
}

func TestCheckBoltFile(t *testing.T) {
	good, page, root, used := sampleDB(t, 300)
	if err := checkBoltData(bytes.NewReader(good), int64(len(good))); err != nil {
		t.Fatalf("a sound file fails the check: %v", err)
	}
	if used < 20*page {
		t.Fatalf("only %d pages in use", used/page)
	}
	// A leaf page of the bucket tree, found by walking down from the root.
	leaf := root
	for boltOrder.Uint16(good[leaf*page+8:]) == boltBranchPage {
		leaf = int(boltOrder.Uint64(good[leaf*page+boltPageHeader+8:]))
	}
	swapKeys := func(db []byte) []byte {
		// The first two elements of the leaf trade places: keys out of
		// order, everything else intact.
		e := db[leaf*page+boltPageHeader:]
		a, b := bytes.Clone(e[:boltElementSize]), bytes.Clone(e[boltElementSize:2*boltElementSize])
		// Positions are relative to each element: move them by its size.
		binary.NativeEndian.PutUint32(a[4:], binary.NativeEndian.Uint32(a[4:])-boltElementSize)
		binary.NativeEndian.PutUint32(b[4:], binary.NativeEndian.Uint32(b[4:])+boltElementSize)
		copy(e, b)
		copy(e[boltElementSize:], a)
		return db
	}
	for _, tc := range []struct {
		name, want string
		damage     func(db []byte) []byte
	}{
		{"cut short", "cut short", func(db []byte) []byte { return db[:used-page/2] }},
		{"cut inside meta page 0", "cut short", func(db []byte) []byte { return db[:100] }},
		{"meta pages garbled", "meta pages", func(db []byte) []byte { clear(db[:2*page]); return db }},
		{"root page zeroed", "header says", func(db []byte) []byte { clear(db[root*page : (root+1)*page]); return db }},
		{"page type changed", "unexpected page type", func(db []byte) []byte { db[leaf*page+8] = 0x10; return db }},
		{"element count too large", "do not fit", func(db []byte) []byte {
			binary.NativeEndian.PutUint16(db[leaf*page+10:], 0xfff0)
			return db
		}},
		{"element past the page", "outside the page", func(db []byte) []byte {
			binary.NativeEndian.PutUint32(db[leaf*page+boltPageHeader+8:], 1<<20) // key size
			return db
		}},
		{"keys out of order", "out of order", swapKeys},
		{"overflow past the end", "overflow", func(db []byte) []byte {
			binary.NativeEndian.PutUint32(db[leaf*page+12:], 1<<20)
			return db
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.damage(bytes.Clone(good))
			err := checkBoltData(bytes.NewReader(db), int64(len(db)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("check: %v, want an error saying %q", err, tc.want)
			}
			if _, err := openDamaged(t, db); !errors.Is(err, ErrDatabaseDamaged) {
				t.Fatalf("open: %v, want ErrDatabaseDamaged", err)
			}
		})
	}
}

// FuzzOpenDamagedBoltFile: no damage to a database file may crash the
// process, at open or when the store reads it afterwards: the store either
// opens or fails with ErrDatabaseDamaged. The input patches a small sound
// file: each 3 bytes are a little-endian offset and a byte to XOR there; a
// final lone byte, if any, cuts the file to that many 256-byte blocks.
func FuzzOpenDamagedBoltFile(f *testing.F) {
	good, page, root := fuzzSeedDB(f)
	// Each input opens a store, which syncs: on a tmpfs that costs nothing.
	tmp := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		tmp = "/dev/shm"
	}
	at := func(off int, x byte) []byte { return []byte{byte(off), byte(off >> 8), x} }
	f.Add([]byte{})
	f.Add(at(root*page+8, 0x03))
	f.Add(at(root*page+boltPageHeader, 0x01)) // a bucket turned into a plain key
	f.Add(append(at(root*page+boltPageHeader+4, 0x40), at(2*page+1, 0xff)...))
	f.Add([]byte{byte(len(good)/256 - 20)})
	f.Fuzz(func(t *testing.T, patch []byte) {
		db := bytes.Clone(good)
		for len(patch) >= 3 {
			off := int(patch[0]) | int(patch[1])<<8
			if off < len(db) {
				db[off] ^= patch[2]
			}
			patch = patch[3:]
		}
		if len(patch) == 1 && int(patch[0])*256 < len(db) {
			db = db[:int(patch[0])*256]
		}
		dir, err := os.MkdirTemp(tmp, "switchyard-fuzz")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, DBFileName), db, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, time.Second)
		if err != nil {
			if !errors.Is(err, ErrDatabaseDamaged) {
				t.Fatalf("open failed without calling the file damaged: %v", err)
			}
			return
		}
		defer s.Close()
		// Whatever the reads answer, they answer.
		ctx := context.Background()
		s.ListRuns(ctx, engine.RunFilter{Limit: 500})
		s.ListRuns(ctx, engine.RunFilter{FlowID: "f", Status: engine.RunQueued})
		s.Pending(ctx)
		s.Flows(ctx)
		s.Connections(ctx)
		s.Tokens(ctx)
		s.UserCount(ctx)
		for seq := uint64(1); seq <= 60; seq += 7 {
			s.Run(ctx, formatID(runIDPrefix, seq))
			s.Event(ctx, formatID(eventIDPrefix, seq))
		}
	})
}

// fuzzSeedDB builds a small store the same way every time (bbolt alone,
// no applier to batch writes by timing), so that a failing input found
// once fails again: runs, events (some spilling onto overflow pages),
// queue entries, flows, and buckets small enough to be inline. It returns
// the file up to its last page in use, its page size and the root page of
// its bucket tree.
func fuzzSeedDB(t testing.TB) ([]byte, int, int) {
	t.Helper()
	const page = 4096
	path := filepath.Join(t.TempDir(), DBFileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, PageSize: page})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		for seq := uint64(1); seq <= 60; seq++ {
			r := &engine.Run{ID: formatID(runIDPrefix, seq), EventID: formatID(eventIDPrefix, seq), FlowID: "f",
				FlowVersion: 1, Status: engine.RunQueued, CreatedAt: at}
			if seq%3 == 0 {
				r.Status, r.FinishedAt = engine.RunSucceeded, &at
				r.Steps = []engine.StepResult{{ID: "s", Status: engine.StepSucceeded}}
			}
			record, err := appendRunJSON(nil, r)
			if err != nil {
				return err
			}
			sum := r.Summary()
			idx, _ := encodeIndex(&sum)
			if err := putIndexed(tx, seqKey(seq), "f", idx, time.Time{}, record); err != nil {
				return err
			}
			body := fmt.Appendf(nil, `{"n":%d}`, seq)
			if seq%10 == 0 {
				body = bytes.Repeat([]byte("b"), 5000)
			}
			ev := &engine.Event{ID: r.EventID, FlowID: "f", Source: "webhook", Body: body, ReceivedAt: at}
			if err := tx.Bucket(bucketEvents).Put(seqKey(seq), appendEventJSON(nil, ev)); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket(bucketFlows), []byte("f"), engine.FlowRecord{ID: "f", Version: 1, Flow: []byte(`{"id":"f"}`)}); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bucketTokens), []byte("h"), auth.TokenRecord{ID: "t", Hash: "h"}); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(walAppliedMeta, binary.BigEndian.AppendUint64(nil, 0))
	})
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := readBoltMeta(data)
	if m1, ok := readBoltMeta(data[page:]); ok && m1.txid > m.txid {
		m = m1
	}
	// bbolt grows files ahead; what lies past the pages is not needed.
	return data[:int(m.pgid)*page], page, int(m.root)
}

// BenchmarkCheckBoltFile measures the check at open next to bbolt's own
// open of the same file (which walks the same pages to rebuild its free
// list), on a store of 20000 finished runs.
func BenchmarkCheckBoltFile(b *testing.B) {
	good, page, _, used := sampleDB(b, 20000)
	path := filepath.Join(b.TempDir(), DBFileName)
	if err := os.WriteFile(path, good, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Logf("file %d MiB, %d pages in use", len(good)>>20, used/page)
	b.Run("check", func(b *testing.B) {
		b.SetBytes(int64(used))
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := checkBoltFile(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("bbolt-open", func(b *testing.B) {
		b.SetBytes(int64(used))
		for b.Loop() {
			db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType, InitialMmapSize: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			db.Close()
		}
	})
}

// TestReadFaultIsAnError: a fault reading the mapped file while the store
// runs (here the file cut short behind its back) fails that read with
// ErrDatabaseDamaged; it used to be a SIGBUS that ended the process.
func TestReadFaultIsAnError(t *testing.T) {
	s := storeCutShort(t)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.ListRuns(ctx, engine.RunFilter{}); !errors.Is(err, ErrDatabaseDamaged) {
		t.Fatalf("list runs over a file cut short: %v, want ErrDatabaseDamaged", err)
	}
	if _, err := s.Flows(ctx); !errors.Is(err, ErrDatabaseDamaged) {
		t.Fatalf("flows over a file cut short: %v, want ErrDatabaseDamaged", err)
	}
}

// TestWriteFaultDoesNotHang: with the file cut short behind the store's
// back, a write transaction faults reading it, and so does bbolt's
// rollback, which leaves bbolt's writer lock held. The next write waited
// for that lock for ever, and Close behind it (the race run of CI hung
// here for 16 minutes in TestReadFaultIsAnError, when the background
// indexer wrote after the cut). Writes now fail with ErrDatabaseDamaged,
// and Close returns.
func TestWriteFaultDoesNotHang(t *testing.T) {
	s := storeCutShort(t)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		for i := range 3 {
			err := s.AddRefusals(ctx, []engine.Refusal{{At: time.Now(), FlowID: "f", Status: 401, Reason: "signature"}},
				engine.RefusalBounds{PerFlow: 10, Total: 100})
			if !errors.Is(err, ErrDatabaseDamaged) {
				done <- fmt.Errorf("write %d over a file cut short: %v, want ErrDatabaseDamaged", i+1, err)
				return
			}
		}
		s.Close()
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writes or Close hung after a write faulted")
	}
}

// storeCutShort opens a store, writes 200 runs, and cuts its database
// file to the meta pages behind its back.
func storeCutShort(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 200 {
		if _, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", 500))), newRun("f"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ListRuns(ctx, engine.RunFilter{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, DBFileName), 8192); err != nil { // the meta pages only
		t.Fatal(err)
	}
	return s
}
