package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
)

// unavailable marks errors of reaching the database (not of what it said)
// as engine.ErrStoreUnavailable, so callers answer 503 and retry.
func unavailable(err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil, errors.As(err, &pe), errors.Is(err, pgx.ErrNoRows),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrRunFinal),
		errors.Is(err, engine.ErrStaleVersion), errors.Is(err, engine.ErrBadID):
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: %w", engine.ErrStoreUnavailable, err)
	}
	return err
}

// lockKey takes a transaction-scoped advisory lock on a name, serialising
// writers of one flow's versions, polls, or the first user.
func lockKey(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, name)
	return err
}

// PutFlow implements engine.FlowStore.
func (s *Store) PutFlow(ctx context.Context, id string, raw []byte) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		rec, err = s.putFlowTx(ctx, tx, id, raw, time.Now().UTC(), nil)
		return err
	})
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: put flow %q: %w", id, unavailable(err))
	}
	return rec, nil
}

// putFlowTx stores raw as the flow's next version, with meta when given.
func (s *Store) putFlowTx(ctx context.Context, tx pgx.Tx, id string, raw []byte, now time.Time, meta *engine.VersionMeta) (engine.FlowRecord, error) {
	if err := lockKey(ctx, tx, "flow:"+id); err != nil {
		return engine.FlowRecord{}, err
	}
	rec := engine.FlowRecord{ID: id, Flow: bytes.Clone(raw), CreatedAt: now, UpdatedAt: now}
	err := tx.QueryRow(ctx, `SELECT version + 1, created_at FROM sy_flows WHERE id = $1`, id).Scan(&rec.Version, &rec.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// A deleted flow that comes back continues its version numbers,
		// so old runs never point at a different definition.
		err = tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) + 1 FROM sy_flow_versions WHERE flow_id = $1`, id).Scan(&rec.Version)
	}
	if err != nil {
		return rec, err
	}
	rec.CreatedAt = rec.CreatedAt.UTC()
	var metaData []byte
	if meta != nil {
		meta.Version = rec.Version
		if metaData, err = json.Marshal(meta); err != nil {
			return rec, err
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sy_flow_versions (flow_id, version, flow, meta) VALUES ($1, $2, $3, $4)`,
		id, rec.Version, []byte(rec.Flow), metaData); err != nil {
		return rec, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO sy_flows (id, version, flow, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, flow = EXCLUDED.flow, updated_at = EXCLUDED.updated_at`,
		id, rec.Version, []byte(rec.Flow), rec.CreatedAt, rec.UpdatedAt)
	if err != nil {
		return rec, err
	}
	return rec, s.notifyFlow(ctx, tx, id)
}

func scanFlow(row pgx.Row) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	var flow []byte
	err := row.Scan(&rec.ID, &rec.Version, &flow, &rec.CreatedAt, &rec.UpdatedAt)
	rec.Flow, rec.CreatedAt, rec.UpdatedAt = flow, rec.CreatedAt.UTC(), rec.UpdatedAt.UTC()
	return rec, err
}

// Flow implements engine.FlowStore.
func (s *Store) Flow(ctx context.Context, id string) (engine.FlowRecord, error) {
	rec, err := scanFlow(s.pool.QueryRow(ctx, `SELECT id, version, flow, created_at, updated_at FROM sy_flows WHERE id = $1`, id))
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: flow %q: %w", id, unavailable(notFound(err)))
	}
	return rec, nil
}

// FlowVersion implements engine.FlowStore.
func (s *Store) FlowVersion(ctx context.Context, id string, version int64) (engine.FlowRecord, error) {
	var flow []byte
	err := s.pool.QueryRow(ctx, `SELECT flow FROM sy_flow_versions WHERE flow_id = $1 AND version = $2`, id, version).Scan(&flow)
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: flow %q version %d: %w", id, version, unavailable(notFound(err)))
	}
	return engine.FlowRecord{ID: id, Flow: flow, Version: version}, nil
}

// Flows implements engine.FlowStore.
func (s *Store) Flows(ctx context.Context) ([]engine.FlowRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, version, flow, created_at, updated_at FROM sy_flows ORDER BY id`)
	if err == nil {
		var out []engine.FlowRecord
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (engine.FlowRecord, error) { return scanFlow(r) }); err == nil {
			if out == nil {
				out = []engine.FlowRecord{}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("store: list flows: %w", unavailable(err))
}

// DeleteFlow implements engine.FlowStore. Its versions stay, so that the
// history of runs it made can still be read.
func (s *Store) DeleteFlow(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sy_flows WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return engine.ErrNotFound
		}
		if err != nil {
			return err
		}
		return s.notifyFlow(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("store: delete flow %s: %w", id, unavailable(err))
	}
	return nil
}

// deleteRow runs a delete of one row by key; no row is ErrNotFound.
func (s *Store) deleteRow(ctx context.Context, sql, key, what string) error {
	tag, err := s.pool.Exec(ctx, sql, key)
	if err == nil && tag.RowsAffected() == 0 {
		err = engine.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", what, unavailable(err))
	}
	return nil
}

// PutFlowVersion implements engine.VersionStore.
func (s *Store) PutFlowVersion(ctx context.Context, id string, raw []byte, meta engine.VersionMeta) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		rec, err = s.putFlowTx(ctx, tx, id, raw, meta.SavedAt, &meta)
		return err
	})
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: put flow %q: %w", id, unavailable(err))
	}
	return rec, nil
}

