package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/pgstore"
	"github.com/switchyard/switchyard/engine/pgstore/pgtest"
)

func openStore(t *testing.T, url string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url, pgstore.Options{PoolSize: 8, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// acceptAll accepts evs[0] and evs[1], each in a transaction held until
// every other event waits, so that those share the next transaction.
func acceptAll(t *testing.T, s *pgstore.Store, evs []*engine.Event) ([]engine.AcceptResult, []error) {
	t.Helper()
	gate := make(chan struct{})
	pgstore.BeforeAcceptTx(s, func() { <-gate })
	defer pgstore.BeforeAcceptTx(s, nil)
	res, errs := make([]engine.AcceptResult, len(evs)), make([]error, len(evs))
	var wg sync.WaitGroup
	for i, ev := range evs {
		if i == 2 {
			waitFor(t, gate, func() int { return pgstore.FlushingAccepts(s) }, 2)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := &engine.Run{FlowID: ev.FlowID, FlowVersion: 1, Status: engine.RunQueued, CreatedAt: ev.ReceivedAt}
			res[i], errs[i] = s.Accept(context.Background(), ev, run, time.Hour)
			if errs[i] == nil && !res[i].Duplicate && (run.ID != res[i].RunID || ev.ID != res[i].EventID) {
				t.Errorf("event %d: ids not set on the event and run: %s %s, want %s %s", i, ev.ID, run.ID, res[i].EventID, res[i].RunID)
			}
		}()
	}
	waitFor(t, gate, func() int { return pgstore.PendingAccepts(s) }, len(evs)-2)
	close(gate)
	wg.Wait()
	return res, errs
}

// waitFor waits until count() reaches want; it opens gate and fails t
// after 20 s.
func waitFor(t *testing.T, gate chan struct{}, count func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for count() < want {
		if time.Now().After(deadline) {
			close(gate)
			t.Fatalf("count %d, want %d", count(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Concurrent accepts share transactions; each caller gets its own answer,
// after the commit: its run and event are there for a store opened
// afterwards, and duplicates by dedupe key, two inside one transaction
// included, name the first run.
func TestAcceptBatches(t *testing.T) {
	url := pgtest.Database(t)
	s := openStore(t, url)
	defer func() { s.Close() }()
	now := time.Now().UTC()
	const n = 40
	evs := make([]*engine.Event, n)
	for i := range evs {
		key := ""
		switch {
		case i%10 == 3:
			key = "same" // four events with one key
		case i%2 == 0:
			key = fmt.Sprintf("k%d", i)
		}
		evs[i] = &engine.Event{FlowID: "f", Source: "webhook", DedupeKey: key, ReceivedAt: now, Body: []byte(fmt.Sprintf(`{"i":%d}`, i))}
	}
	before := pgstore.AcceptTxs(s)
	res, errs := acceptAll(t, s, evs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	// Held: two transactions of one accept each; the 38 others in one.
	if got := pgstore.AcceptTxs(s) - before; got != 3 {
		t.Errorf("%d accept transactions for %d events, want 3", got, n)
	}
	var first string
	seen := map[string]bool{}
	for i, r := range res {
		if evs[i].DedupeKey == "same" {
			if !r.Duplicate {
				if first != "" {
					t.Fatalf("two runs for one dedupe key: %s and %s", first, r.RunID)
				}
				first = r.RunID
			}
			continue
		}
		if r.Duplicate || r.RunID == "" || r.EventID == "" {
			t.Fatalf("event %d: %+v, want a new run", i, r)
		}
		if seen[r.RunID] {
			t.Fatalf("run %s given twice", r.RunID)
		}
		seen[r.RunID] = true
	}
	if first == "" {
		t.Fatal("no run for the dedupe key shared by four events")
	}
	for i, r := range res {
		if evs[i].DedupeKey == "same" && r.Duplicate && r.RunID != first {
			t.Errorf("event %d: duplicate of %s, want %s", i, r.RunID, first)
		}
	}

	// Durable: another store on the database finds every run and event.
	s.Close()
	s = openStore(t, url)
	ctx := context.Background()
	for i, r := range res {
		if r.Duplicate {
			continue
		}
		run, err := s.Run(ctx, r.RunID)
		if err != nil {
			t.Fatalf("event %d: run %s: %v", i, r.RunID, err)
		}
		ev, err := s.Event(ctx, run.EventID)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.ID != r.EventID || string(ev.Body) != string(evs[i].Body) {
			t.Errorf("event %d: stored %s %s, want %s %s", i, ev.ID, ev.Body, r.EventID, evs[i].Body)
		}
	}
	// Still within its window, the key names the first run.
	again, err := s.Accept(ctx, &engine.Event{FlowID: "f", DedupeKey: "same", ReceivedAt: now.Add(time.Minute)},
		&engine.Run{FlowID: "f", FlowVersion: 1, Status: engine.RunQueued, CreatedAt: now}, time.Hour)
	if err != nil || !again.Duplicate || again.RunID != first {
		t.Errorf("the key again: %+v, %v; want a duplicate of %s", again, err, first)
	}
}

// A row the database refuses fails its own accept only: the shared
// transaction is given up and its events accepted one by one.
func TestAcceptBatchBadRow(t *testing.T) {
	s := openStore(t, pgtest.Database(t))
	defer s.Close()
	now := time.Now().UTC()
	evs := make([]*engine.Event, 12)
	for i := range evs {
		evs[i] = &engine.Event{FlowID: "f", Source: "webhook", DedupeKey: fmt.Sprintf("k%d", i), ReceivedAt: now}
	}
	bad := len(evs) - 1       // in the shared transaction (the first two go alone)
	evs[bad].FlowID = "f\x00" // text cannot hold NUL
	before := pgstore.AcceptTxs(s)
	res, errs := acceptAll(t, s, evs)
	for i := range evs {
		if i == bad {
			if errs[i] == nil {
				t.Errorf("the bad row was accepted: %+v", res[i])
			}
			continue
		}
		if errs[i] != nil || res[i].Duplicate {
			t.Fatalf("event %d: %+v, %v", i, res[i], errs[i])
		}
		if _, err := s.Run(context.Background(), res[i].RunID); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	// Two alone, then the shared one failed: one each for the ten others.
	if got := pgstore.AcceptTxs(s) - before; got != int64(len(evs)-1) {
		t.Errorf("%d accept transactions committed, want %d", got, len(evs)-1)
	}
}
