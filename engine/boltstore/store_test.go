package boltstore

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// The store-neutral checks (durability, dedupe, cursors, retention, final
// runs, flow versions, seen sets, refusals, auth records) are the
// conformance suite (conformance_test.go); these are bbolt's own.

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
