package boltstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	bolt "go.etcd.io/bbolt"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newEvent(flow, body string) *engine.Event {
	return &engine.Event{FlowID: flow, Source: "webhook", ContentType: "application/json", Body: []byte(body), ReceivedAt: time.Now().UTC()}
}

func newRun(flow string) *engine.Run {
	return &engine.Run{FlowID: flow, FlowVersion: 1, Status: engine.RunQueued, CreatedAt: time.Now().UTC()}
}

func TestStoreAcceptConcurrent(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	const n = 500
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"i":%d}`, i)), newRun("f"), time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- res.RunID
		}(i)
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("run id %s given twice", id)
		}
		seen[id] = true
	}
	pend, err := s.Pending(ctx)
	if err != nil || len(pend) != n {
		t.Fatalf("pending %d (%v), want %d", len(pend), err, n)
	}
}

func TestStoreDedupe(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	ev := newEvent("f", `{}`)
	ev.DedupeKey = "delivery-1"
	first, err := s.Accept(ctx, ev, newRun("f"), time.Hour)
	if err != nil || first.Duplicate {
		t.Fatal(first, err)
	}
	ev2 := newEvent("f", `{}`)
	ev2.DedupeKey = "delivery-1"
	second, err := s.Accept(ctx, ev2, newRun("f"), time.Hour)
	if err != nil || !second.Duplicate || second.RunID != first.RunID {
		t.Fatalf("second delivery: %+v %v", second, err)
	}
	// Another flow may use the same key.
	ev3 := newEvent("g", `{}`)
	ev3.DedupeKey = "delivery-1"
	if third, _ := s.Accept(ctx, ev3, newRun("g"), time.Hour); third.Duplicate {
		t.Fatal("dedupe leaked across flows")
	}
	// After the window the key is forgotten.
	ev4 := newEvent("f", `{}`)
	ev4.DedupeKey = "delivery-1"
	ev4.ReceivedAt = time.Now().Add(2 * time.Hour)
	if fourth, _ := s.Accept(ctx, ev4, newRun("f"), time.Hour); fourth.Duplicate {
		t.Fatal("dedupe outlived its window")
	}
	page, _ := s.ListRuns(ctx, engine.RunFilter{})
	if len(page.Runs) != 3 {
		t.Fatalf("%d runs stored, want 3", len(page.Runs))
	}
}

func TestStoreFinalRunNeverRewritten(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	run := newRun("f")
	if _, err := s.Accept(ctx, newEvent("f", `{}`), run, time.Hour); err != nil {
		t.Fatal(err)
	}
	due := time.Now().Add(time.Minute)
	run.Status, run.DueAt = engine.RunWaiting, &due
	if err := s.SaveRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	pend, _ := s.Pending(ctx)
	if len(pend) != 1 || !pend[0].Due.Equal(due) {
		t.Fatalf("queue entry %+v, want due %v", pend, due)
	}
	run.Status, run.DueAt = engine.RunSucceeded, nil
	if err := s.SaveRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if pend, _ := s.Pending(ctx); len(pend) != 0 {
		t.Fatalf("final run still queued: %+v", pend)
	}
	run.Status, run.Error = engine.RunFailed, "rewrite"
	if err := s.SaveRun(ctx, run); !errors.Is(err, engine.ErrRunFinal) {
		t.Fatalf("rewrite of a final run: %v", err)
	}
	got, _ := s.Run(ctx, run.ID)
	if got.Status != engine.RunSucceeded || got.Error != "" {
		t.Fatalf("final run changed: %+v", got)
	}
}

func TestStoreListRuns(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	var all []string
	for i := 0; i < 25; i++ {
		flow := "a"
		if i%2 == 1 {
			flow = "b"
		}
		run := newRun(flow)
		if _, err := s.Accept(ctx, newEvent(flow, `{}`), run, time.Hour); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			run.Status = engine.RunFailed
			if err := s.SaveRun(ctx, run); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, run.ID)
	}
	tests := []struct {
		name string
		f    engine.RunFilter
		want int
	}{
		{"all", engine.RunFilter{Limit: 500}, 25},
		{"flow a", engine.RunFilter{FlowID: "a"}, 13},
		{"flow b", engine.RunFilter{FlowID: "b"}, 12},
		{"failed", engine.RunFilter{Status: engine.RunFailed}, 5},
		{"failed in b", engine.RunFilter{FlowID: "b", Status: engine.RunFailed}, 2},
		{"unknown flow", engine.RunFilter{FlowID: "zz"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []engine.RunSummary
			f := tc.f
			f.Limit = 4
			for pages := 0; ; pages++ {
				page, err := s.ListRuns(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page.Runs...)
				if page.NextCursor == "" {
					break
				}
				if pages > 20 {
					t.Fatal("pagination does not end")
				}
				f.Cursor = page.NextCursor
			}
			if len(got) != tc.want {
				t.Fatalf("%d runs, want %d", len(got), tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i-1].ID <= got[i].ID {
					t.Fatalf("not newest first: %s then %s", got[i-1].ID, got[i].ID)
				}
			}
		})
	}
}

func TestStoreRetention(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	old := newRun("f")
	old.CreatedAt = time.Now().Add(-48 * time.Hour)
	s.Accept(ctx, newEvent("f", `{}`), old, time.Hour)
	old.Status = engine.RunSucceeded
	s.SaveRun(ctx, old)
	pending := newRun("f")
	pending.CreatedAt = time.Now().Add(-48 * time.Hour)
	s.Accept(ctx, newEvent("f", `{}`), pending, time.Hour)
	fresh := newRun("f")
	s.Accept(ctx, newEvent("f", `{}`), fresh, time.Hour)
	fresh.Status = engine.RunSucceeded
	s.SaveRun(ctx, fresh)

	n, err := s.DeleteRunsBefore(ctx, time.Now().Add(-24*time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d (%v), want 1", n, err)
	}
	if _, err := s.Run(ctx, old.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("old run still there: %v", err)
	}
	if _, err := s.Event(ctx, old.EventID); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("old event still there: %v", err)
	}
	for _, r := range []*engine.Run{pending, fresh} {
		if _, err := s.Run(ctx, r.ID); err != nil {
			t.Errorf("run %s deleted: %v", r.ID, err)
		}
	}
}

func TestOpenBoltLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(dir, 200*time.Millisecond)
	if !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("second open took too long")
	}
}

func TestFlowVersions(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	r1, _ := s.PutFlow(ctx, "f", []byte(`{"v":1}`))
	r2, _ := s.PutFlow(ctx, "f", []byte(`{"v":2}`))
	if r1.Version != 1 || r2.Version != 2 {
		t.Fatalf("versions %d %d", r1.Version, r2.Version)
	}
	s.DeleteFlow(ctx, "f")
	r3, _ := s.PutFlow(ctx, "f", []byte(`{"v":3}`))
	if r3.Version != 3 {
		t.Fatalf("re-created flow got version %d, want 3", r3.Version)
	}
	v1, err := s.FlowVersion(ctx, "f", 1)
	if err != nil || string(v1.Flow) != `{"v":1}` {
		t.Fatalf("version 1: %s %v", v1.Flow, err)
	}
}

// Tick keys older than the horizon are pruned when a newer tick fires,
// and a tick that old is refused rather than fired again.
func TestTickKeysPrunedBeyondHorizon(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.PutFlow(ctx, "h", []byte(`{"id":"h"}`)); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tick := range []time.Time{old, old.Add(48 * time.Hour)} {
		if res, err := s.AcceptTick(ctx, newEvent("h", `{}`), newRun("h"), tick); err != nil || res.Duplicate {
			t.Fatal(res, err)
		}
	}
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTicks).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Fatalf("%d tick keys kept, want 1 (the old one pruned)", n)
	}
	if res, err := s.AcceptTick(ctx, newEvent("h", `{}`), newRun("h"), old); err != nil || !res.Duplicate {
		t.Fatalf("a tick beyond the horizon fired again: %+v %v", res, err)
	}
}