// SetFlowState implements engine.VersionStore: the current version is
// rewritten in both places it is kept.
func (s *Store) SetFlowState(ctx context.Context, id string, raw []byte, change engine.StateChange) (engine.FlowRecord, error) {
	var rec engine.FlowRecord
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		if err := lockKey(ctx, tx, "flow:"+id); err != nil {
			return err
		}
		rec, err = scanFlow(tx.QueryRow(ctx, `UPDATE sy_flows SET flow = $2, updated_at = $3 WHERE id = $1
			RETURNING id, version, flow, created_at, updated_at`, id, raw, change.At))
		if err != nil {
			return notFound(err)
		}
		change.Version = rec.Version
		if _, err := tx.Exec(ctx, `UPDATE sy_flow_versions SET flow = $3 WHERE flow_id = $1 AND version = $2`, id, rec.Version, raw); err != nil {
			return err
		}
		data, err := json.Marshal(change)
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `INSERT INTO sy_flow_states (flow_id, at_ns, change) VALUES ($1, $2, $3)`, id, nanos(change.At), data); err != nil {
			return err
		}
		return s.notifyFlow(ctx, tx, id)
	})
	if err != nil {
		return engine.FlowRecord{}, fmt.Errorf("store: set state of flow %q: %w", id, unavailable(err))
	}
	return rec, nil
}

