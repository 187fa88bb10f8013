package boltstore

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// Reseal implements engine.Store. It rewrites the connections and the meta value
// in one transaction of its own, not the group commit: should anything
// fail half-way, all of it must roll back, which a transaction shared with
// other writers cannot do for one of them. fn is CPU only (it decrypts and
// encrypts), and running it inside the transaction keeps a connection
// written meanwhile from being missed.
func (s *Store) Reseal(ctx context.Context, metaKey string, fn func(sealed, ad []byte) ([]byte, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	// Not on the applier: hold the file a compaction would swap.
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var metaValue []byte
		if sealed := meta.Get([]byte(metaKey)); sealed != nil {
			v, err := fn(sealed, []byte(metaKey))
			if err != nil {
				return err
			}
			metaValue = v
		}
		conns := tx.Bucket(bucketConnections)
		type rewrite struct{ key, value []byte }
		var out []rewrite
		err := conns.ForEach(func(k, v []byte) error {
			var rec engine.ConnectionRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode connection %q: %w", k, err)
			}
			sealed, err := fn(rec.Sealed, []byte(rec.Name))
			if err != nil {
				return err
			}
			rec.Sealed = sealed
			data, err := json.Marshal(&rec)
			if err != nil {
				return fmt.Errorf("encode connection %q: %w", rec.Name, err)
			}
			out = append(out, rewrite{key: append([]byte(nil), k...), value: data})
			return nil
		})
		if err != nil {
			return err
		}
		// Every record was read before any is written: ForEach must not
		// see the bucket change under it.
		for _, r := range out {
			if err := conns.Put(r.key, r.value); err != nil {
				return err
			}
		}
		n = len(out)
		if metaValue == nil {
			return nil
		}
		return meta.Put([]byte(metaKey), metaValue)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
