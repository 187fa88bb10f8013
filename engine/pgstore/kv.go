package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/engine"
)

// The data store (engine.KVStore). A write runs in one transaction under
// an advisory lock on its namespace (so the namespace's usage and an
// increment's read are never raced), with the rules of engine.KVApply,
// and stores its name (KVWrite.Once) in the same transaction.

// KVWrite implements engine.KVStore.
func (s *Store) KVWrite(ctx context.Context, w engine.KVWrite) (engine.KVResult, error) {
	if w.Now.IsZero() {
		w.Now = time.Now()
	}
	if err := engine.CheckKVWrite(w); err != nil {
		return engine.KVResult{}, err
	}
	var res engine.KVResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockKey(ctx, tx, "kv:"+w.Namespace); err != nil {
			return err
		}
		if w.Once != "" {
			var rec []byte
			err := tx.QueryRow(ctx, `SELECT result FROM sy_kv_once WHERE name = $1`, w.Once).Scan(&rec)
			if err == nil {
				res.Replayed = true
				return json.Unmarshal(rec, &res)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		r, err := kvApply(ctx, tx, w)
		if err != nil {
			return err
		}
		if w.Once != "" {
			rec, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sy_kv_once (name, at, result) VALUES ($1, $2, $3)`, w.Once, w.Now.UnixNano(), rec); err != nil {
				return err
			}
		}
		res = r
		return nil
	})
	if err != nil {
		var ke *engine.KVError
		if errors.As(err, &ke) {
			return engine.KVResult{}, err
		}
		return engine.KVResult{}, fmt.Errorf("store: data store %s %s/%s: %w", w.Op, w.Namespace, w.Key, unavailable(err))
	}
	return res, nil
}

// kvApply does one write inside tx, which holds the namespace's lock. It
// decides before it writes anything.
func kvApply(ctx context.Context, tx pgx.Tx, w engine.KVWrite) (engine.KVResult, error) {
	var use engine.KVUsage
	err := tx.QueryRow(ctx, `SELECT keys, bytes FROM sy_kv_usage WHERE namespace = $1`, w.Namespace).Scan(&use.Keys, &use.Bytes)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return engine.KVResult{}, err
	}
	var cur *engine.KVStored
	var st engine.KVStored
	err = tx.QueryRow(ctx, `SELECT value, updated, expires FROM sy_kv WHERE namespace = $1 AND key = $2`, w.Namespace, w.Key).
		Scan(&st.Value, &st.Updated, &st.Expires)
	switch {
	case err == nil:
		cur = &st
	case !errors.Is(err, pgx.ErrNoRows):
		return engine.KVResult{}, err
	}
	next, res, after, err := engine.KVApply(w, cur, use)
	purge := false
	if errors.Is(err, engine.ErrKVLimit) {
		// Expired values count until they are purged: leave this
		// namespace's out, and ask again.
		var keys int
		var freed int64
		if qerr := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(length(key) + length(value)), 0) FROM sy_kv
			WHERE namespace = $1 AND key <> $2 AND expires <> 0 AND expires <= $3`, w.Namespace, w.Key, w.Now.UnixNano()).Scan(&keys, &freed); qerr != nil {
			return engine.KVResult{}, qerr
		}
		if keys > 0 {
			use.Keys -= keys
			use.Bytes -= freed
			purge = true
			next, res, after, err = engine.KVApply(w, cur, use)
		}
	}
	if err != nil {
		return engine.KVResult{}, err
	}
	if purge {
		if _, err := tx.Exec(ctx, `DELETE FROM sy_kv WHERE namespace = $1 AND key <> $2 AND expires <> 0 AND expires <= $3`,
			w.Namespace, w.Key, w.Now.UnixNano()); err != nil {
			return engine.KVResult{}, err
		}
	}
	if next == nil {
		_, err = tx.Exec(ctx, `DELETE FROM sy_kv WHERE namespace = $1 AND key = $2`, w.Namespace, w.Key)
	} else {
		_, err = tx.Exec(ctx, `INSERT INTO sy_kv (namespace, key, value, updated, expires) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, updated = EXCLUDED.updated, expires = EXCLUDED.expires`,
			w.Namespace, w.Key, []byte(next.Value), next.Updated, next.Expires)
	}
	if err != nil {
		return engine.KVResult{}, err
	}
	return res, putKVUsage(ctx, tx, w.Namespace, after)
}

func putKVUsage(ctx context.Context, tx pgx.Tx, namespace string, u engine.KVUsage) error {
	if u.Keys <= 0 {
		_, err := tx.Exec(ctx, `DELETE FROM sy_kv_usage WHERE namespace = $1`, namespace)
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO sy_kv_usage (namespace, keys, bytes) VALUES ($1, $2, $3)
		ON CONFLICT (namespace) DO UPDATE SET keys = EXCLUDED.keys, bytes = EXCLUDED.bytes`, namespace, u.Keys, u.Bytes)
	return err
}

// KVGet implements engine.KVStore.
func (s *Store) KVGet(ctx context.Context, namespace, key string, now time.Time) (engine.KVEntry, error) {
	var st engine.KVStored
	err := s.pool.QueryRow(ctx, `SELECT value, updated, expires FROM sy_kv WHERE namespace = $1 AND key = $2`, namespace, key).
		Scan(&st.Value, &st.Updated, &st.Expires)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !st.Live(now) {
		return engine.KVEntry{}, fmt.Errorf("data store: %s/%s: %w", namespace, key, engine.ErrNotFound)
	}
	if err != nil {
		return engine.KVEntry{}, fmt.Errorf("store: data store get: %w", unavailable(err))
	}
	return st.Entry(namespace, key), nil
}

// KVList implements engine.KVStore.
func (s *Store) KVList(ctx context.Context, namespace, after string, limit int, now time.Time) (engine.KVPage, error) {
	page := engine.KVPage{Entries: []engine.KVEntry{}}
	rows, err := s.pool.Query(ctx, `SELECT key, value, updated, expires FROM sy_kv
		WHERE namespace = $1 AND key > $2 AND (expires = 0 OR expires > $3) ORDER BY key LIMIT $4`,
		namespace, after, now.UnixNano(), limit+1)
	if err != nil {
		return page, fmt.Errorf("store: data store list: %w", unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var st engine.KVStored
		if err := rows.Scan(&key, &st.Value, &st.Updated, &st.Expires); err != nil {
			return page, err
		}
		if len(page.Entries) == limit {
			page.NextCursor = page.Entries[limit-1].Key
			break
		}
		page.Entries = append(page.Entries, st.Entry(namespace, key))
	}
	return page, rows.Err()
}

// KVNamespaces implements engine.KVStore.
func (s *Store) KVNamespaces(ctx context.Context) ([]engine.KVNamespace, error) {
	out := []engine.KVNamespace{}
	rows, err := s.pool.Query(ctx, `SELECT namespace, keys, bytes FROM sy_kv_usage ORDER BY namespace`)
	if err != nil {
		return nil, fmt.Errorf("store: data store namespaces: %w", unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var n engine.KVNamespace
		if err := rows.Scan(&n.Name, &n.Keys, &n.Bytes); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// KVPurge implements engine.KVStore: each namespace with expired values
// under its lock, then the old write names.
func (s *Store) KVPurge(ctx context.Context, now time.Time) (int, error) {
	var nss []string
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT namespace FROM sy_kv WHERE expires <> 0 AND expires <= $1`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("store: purge the data store: %w", unavailable(err))
	}
	for rows.Next() {
		var ns string
		if err := rows.Scan(&ns); err != nil {
			rows.Close()
			return 0, err
		}
		nss = append(nss, ns)
	}
	rows.Close()
	total := 0
	for _, ns := range nss {
		err := s.tx(ctx, func(tx pgx.Tx) error {
			if err := lockKey(ctx, tx, "kv:"+ns); err != nil {
				return err
			}
			var keys int
			var freed int64
			if err := tx.QueryRow(ctx, `WITH gone AS (DELETE FROM sy_kv WHERE namespace = $1 AND expires <> 0 AND expires <= $2
				RETURNING length(key) + length(value) AS size) SELECT count(*), coalesce(sum(size), 0) FROM gone`, ns, now.UnixNano()).Scan(&keys, &freed); err != nil {
				return err
			}
			total += keys
			var use engine.KVUsage
			if err := tx.QueryRow(ctx, `SELECT keys, bytes FROM sy_kv_usage WHERE namespace = $1`, ns).Scan(&use.Keys, &use.Bytes); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			return putKVUsage(ctx, tx, ns, engine.KVUsage{Keys: use.Keys - keys, Bytes: use.Bytes - freed})
		})
		if err != nil {
			return total, fmt.Errorf("store: purge the data store: %w", unavailable(err))
		}
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sy_kv_once WHERE at < $1`, now.Add(-engine.KVOnceKeep).UnixNano())
	if err != nil {
		return total, fmt.Errorf("store: purge the data store's write names: %w", unavailable(err))
	}
	return total + int(tag.RowsAffected()), nil
}

var _ engine.KVStore = (*Store)(nil)
