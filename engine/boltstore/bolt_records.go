package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
)

// PutFlow implements engine.Store.
func (s *Store) PutFlow(ctx context.Context, id string, raw []byte) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	raw = bytes.Clone(raw)
	err := s.write(ctx, func(tx *bolt.Tx) (err error) {
		rec, err = putFlowTx(tx, id, raw, time.Now().UTC())
		return err
	})
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: put flow %q: %w", id, err)
	}
	return rec, nil
}

// putFlowTx stores raw as the flow's next version.
func putFlowTx(tx *bolt.Tx, id string, raw []byte, now time.Time) (engine.FlowRecord, error) {
	b := tx.Bucket(bucketFlows)
	var old, rec engine.FlowRecord
	switch err := getJSON(b, []byte(id), &old); err {
	case nil:
		rec = engine.FlowRecord{ID: id, Flow: raw, Version: old.Version + 1, CreatedAt: old.CreatedAt, UpdatedAt: now}
	case engine.ErrNotFound:
		// A deleted flow that comes back continues its version
		// numbers, so old runs never point at a different definition.
		rec = engine.FlowRecord{ID: id, Flow: raw, Version: lastVersion(tx, id) + 1, CreatedAt: now, UpdatedAt: now}
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

// Flow implements engine.Store.
func (s *Store) Flow(ctx context.Context, id string) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketFlows), []byte(id), &rec) })
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: flow %q: %w", id, err)
	}
	return rec, nil
}

// FlowVersion implements engine.Store.
func (s *Store) FlowVersion(ctx context.Context, id string, version int64) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	err := s.view(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketFlowVersions).Get(versionKey(id, version))
		if raw == nil {
			return engine.ErrNotFound
		}
		rec = engine.FlowRecord{ID: id, Flow: bytes.Clone(raw), Version: version}
		return nil
	})
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: flow %q version %d: %w", id, version, err)
	}
	return rec, nil
}

// Flows implements engine.Store.
func (s *Store) Flows(ctx context.Context) ([]engine.FlowRecord, error) {
	out := []engine.FlowRecord{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFlows).ForEach(func(_, v []byte) error {
			var rec engine.FlowRecord
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

// DeleteFlow implements engine.Store. Its versions stay, so that the history of
// runs it made can still be read.
func (s *Store) DeleteFlow(ctx context.Context, id string) error {
	return s.deleteKey(ctx, bucketFlows, []byte(id), "flow "+id)
}

func (s *Store) deleteKey(ctx context.Context, bucket, key []byte, what string) error {
	err := s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get(key) == nil {
			return engine.ErrNotFound
		}
		return b.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", what, err)
	}
	return nil
}

func (s *Store) putRecord(ctx context.Context, bucket, key []byte, v any, what string) error {
	err := s.write(ctx, func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucket), key, v) })
	if err != nil {
		return fmt.Errorf("store: put %s: %w", what, err)
	}
	return nil
}

func (s *Store) getRecord(bucket, key []byte, v any, what string) error {
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucket), key, v) })
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func listRecords[T any](s *Store, bucket []byte, what string) ([]T, error) {
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

// PutConnection implements engine.Store.
func (s *Store) PutConnection(ctx context.Context, c engine.ConnectionRecord) error {
	return s.putRecord(ctx, bucketConnections, []byte(c.Name), c, "connection "+c.Name)
}

// Connection implements engine.Store.
func (s *Store) Connection(ctx context.Context, name string) (engine.ConnectionRecord, error) {
	var c engine.ConnectionRecord
	err := s.getRecord(bucketConnections, []byte(name), &c, "connection "+name)
	return c, err
}

// Connections implements engine.Store.
func (s *Store) Connections(ctx context.Context) ([]engine.ConnectionRecord, error) {
	return listRecords[engine.ConnectionRecord](s, bucketConnections, "connections")
}

// DeleteConnection implements engine.Store.
func (s *Store) DeleteConnection(ctx context.Context, name string) error {
	return s.deleteKey(ctx, bucketConnections, []byte(name), "connection "+name)
}

// PutToken implements engine.Store.
func (s *Store) PutToken(ctx context.Context, t auth.TokenRecord) error {
	return s.putRecord(ctx, bucketTokens, []byte(t.Hash), t, "token "+t.ID)
}

// TokenByHash implements engine.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (auth.TokenRecord, error) {
	var t auth.TokenRecord
	err := s.getRecord(bucketTokens, []byte(hash), &t, "token")
	return t, authErr(err)
}

// Tokens implements engine.Store.
func (s *Store) Tokens(ctx context.Context) ([]auth.TokenRecord, error) {
	return listRecords[auth.TokenRecord](s, bucketTokens, "tokens")
}

// DeleteToken implements engine.Store.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	toks, err := s.Tokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID == id {
			return authErr(s.deleteKey(ctx, bucketTokens, []byte(t.Hash), "token "+id))
		}
	}
	return authErr(fmt.Errorf("store: delete token %s: %w", id, engine.ErrNotFound))
}

// Meta implements engine.Store.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get([]byte(key))
		if v == nil {
			return engine.ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: meta %q: %w", key, err)
	}
	return out, nil
}

// PutMeta implements engine.Store.
func (s *Store) PutMeta(ctx context.Context, key string, value []byte) error {
	value = bytes.Clone(value)
	err := s.write(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte(key), value) })
	if err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return nil
}

// CreateFirstUser implements engine.Store.
func (s *Store) CreateFirstUser(ctx context.Context, u auth.UserRecord) error {
	err := s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if k, _ := b.Cursor().First(); k != nil {
			return auth.ErrSetupDone
		}
		return putJSON(b, []byte(u.Name), u)
	})
	if err != nil {
		return fmt.Errorf("store: create first user: %w", err)
	}
	return nil
}

// User implements engine.Store.
func (s *Store) User(ctx context.Context, name string) (auth.UserRecord, error) {
	var u auth.UserRecord
	err := s.getRecord(bucketUsers, []byte(name), &u, "user "+name)
	return u, authErr(err)
}

// UserCount implements engine.Store.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketUsers).Stats().KeyN
		return nil
	})
	return n, err
}

// PutSession implements engine.Store.
func (s *Store) PutSession(ctx context.Context, sess auth.SessionRecord) error {
	return s.putRecord(ctx, bucketSessions, []byte(sess.Hash), sess, "session")
}

// Session implements engine.Store.
func (s *Store) Session(ctx context.Context, hash string) (auth.SessionRecord, error) {
	var sess auth.SessionRecord
	err := s.getRecord(bucketSessions, []byte(hash), &sess, "session")
	return sess, authErr(err)
}

// DeleteSession implements engine.Store.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return authErr(s.deleteKey(ctx, bucketSessions, []byte(hash), "session"))
}

// PurgeSessions implements engine.Store.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	return s.purgeExpired(ctx, bucketSessions, func(v []byte) bool {
		var sess auth.SessionRecord
		return json.Unmarshal(v, &sess) == nil && !sess.ExpiresAt.After(now)
	})
}

// authErr makes the store's not-found error auth's as well, for the
// records auth keeps here.
func authErr(err error) error { return auth.MarkNotFound(err, engine.ErrNotFound) }

var (
	_ engine.Store = (*Store)(nil)
	_ auth.Store   = (*Store)(nil)
)

// Users lists every account (for `switchyard migrate`).
func (s *Store) Users(ctx context.Context) ([]auth.UserRecord, error) {
	return listRecords[auth.UserRecord](s, bucketUsers, "users")
}