// FlowVersions implements engine.VersionStore.
func (s *Store) FlowVersions(ctx context.Context, id string) ([]int64, map[int64]engine.VersionMeta, error) {
	rows, err := s.pool.Query(ctx, `SELECT version, meta FROM sy_flow_versions WHERE flow_id = $1 ORDER BY version DESC`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("store: versions of flow %q: %w", id, unavailable(err))
	}
	defer rows.Close()
	var nums []int64
	metas := map[int64]engine.VersionMeta{}
	for rows.Next() {
		var v int64
		var meta []byte
		if err := rows.Scan(&v, &meta); err != nil {
			return nil, nil, err
		}
		nums = append(nums, v)
		var m engine.VersionMeta
		if meta != nil && json.Unmarshal(meta, &m) == nil {
			metas[v] = m
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: versions of flow %q: %w", id, unavailable(err))
	}
	return nums, metas, nil
}

// FlowStates implements engine.VersionStore.
func (s *Store) FlowStates(ctx context.Context, id string, limit int) ([]engine.StateChange, error) {
	out, err := listJSON[engine.StateChange](ctx, s, `SELECT change FROM sy_flow_states WHERE flow_id = $1 ORDER BY at_ns DESC, id DESC LIMIT $2`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("store: state changes of flow %q: %w", id, err)
	}
	return out, nil
}

// listJSON runs a query of one JSON column and decodes every row.
func listJSON[T any](ctx context.Context, s *Store, sql string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var v T
		var data []byte
		if err := r.Scan(&data); err != nil {
			return v, err
		}
		return v, json.Unmarshal(data, &v)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// getJSON reads one JSON column of one row; no row is ErrNotFound.
func getJSON(ctx context.Context, s *Store, v any, sql string, args ...any) error {
	var data []byte
	if err := s.pool.QueryRow(ctx, sql, args...).Scan(&data); err != nil {
		return unavailable(notFound(err))
	}
	return json.Unmarshal(data, v)
}

// PutConnection implements engine.ConnectionStore.
func (s *Store) PutConnection(ctx context.Context, c engine.ConnectionRecord) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sy_connections (name, type, sealed, created_at, updated_at, rate) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO UPDATE SET type = EXCLUDED.type, sealed = EXCLUDED.sealed, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, rate = EXCLUDED.rate`,
		c.Name, c.Type, c.Sealed, c.CreatedAt, c.UpdatedAt, c.Rate)
	if err != nil {
		return fmt.Errorf("store: put connection %s: %w", c.Name, unavailable(err))
	}
	return nil
}

const connectionCols = `SELECT name, type, sealed, created_at, updated_at, rate FROM sy_connections`

func scanConnection(row pgx.Row) (engine.ConnectionRecord, error) {
	var c engine.ConnectionRecord
	err := row.Scan(&c.Name, &c.Type, &c.Sealed, &c.CreatedAt, &c.UpdatedAt, &c.Rate)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

// Connection implements engine.ConnectionStore.
func (s *Store) Connection(ctx context.Context, name string) (engine.ConnectionRecord, error) {
	c, err := scanConnection(s.pool.QueryRow(ctx, connectionCols+` WHERE name = $1`, name))
	if err != nil {
		return engine.ConnectionRecord{}, fmt.Errorf("store: connection %s: %w", name, unavailable(notFound(err)))
	}
	return c, nil
}

// Connections implements engine.ConnectionStore.
func (s *Store) Connections(ctx context.Context) ([]engine.ConnectionRecord, error) {
	rows, err := s.pool.Query(ctx, connectionCols+` ORDER BY name`)
	if err == nil {
		var out []engine.ConnectionRecord
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (engine.ConnectionRecord, error) { return scanConnection(r) }); err == nil {
			if out == nil {
				out = []engine.ConnectionRecord{}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("store: list connections: %w", unavailable(err))
}

// DeleteConnection implements engine.ConnectionStore.
func (s *Store) DeleteConnection(ctx context.Context, name string) error {
	return s.deleteRow(ctx, `DELETE FROM sy_connections WHERE name = $1`, name, "connection "+name)
}

// Reseal implements engine.Resealer in one transaction that holds the
// connections table against writers, so none is missed or half done.
func (s *Store) Reseal(ctx context.Context, metaKey string, fn func(sealed, ad []byte) ([]byte, error)) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE sy_connections, sy_meta IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var sealed []byte
		err := tx.QueryRow(ctx, `SELECT value FROM sy_meta WHERE key = $1`, metaKey).Scan(&sealed)
		switch {
		case err == nil:
			v, err := fn(sealed, []byte(metaKey))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE sy_meta SET value = $2 WHERE key = $1`, metaKey, v); err != nil {
				return err
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name, sealed FROM sy_connections ORDER BY name`)
		if err != nil {
			return err
		}
		type conn struct {
			name   string
			sealed []byte
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (conn, error) {
			var c conn
			return c, r.Scan(&c.name, &c.sealed)
		})
		if err != nil {
			return err
		}
		for _, c := range all {
			v, err := fn(c.sealed, []byte(c.name))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE sy_connections SET sealed = $2 WHERE name = $1`, c.name, v); err != nil {
				return err
			}
		}
		n = len(all)
		return nil
	})
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// Meta implements engine.MetaStore.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	if err := s.pool.QueryRow(ctx, `SELECT value FROM sy_meta WHERE key = $1`, key).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: meta %q: %w", key, unavailable(notFound(err)))
	}
	return v, nil
}

// PutMeta implements engine.MetaStore.
func (s *Store) PutMeta(ctx context.Context, key string, value []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sy_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
	if err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, unavailable(err))
	}
	return nil
}

