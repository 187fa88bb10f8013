package boltstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestLastUnderAfterEmptyingBucket: in a write transaction that deleted
// every key of a bucket of several pages, finding the last key answers
// none. bbolt's Cursor.Last looped for ever there, which could hang the
// applier (its batches join several writers' work in one transaction:
// retention emptying a bucket, then a tick looking up its flow's newest).
func TestLastUnderAfterEmptyingBucket(t *testing.T) {
	db := postingsDB(t)
	err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		for i := range uint64(5000) {
			if err := b.Put(compositeKey("flow", seqKey(i)), []byte("x")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	updateWithin(t, db, 20*time.Second, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		for i := range uint64(5000) {
			if err := b.Delete(compositeKey("flow", seqKey(i))); err != nil {
				return err
			}
		}
		if k, _ := lastUnder(b.Cursor(), compositeKey("flow", nil)); k != nil {
			t.Errorf("last key under flow in an emptied bucket: %x", k)
		}
		if k, _ := lastOf(b.Cursor()); k != nil {
			t.Errorf("last key of an emptied bucket: %x", k)
		}
		return nil
	})
}

// TestLastUnderAcrossEmptiedPages: in a write transaction whose deletes
// emptied the pages between a prefix's last key and the next key, bbolt's
// Prev stops at the first empty page as if the bucket began there. The
// tick dedup (lastTick) asks lastUnder in the applier's transaction, which
// may hold another writer's deletes; lastUnder must still find the key.
func TestLastUnderAcrossEmptiedPages(t *testing.T) {
	db := postingsDB(t)
	put := func(b *bolt.Bucket, flow string, n uint64) error {
		for i := range n {
			if err := b.Put(compositeKey(flow, seqKey(i)), []byte("x")); err != nil {
				return err
			}
		}
		return nil
	}
	err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		return errors.Join(put(b, "a", 3), put(b, "b", 5000), put(b, "c", 3))
	})
	if err != nil {
		t.Fatal(err)
	}
	updateWithin(t, db, 20*time.Second, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		for i := range uint64(5000) {
			if err := b.Delete(compositeKey("b", seqKey(i))); err != nil {
				return err
			}
		}
		want := compositeKey("a", seqKey(2))
		if k, _ := lastUnder(b.Cursor(), compositeKey("a", nil)); !bytes.Equal(k, want) {
			t.Errorf("last key under a = %x, want %x", k, want)
		}
		if k, _ := lastUnder(b.Cursor(), compositeKey("b", nil)); k != nil {
			t.Errorf("last key under the emptied b = %x, want none", k)
		}
		return nil
	})
}

// updateWithin runs fn in a write transaction and fails the test when it
// has not finished within limit (a cursor that loops for ever).
func updateWithin(t *testing.T, db *bolt.DB, limit time.Duration, fn func(*bolt.Tx) error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- db.Update(fn) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(limit):
		t.Fatalf("a write transaction did not finish in %s", limit)
	}
}
