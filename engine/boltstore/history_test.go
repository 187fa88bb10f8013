package boltstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/storetest"
)

func flowUsage(u engine.HistoryUsage, flow string) engine.FlowUsage {
	for _, f := range u.Flows {
		if f.FlowID == flow {
			return f
		}
	}
	return engine.FlowUsage{FlowID: flow}
}

// TestTrimHistory: age, count per flow and size each delete the oldest
// finished runs, and never an unfinished one.
func TestTrimHistory(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour).UTC()
	storetest.FillRuns(t, s, "a", 10, old, false, 100)
	waiting := storetest.FillRuns(t, s, "c", 5, old, true, 100)
	storetest.FillRuns(t, s, "b", 30, time.Now().UTC(), false, 100)
	u, err := s.HistoryUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Runs != 45 || u.Unfinished != 5 || flowUsage(u, "b").Runs != 30 || u.Bytes <= 0 {
		t.Fatalf("usage %+v", u)
	}
	if sh := flowUsage(u, "b").Share; sh < 0.5 || sh > 0.8 {
		t.Errorf("flow b's share %.2f, want about 30/45", sh)
	}

	// By age: a's ten go, c's waiting runs (as old) stay.
	n, err := s.TrimHistory(ctx, engine.RetentionPolicy{Before: time.Now().Add(-24 * time.Hour)}, 1000)
	if err != nil || n != 10 {
		t.Fatalf("trim by age: %d, %v; want 10", n, err)
	}
	// By count: b keeps its newest 20.
	if n, err = s.TrimHistory(ctx, engine.RetentionPolicy{KeepPerFlow: 20}, 1000); err != nil || n != 10 {
		t.Fatalf("trim by count: %d, %v; want 10", n, err)
	}
	// c has 5 unfinished runs and a limit of 2: nothing of it goes.
	if n, err = s.TrimHistory(ctx, engine.RetentionPolicy{KeepPerFlow: 2}, 5); err != nil || n != 5 {
		t.Fatalf("trim by count with a limit: %d, %v; want 5 (b's, the limit)", n, err)
	}
	u, _ = s.HistoryUsage(ctx)
	if got := flowUsage(u, "b").Runs; got != 15 {
		t.Errorf("b has %d runs, want 15", got)
	}
	// By size: down to half of what is left; the oldest of b go first.
	half := u.Bytes / 2
	if _, err = s.TrimHistory(ctx, engine.RetentionPolicy{MaxBytes: half}, 1000); err != nil {
		t.Fatal(err)
	}
	u2, _ := s.HistoryUsage(ctx)
	if u2.Bytes > half || flowUsage(u2, "b").Runs >= 15 {
		t.Errorf("after trimming to %d bytes: %+v", half, u2)
	}
	// Nothing is under the budget by much: each run deleted was needed.
	if u2.Bytes < half-flowUsage(u, "b").Bytes/15*2 {
		t.Errorf("trimmed to %d bytes, more than needed for %d", u2.Bytes, half)
	}
	for _, id := range waiting {
		r, err := s.Run(ctx, id)
		if err != nil || r.Status != engine.RunWaiting {
			t.Fatalf("unfinished run %s: %v %v", id, r, err)
		}
	}
	if u2.Unfinished != 5 {
		t.Errorf("unfinished runs %d, want 5", u2.Unfinished)
	}
}

// TestCompactWhileAccepting: a compaction while writers go on shrinks the
// file, and every run acknowledged before, during and after it is there,
// also after a reopen.
func TestCompactWhileAccepting(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// In creation order, as runs are stored.
	storetest.FillRuns(t, s, "drop", 6000, time.Now().Add(-72*time.Hour).UTC(), false, 6000)
	kept := storetest.FillRuns(t, s, "keep", 200, time.Now().UTC(), false, 200)
	if n, err := s.TrimHistory(ctx, engine.RetentionPolicy{Before: time.Now().Add(-time.Hour)}, 100000); err != nil || n != 6000 {
		t.Fatalf("trim: %d, %v", n, err)
	}
	before, err := s.Space()
	if err != nil {
		t.Fatal(err)
	}
	if !engine.CompactDue(before, 1<<20) {
		t.Fatalf("space %+v: not due for compaction", before)
	}

	var mu sync.Mutex
	var during []string
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				r := newRun("live")
				if _, err := s.Accept(ctx, newEvent("live", fmt.Sprintf(`{"n":%d}`, i)), r, 0); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				during = append(during, r.ID)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	rep, err := s.Compact(ctx)
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Space()
	t.Logf("compaction: %d → %d bytes in %s (free before %d, after %d); %d runs accepted meanwhile",
		rep.BeforeBytes, rep.AfterBytes, rep.Took, before.FreeBytes, after.FreeBytes, len(during))
	if rep.AfterBytes >= rep.BeforeBytes/2 || after.FileBytes != rep.AfterBytes {
		t.Errorf("the file did not shrink: %+v, space %+v", rep, after)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFileName+compactSuffix)); !os.IsNotExist(err) {
		t.Errorf("the compaction's file stayed: %v", err)
	}
	check := func(s *Store) {
		for _, id := range append(append([]string{}, kept...), during...) {
			if _, err := s.Run(ctx, id); err != nil {
				t.Fatalf("run %s: %v", id, err)
			}
		}
	}
	check(s)
	// The store writes on after the swap.
	r := newRun("live")
	if _, err := s.Accept(ctx, newEvent("live", `{}`), r, 0); err != nil {
		t.Fatal(err)
	}
	during = append(during, r.ID)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2)
}