// putJSON upserts one JSON record by its key.
func (s *Store) putJSON(ctx context.Context, sql string, what string, v any, args ...any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: put %s: %w", what, err)
	}
	if _, err := s.pool.Exec(ctx, sql, append(args, data)...); err != nil {
		return fmt.Errorf("store: put %s: %w", what, unavailable(err))
	}
	return nil
}

// PutToken implements auth.Store.
func (s *Store) PutToken(ctx context.Context, t auth.TokenRecord) error {
	return s.putJSON(ctx, `INSERT INTO sy_tokens (hash, id, data) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO UPDATE SET id = EXCLUDED.id, data = EXCLUDED.data`, "token "+t.ID, t, t.Hash, t.ID)
}

// TokenByHash implements auth.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (auth.TokenRecord, error) {
	var t auth.TokenRecord
	if err := getJSON(ctx, s, &t, `SELECT data FROM sy_tokens WHERE hash = $1`, hash); err != nil {
		return t, authErr(fmt.Errorf("store: token: %w", err))
	}
	return t, nil
}

// Tokens implements auth.Store.
func (s *Store) Tokens(ctx context.Context) ([]auth.TokenRecord, error) {
	return listJSON[auth.TokenRecord](ctx, s, `SELECT data FROM sy_tokens ORDER BY hash`)
}

// DeleteToken implements auth.Store.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return authErr(s.deleteRow(ctx, `DELETE FROM sy_tokens WHERE id = $1`, id, "token "+id))
}

// CreateFirstUser implements auth.Store: the table lock makes two setup
// forms racing on two nodes wait for each other, and the second finds
// the owner.
func (s *Store) CreateFirstUser(ctx context.Context, u auth.UserRecord) error {
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE sy_users IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sy_users)`).Scan(&any); err != nil {
			return err
		}
		if any {
			return auth.ErrSetupDone
		}
		_, err := tx.Exec(ctx, `INSERT INTO sy_users (name, data) VALUES ($1, $2)`, u.Name, data)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create first user: %w", unavailable(err))
	}
	return nil
}

// User implements auth.Store.
func (s *Store) User(ctx context.Context, name string) (auth.UserRecord, error) {
	var u auth.UserRecord
	if err := getJSON(ctx, s, &u, `SELECT data FROM sy_users WHERE name = $1`, name); err != nil {
		return u, authErr(fmt.Errorf("store: user %s: %w", name, err))
	}
	return u, nil
}

// UserCount implements auth.Store.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sy_users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count users: %w", unavailable(err))
	}
	return n, nil
}

// PutSession implements auth.Store.
func (s *Store) PutSession(ctx context.Context, sess auth.SessionRecord) error {
	return s.putJSON(ctx, `INSERT INTO sy_sessions (hash, expires_at, data) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO UPDATE SET expires_at = EXCLUDED.expires_at, data = EXCLUDED.data`, "session", sess, sess.Hash, sess.ExpiresAt)
}

// Session implements auth.Store.
func (s *Store) Session(ctx context.Context, hash string) (auth.SessionRecord, error) {
	var sess auth.SessionRecord
	if err := getJSON(ctx, s, &sess, `SELECT data FROM sy_sessions WHERE hash = $1`, hash); err != nil {
		return sess, authErr(fmt.Errorf("store: session: %w", err))
	}
	return sess, nil
}

// DeleteSession implements auth.Store.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	return authErr(s.deleteRow(ctx, `DELETE FROM sy_sessions WHERE hash = $1`, hash, "session"))
}

// PurgeSessions implements auth.Store.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sy_sessions WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", unavailable(err))
	}
	return int(tag.RowsAffected()), nil
}

// authErr makes the store's not-found error auth's as well, for the
// records auth keeps here.
func authErr(err error) error { return auth.MarkNotFound(err, engine.ErrNotFound) }

var (
	_ auth.Store             = (*Store)(nil)
	_ engine.VersionStore    = (*Store)(nil)
	_ engine.KeyStore        = (*Store)(nil)
	_ engine.FlowStore       = (*Store)(nil)
	_ engine.RefusalStore    = (*Store)(nil)
	_ engine.MetaStore       = (*Store)(nil)
	_ engine.ConnectionStore = (*Store)(nil)
)
