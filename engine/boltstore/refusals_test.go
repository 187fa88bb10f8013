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
