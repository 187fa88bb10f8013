package pgstore_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/pgstore"
	"github.com/switchyard/switchyard/engine/pgstore/pgtest"
)

// twoNodes opens two stores on one fresh database, as two nodes would
// (both migrating at once: the advisory lock lets one do it).
func twoNodes(t *testing.T) (*pgstore.Store, *pgstore.Store) {
	url := pgtest.Database(t)
	var stores [2]*pgstore.Store
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := pgstore.Open(context.Background(), url, pgstore.Options{PoolSize: 8, Node: []string{"a", "b"}[i], Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return stores[0], stores[1]
}

// The same delivery taken by two nodes at once, many times over, makes
// one run per delivery; the same tick fired by both makes one run.
func TestTwoNodesOneRun(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	if _, err := a.PutFlow(ctx, "f", []byte(`{"id":"f","enabled":true}`)); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 20 {
		var wg sync.WaitGroup
		res := make([]engine.AcceptResult, 2)
		for j, s := range []*pgstore.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev := &engine.Event{FlowID: "f", Source: "webhook", DedupeKey: "d" + string(rune('a'+i)), ReceivedAt: now}
				r, err := s.Accept(ctx, ev, &engine.Run{FlowID: "f", FlowVersion: 1, Status: engine.RunQueued, CreatedAt: now}, time.Hour)
				if err != nil {
					t.Error(err)
				}
				res[j] = r
			}()
		}
		wg.Wait()
		if res[0].Duplicate == res[1].Duplicate || res[0].RunID != res[1].RunID {
			t.Fatalf("delivery %d taken by both nodes: %+v", i, res)
		}
		tick := now.Truncate(time.Second).Add(time.Duration(i) * time.Minute)
		for j, s := range []*pgstore.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev := &engine.Event{FlowID: "f", Source: "schedule", ReceivedAt: now}
				r, err := s.AcceptTick(ctx, ev, &engine.Run{FlowID: "f", FlowVersion: 1, Status: engine.RunQueued, CreatedAt: now}, tick)
				if err != nil {
					t.Error(err)
				}
				res[j] = r
			}()
		}
		wg.Wait()
		if res[0].Duplicate == res[1].Duplicate || res[0].RunID != res[1].RunID {
			t.Fatalf("tick %d fired by both nodes: %+v", i, res)
		}
	}
	if n, err := a.CountPending(ctx); err != nil || n != 40 {
		t.Fatalf("%d runs (%v), want 40", n, err)
	}
}

// One node holds a flow's poll lease until it lapses; then the other
// takes it.
func TestPollLease(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	lease := func(s *pgstore.Store, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.LeasePoll(ctx, "p", ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lease(a, time.Second) {
		t.Fatal("the first node did not get the free lease")
	}
	if lease(b, time.Second) {
		t.Fatal("the second node took a held lease")
	}
	if !lease(a, time.Second) {
		t.Fatal("the holder could not renew its lease")
	}
	time.Sleep(1200 * time.Millisecond)
	if !lease(b, time.Minute) {
		t.Fatal("the second node did not take a lapsed lease")
	}
	if lease(a, time.Second) {
		t.Fatal("the first node took back a lease another holds")
	}
}
