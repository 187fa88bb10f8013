package boltstore

import (
	"bytes"
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// AddRefusals implements engine.Store: it keeps the newest `keep` per flow.
func (s *Store) AddRefusals(ctx context.Context, rs []engine.Refusal, keep int) error {
	vals := make([][]byte, len(rs))
	for i := range rs {
		v, err := json.Marshal(rs[i])
		if err != nil {
			return err
		}
		vals[i] = v
	}
	return s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefusals)
		flows := map[string]bool{}
		for i, r := range rs {
			if err := b.Put(refusalKey(r), vals[i]); err != nil {
				return err
			}
			flows[r.FlowID] = true
		}
		for f := range flows {
			prefix := compositeKey(f, nil)
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			for i := 0; i < len(keys)-keep; i++ {
				if err := b.Delete(keys[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Refusals implements engine.Store: newest first.
func (s *Store) Refusals(ctx context.Context, flowID string, limit int) ([]engine.Refusal, error) {
	var out []engine.Refusal
	err := s.view(func(tx *bolt.Tx) error {
		prefix := compositeKey(flowID, nil)
		c := tx.Bucket(bucketRefusals).Cursor()
		for k, v := lastUnder(c, prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
			var r engine.Refusal
			if json.Unmarshal(v, &r) == nil {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}
