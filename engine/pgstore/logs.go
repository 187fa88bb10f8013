package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/engine"
)

// Refusals and the audit trail: append-only logs whose ids are their
// bigserial, newest first in listings, trimmed to their bounds as they
// grow.

// logCursor parses a listing cursor (the id of the last row shown); ""
// is 0, from the newest.
func logCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("cursor %q: %w", c, engine.ErrBadID)
	}
	return n, nil
}

// listLog runs a listing of (id, data) rows newest first, whose last
// parameter is the limit + 1, and decodes a page of them, setting each
// one's id (the field idOf points at); it returns the rows and the next
// cursor.
func listLog[T any](ctx context.Context, s *Store, limit int, idOf func(*T) *string, sql string, args ...any) ([]T, string, error) {
	rows, err := s.pool.Query(ctx, sql, append(args, limit+1)...)
	if err != nil {
		return nil, "", unavailable(err)
	}
	out := []T{}
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var id int64
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				return err
			}
			var v T
			if json.Unmarshal(data, &v) != nil {
				continue
			}
			*idOf(&v) = strconv.FormatInt(id, 10)
			out = append(out, v)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, "", unavailable(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = *idOf(&out[limit-1])
	}
	return out, next, nil
}

// AddRefusals implements engine.RefusalStore: one transaction for the
// batch, then the oldest beyond the bounds go, per flow first.
func (s *Store) AddRefusals(ctx context.Context, rs []engine.Refusal, b engine.RefusalBounds) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		flows := map[string]bool{}
		for _, r := range rs {
			r.ID = ""
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sy_refusals (flow_id, at_ns, data) VALUES ($1, $2, $3)`, r.FlowID, nanos(r.At), data); err != nil {
				return err
			}
			if r.FlowID != "" {
				flows[r.FlowID] = true
			}
		}
		for f := range flows {
			if _, err := tx.Exec(ctx, `DELETE FROM sy_refusals WHERE flow_id = $1 AND id IN (
				SELECT id FROM sy_refusals WHERE flow_id = $1 ORDER BY id DESC OFFSET $2)`, f, b.PerFlow); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM sy_refusals WHERE id IN (SELECT id FROM sy_refusals ORDER BY id DESC OFFSET $1)`, b.Total)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: add refusals: %w", unavailable(err))
	}
	return nil
}

// ListRefusals implements engine.RefusalStore.
func (s *Store) ListRefusals(ctx context.Context, f engine.RefusalFilter) (engine.RefusalPage, error) {
	before, err := logCursor(f.Cursor)
	if err != nil {
		return engine.RefusalPage{}, fmt.Errorf("store: refusals: %w", err)
	}
	rs, next, err := listLog(ctx, s, pageLimit(f.Limit), func(r *engine.Refusal) *string { return &r.ID },
		`SELECT id, data FROM sy_refusals WHERE ($1::text = '' OR flow_id = $1) AND ($2::bigint = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, f.FlowID, before)
	if err != nil {
		return engine.RefusalPage{}, fmt.Errorf("store: refusals: %w", err)
	}
	return engine.RefusalPage{Refusals: rs, NextCursor: next}, nil
}

// CountRefusals implements engine.RefusalStore.
func (s *Store) CountRefusals(ctx context.Context, flowID string, since time.Time, max int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM sy_refusals WHERE flow_id = $1 AND at_ns >= $2 LIMIT $3) c`,
		flowID, nanos(since), max).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count refusals of %q: %w", flowID, unavailable(err))
	}
	return n, nil
}

// AddAudit implements engine.AuditStore.
func (s *Store) AddAudit(ctx context.Context, entries []engine.AuditEntry, keep int) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, e := range entries {
			e.ID = ""
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sy_audit (action, target, data) VALUES ($1, $2, $3)`, e.Action, e.Target, data); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM sy_audit WHERE id IN (SELECT id FROM sy_audit ORDER BY id DESC OFFSET $1)`, keep)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: add audit entries: %w", unavailable(err))
	}
	return nil
}

// ListAudit implements engine.AuditStore. An action matches itself and
// the actions under it ("flow" matches "flow.save").
func (s *Store) ListAudit(ctx context.Context, f engine.AuditFilter) (engine.AuditPage, error) {
	before, err := logCursor(f.Cursor)
	if err != nil {
		return engine.AuditPage{}, fmt.Errorf("store: audit: %w", err)
	}
	es, next, err := listLog(ctx, s, pageLimit(f.Limit), func(e *engine.AuditEntry) *string { return &e.ID },
		`SELECT id, data FROM sy_audit WHERE ($1::text = '' OR action = $1 OR left(action, length($1) + 1) = $1 || '.')
		AND ($2::text = '' OR target = $2) AND ($3::bigint = 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, f.Action, f.Target, before)
	if err != nil {
		return engine.AuditPage{}, fmt.Errorf("store: audit: %w", err)
	}
	return engine.AuditPage{Entries: es, NextCursor: next}, nil
}

var _ engine.AuditStore = (*Store)(nil)
