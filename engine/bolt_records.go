package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PutFlow implements Store.
func (s *BoltStore) PutFlow(ctx context.Context, id string, raw []byte) (FlowRecord, error) {
	var rec FlowRecord
	raw = bytes.Clone(raw)
	err := s.write(ctx, func(tx *bolt.Tx) (err error) {
		rec, err = putFlowTx(tx, id, raw, time.Now().UTC())
		return err
	})
	if err != nil {
		return FlowRecord{}, fmt.Errorf("store: put flow %q: %w", id, err)
	}
	return rec, nil
}

// putFlowTx stores raw as the flow's next version.
func putFlowTx(tx *bolt.Tx, id string, raw []byte, now time.Time) (FlowRecord, error) {
	b := tx.Bucket(bucketFlows)
	var old, rec FlowRecord
	switch err := getJSON(b, []byte(id), &old); err {
	case nil:
		rec = FlowRecord{ID: id, Flow: raw, Version: old.Version + 1, CreatedAt: old.CreatedAt, UpdatedAt: now}
	case ErrNotFound:
		// A deleted flow that comes back continues its version
		// numbers, so old runs never point at a different definition.
		rec = FlowRecord{ID: id, Flow: raw, Version: lastVersion(tx, id) + 1, CreatedAt: now, UpdatedAt: now}
	default:
		return rec, err
	}
	if err := tx.Bucket(bucketFlowVersions).Put(versionKey(id, rec.Version), raw); err != nil {
		return rec, err
	}
	return rec, putJSON(b, []byte(id), rec)
}

func lastVersion(tx *bolt.Tx, id string) int64 {
	prefix := compositeKey(id, nil)
	c := tx.Bucket(bucketFlowVersions).Cursor()
	var last int64
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix)+8 {
			last = int64(binary.BigEndian.Uint64(k[len(prefix):]))
		}
	}
	return last
}

// Flow implements Store.
func (s *BoltStore) Flow(ctx context.Context, id string) (FlowRecord, error) {
	var rec FlowRecord
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketFlows), []byte(id), &rec) })
	if err != nil {
		return FlowRecord{}, fmt.Errorf("store: flow %q: %w", id, err)
	}
	return rec, nil
}

// FlowVersion implements Store.
func (s *BoltStore) FlowVersion(ctx context.Context, id string, version int64) (FlowRecord, error) {
	var rec FlowRecord
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketFlowVersions).Get(versionKey(id, version))
		if raw == nil {
			return ErrNotFound
		}
		rec = FlowRecord{ID: id, Flow: bytes.Clone(raw), Version: version}
		return nil
	})
	if err != nil {
		return FlowRecord{}, fmt.Errorf("store: flow %q version %d: %w", id, version, err)
	}
	return rec, nil
}

// Flows implements Store.
func (s *BoltStore) Flows(ctx context.Context) ([]FlowRecord, error) {
	out := []FlowRecord{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFlows).ForEach(func(_, v []byte) error {
			var rec FlowRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list flows: %w", err)
	}
	return out, nil
}

// DeleteFlow implements Store. Its versions stay, so that the history of
// runs it made can still be read.
func (s *BoltStore) DeleteFlow(ctx context.Context, id string) error {
	return s.deleteKey(ctx, bucketFlows, []byte(id), "flow "+id)
}

func (s *BoltStore) deleteKey(ctx context.Context, bucket, key []byte, what string) error {
	err := s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get(key) == nil {
			return ErrNotFound
		}
		return b.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", what, err)
	}
	return nil
}

func (s *BoltStore) putRecord(ctx context.Context, bucket, key []byte, v any, what string) error {
	err := s.write(ctx, func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucket), key, v) })
	if err != nil {
		return fmt.Errorf("store: put %s: %w", what, err)
	}
	return nil
}

func (s *BoltStore) getRecord(bucket, key []byte, v any, what string) error {
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucket), key, v) })
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func listRecords[T any](s *BoltStore, bucket []byte, what string) ([]T, error) {
	out := []T{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			var rec T
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", what, err)
	}
	return out, nil
}

