package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
)

// Import writes records copied from another store (`switchyard migrate`
// from a data dir) as they were, ids and versions included. Every write
// keeps what the database holds already, so an import can run again: it
// adds what is missing and changes nothing that is there.

// ImportFlowVersion stores one version of a flow (meta may be nil).
func (s *Store) ImportFlowVersion(ctx context.Context, id string, version int64, raw []byte, meta *engine.VersionMeta) error {
	var metaData []byte
	if meta != nil {
		var err error
		if metaData, err = json.Marshal(meta); err != nil {
			return err
		}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sy_flow_versions (flow_id, version, flow, meta) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		id, version, raw, metaData)
	if err != nil {
		return fmt.Errorf("store: import flow %q version %d: %w", id, version, unavailable(err))
	}
	return nil
}

// ImportFlow stores a flow's current record unless the flow exists, and
// reports whether it did.
func (s *Store) ImportFlow(ctx context.Context, rec engine.FlowRecord) (bool, error) {
	var added bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO sy_flows (id, version, flow, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			rec.ID, rec.Version, []byte(rec.Flow), rec.CreatedAt, rec.UpdatedAt)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		added = true
		return s.notifyFlow(ctx, tx, rec.ID)
	})
	if err != nil {
		return false, fmt.Errorf("store: import flow %q: %w", rec.ID, unavailable(err))
	}
	return added, nil
}

// ImportConnection stores a connection unless one of its name exists.
func (s *Store) ImportConnection(ctx context.Context, c engine.ConnectionRecord) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO sy_connections (name, type, sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		c.Name, c.Type, c.Sealed, c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return false, fmt.Errorf("store: import connection %s: %w", c.Name, unavailable(err))
	}
	return tag.RowsAffected() == 1, nil
}

// ImportMeta stores a meta value unless the key has one.
func (s *Store) ImportMeta(ctx context.Context, key string, value []byte) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO sy_meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`, key, value); err != nil {
		return fmt.Errorf("store: import meta %q: %w", key, unavailable(err))
	}
	return nil
}

// ImportUser stores an account unless one of its name exists.
func (s *Store) ImportUser(ctx context.Context, u auth.UserRecord) (bool, error) {
	data, err := json.Marshal(u)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO sy_users (name, data) VALUES ($1, $2) ON CONFLICT DO NOTHING`, u.Name, data)
	if err != nil {
		return false, fmt.Errorf("store: import user %s: %w", u.Name, unavailable(err))
	}
	return tag.RowsAffected() == 1, nil
}

// ImportToken stores an API token unless it exists.
func (s *Store) ImportToken(ctx context.Context, t auth.TokenRecord) (bool, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO sy_tokens (hash, id, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, t.Hash, t.ID, data)
	if err != nil {
		return false, fmt.Errorf("store: import token %s: %w", t.ID, unavailable(err))
	}
	return tag.RowsAffected() == 1, nil
}

// ImportTriggerState stores what a schedule or poll trigger remembers:
// its newest tick, its poll state and seen keys (so that a poll does not
// run again what the data dir saw).
func (s *Store) ImportTriggerState(ctx context.Context, flowID string, lastTick time.Time, st *engine.PollState, seen []string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if !lastTick.IsZero() {
			if _, err := tx.Exec(ctx, `INSERT INTO sy_ticks (flow_id, tick_ns, run_id) VALUES ($1, $2, '') ON CONFLICT DO NOTHING`, flowID, nanos(lastTick)); err != nil {
				return err
			}
		}
		if st != nil {
			data, err := json.Marshal(st)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sy_poll_state (flow_id, state) VALUES ($1, $2) ON CONFLICT DO NOTHING`, flowID, data); err != nil {
				return err
			}
		}
		// Oldest first, so the newest get the highest order.
		for i := len(seen) - 1; i >= 0; i-- {
			if _, err := tx.Exec(ctx, `INSERT INTO sy_seen (flow_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING`, flowID, seen[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: import trigger state of %q: %w", flowID, unavailable(err))
	}
	return nil
}

// ImportRun stores a run and its event with their ids unless the run
// exists (the event may, for a retry or a replay); a run that is not
// final gets its job, so the cluster finishes it. It reports whether it
// added the run.
func (s *Store) ImportRun(ctx context.Context, ev *engine.Event, r *engine.Run) (bool, error) {
	seq, err := parseID(runIDPrefix, r.ID)
	if err != nil {
		return false, err
	}
	evSeq, err := parseID(eventIDPrefix, ev.ID)
	if err != nil {
		return false, err
	}
	added := false
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sy_runs WHERE seq = $1)`, seq).Scan(&exists); err != nil || exists {
			return err
		}
		evData, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sy_events (seq, flow_id, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, evSeq, ev.FlowID, evData); err != nil {
			return err
		}
		if err := s.insertRun(ctx, tx, seq, evSeq, r); err != nil {
			return err
		}
		// Runs come oldest first: a successful retry or replay resolves
		// the failed runs it came from, imported before it.
		origin := optSeq(r.RetryOf)
		if origin == nil {
			origin = optSeq(r.ReplayOf)
		}
		if r.Status == engine.RunSucceeded && origin != nil {
			if err := resolveChain(ctx, tx, *origin, seq); err != nil {
				return err
			}
		}
		// Ids given from now on follow the imported ones.
		if _, err := tx.Exec(ctx, `SELECT setval('sy_ids', GREATEST($1, (SELECT last_value FROM sy_ids)))`, max(seq, evSeq)); err != nil {
			return err
		}
		added = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: import run %s: %w", r.ID, unavailable(err))
	}
	return added, nil
}
