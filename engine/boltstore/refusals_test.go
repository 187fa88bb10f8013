package boltstore

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// TestOldRefusalsMoved: a data dir from before the refusal log keeps its
// refusals per flow keyed by time; opening it moves them into the log,
// oldest first, and drops the old bucket.
func TestOldRefusalsMoved(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, DBFileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	old := []engine.Refusal{
		{At: at.Add(time.Minute), FlowID: "b", Remote: "192.0.2.2", Reason: "second", Status: 429},
		{At: at, FlowID: "a", Remote: "192.0.2.1", Scheme: "hmac", Reason: "first", Status: 401},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(oldRefusals)
		if err != nil {
			return err
		}
		for _, r := range old {
			v, _ := json.Marshal(r)
			if err := b.Put(keyAt(r.FlowID, uint64(r.At.UnixNano())), v); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.ListRefusals(context.Background(), engine.RefusalFilter{Limit: 10})
	if err != nil || len(p.Refusals) != 2 || p.Refusals[0].Reason != "second" || p.Refusals[1].Reason != "first" || p.Refusals[1].Scheme != "hmac" {
		t.Fatalf("moved refusals: %+v %v", p.Refusals, err)
	}
	if n, _ := s.CountRefusals(context.Background(), "a", at, 10); n != 1 {
		t.Errorf("flow a counts %d moved refusals, want 1", n)
	}
	s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(oldRefusals) != nil {
			t.Error("the old bucket is still there")
		}
		return nil
	})
}

// TestRefusalTrimsAfterDeletesInOneTx: a batch trims its flow's oldest
// refusals and then the log as a whole, in one write transaction. The
// flow's trim empties whole pages near the log's end, and bbolt's Prev
// stops at an empty page: counting back from the newest, the whole-log
// trim saw 10 refusals and kept 2,010 where the bound is 1,000 (the
// pages must hold committed refusals: within one transaction bbolt keeps
// new keys in one node until the commit splits it).
func TestRefusalTrimsAfterDeletesInOneTx(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	batch := func(flow string, n int) []engine.Refusal {
		rs := make([]engine.Refusal, n)
		for i := range rs {
			rs[i] = engine.Refusal{At: at.Add(time.Duration(i) * time.Millisecond), FlowID: flow, Status: 401,
				Kind: "signature", Reason: "the signature does not match", Method: "POST", Path: "/hooks/" + flow}
		}
		return rs
	}
	if err := s.AddRefusals(ctx, batch("b", 2000), engine.RefusalBounds{PerFlow: 5000, Total: 5000}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRefusals(ctx, batch("a", 2000), engine.RefusalBounds{PerFlow: 5000, Total: 5000}); err != nil {
		t.Fatal(err)
	}
	// Committed, a's 2,000 fill pages of their own; the next batch's
	// flow trim empties them.
	if err := s.AddRefusals(ctx, batch("a", 10), engine.RefusalBounds{PerFlow: 10, Total: 1000}); err != nil {
		t.Fatal(err)
	}
	count := func(flow string) int {
		n, err := s.CountRefusals(ctx, flow, time.Time{}, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	page, err := s.ListRefusals(ctx, engine.RefusalFilter{Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if a, b, all := count("a"), count("b"), len(page.Refusals); a != 10 || b != 990 || all != 1000 {
		t.Errorf("kept %d of a (want 10), %d of b (want 990), %d in all (want 1000)", a, b, all)
	}
}
