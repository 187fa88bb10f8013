package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// AddAudit implements engine.AuditStore. Entries are numbered by the
// bucket's sequence and never deleted but by this trim, so the oldest
// kept is the one keep numbers below the newest.
func (s *Store) AddAudit(ctx context.Context, entries []engine.AuditEntry, keep int) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		var seq uint64
		for _, a := range entries {
			n, err := b.NextSequence()
			if err != nil {
				return err
			}
			seq = n
			a.ID = ""
			v, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(seq), v); err != nil {
				return err
			}
		}
		if seq <= uint64(keep) {
			return nil
		}
		first := seqKey(seq - uint64(keep) + 1)
		var old [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, first) < 0; k, _ = c.Next() {
			old = append(old, bytes.Clone(k))
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListAudit implements engine.AuditStore: newest first, filtered as it
// walks (the trail is bounded, so a filter that matches little reads at
// most AuditKept entries).
func (s *Store) ListAudit(ctx context.Context, f engine.AuditFilter) (engine.AuditPage, error) {
	page := engine.AuditPage{Entries: []engine.AuditEntry{}}
	before, err := seqCursor("audit", f.Cursor)
	if err != nil {
		return page, err
	}
	err = s.view(func(tx *bolt.Tx) error {
		walkNewest(tx.Bucket(bucketAudit), before, func(k, v []byte) bool {
			var a engine.AuditEntry
			if json.Unmarshal(v, &a) != nil || !f.Matches(a) {
				return true
			}
			a.ID = strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
			if len(page.Entries) == f.Limit {
				page.NextCursor = page.Entries[len(page.Entries)-1].ID
				return false
			}
			page.Entries = append(page.Entries, a)
			return true
		})
		return nil
	})
	return page, err
}

var _ engine.AuditStore = (*Store)(nil)