// PutConnection implements Store.
func (s *BoltStore) PutConnection(ctx context.Context, c ConnectionRecord) error {
	return s.putRecord(ctx, bucketConnections, []byte(c.Name), c, "connection "+c.Name)
}

// Connection implements Store.
func (s *BoltStore) Connection(ctx context.Context, name string) (ConnectionRecord, error) {
	var c ConnectionRecord
	err := s.getRecord(bucketConnections, []byte(name), &c, "connection "+name)
	return c, err
}

// Connections implements Store.
func (s *BoltStore) Connections(ctx context.Context) ([]ConnectionRecord, error) {
	return listRecords[ConnectionRecord](s, bucketConnections, "connections")
}

// DeleteConnection implements Store.
func (s *BoltStore) DeleteConnection(ctx context.Context, name string) error {
	return s.deleteKey(ctx, bucketConnections, []byte(name), "connection "+name)
}

// PutToken implements Store.
func (s *BoltStore) PutToken(ctx context.Context, t TokenRecord) error {
	return s.putRecord(ctx, bucketTokens, []byte(t.Hash), t, "token "+t.ID)
}

// TokenByHash implements Store.
func (s *BoltStore) TokenByHash(ctx context.Context, hash string) (TokenRecord, error) {
	var t TokenRecord
	err := s.getRecord(bucketTokens, []byte(hash), &t, "token")
	return t, err
}

// Tokens implements Store.
func (s *BoltStore) Tokens(ctx context.Context) ([]TokenRecord, error) {
	return listRecords[TokenRecord](s, bucketTokens, "tokens")
}

// DeleteToken implements Store.
func (s *BoltStore) DeleteToken(ctx context.Context, id string) error {
	toks, err := s.Tokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID == id {
			return s.deleteKey(ctx, bucketTokens, []byte(t.Hash), "token "+id)
		}
	}
	return fmt.Errorf("store: delete token %s: %w", id, ErrNotFound)
}

// Meta implements Store.
func (s *BoltStore) Meta(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: meta %q: %w", key, err)
	}
	return out, nil
}

// PutMeta implements Store.
func (s *BoltStore) PutMeta(ctx context.Context, key string, value []byte) error {
	value = bytes.Clone(value)
	err := s.write(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte(key), value) })
	if err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return nil
}

// CreateFirstUser implements Store.
func (s *BoltStore) CreateFirstUser(ctx context.Context, u UserRecord) error {
	err := s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if k, _ := b.Cursor().First(); k != nil {
			return ErrSetupDone
		}
		return putJSON(b, []byte(u.Name), u)
	})
	if err != nil {
		return fmt.Errorf("store: create first user: %w", err)
	}
	return nil
}

// User implements Store.
func (s *BoltStore) User(ctx context.Context, name string) (UserRecord, error) {
	var u UserRecord
	err := s.getRecord(bucketUsers, []byte(name), &u, "user "+name)
	return u, err
}

// UserCount implements Store.
func (s *BoltStore) UserCount(ctx context.Context) (int, error) {
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketUsers).Stats().KeyN
		return nil
	})
	return n, err
}

// PutSession implements Store.
func (s *BoltStore) PutSession(ctx context.Context, sess SessionRecord) error {
	return s.putRecord(ctx, bucketSessions, []byte(sess.Hash), sess, "session")
}

// Session implements Store.
func (s *BoltStore) Session(ctx context.Context, hash string) (SessionRecord, error) {
	var sess SessionRecord
	err := s.getRecord(bucketSessions, []byte(hash), &sess, "session")
	return sess, err
}

// DeleteSession implements Store.
func (s *BoltStore) DeleteSession(ctx context.Context, hash string) error {
	return s.deleteKey(ctx, bucketSessions, []byte(hash), "session")
}

// PurgeSessions implements Store.
func (s *BoltStore) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	var stale [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			var sess SessionRecord
			if json.Unmarshal(v, &sess) == nil && !sess.ExpiresAt.After(now) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		for _, k := range stale {
			if err := tx.Bucket(bucketSessions).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return len(stale), err
}

var _ Store = (*BoltStore)(nil)
