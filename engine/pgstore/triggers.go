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

// tickHorizon is how long a fired tick's row is kept (as in the embedded
// store): within it a tick is refused by its primary key; a tick older
// than the flow's newest by more than it is refused as too old to tell.
const tickHorizon = 25 * time.Hour

// checkFlowVersion fails with ErrStaleVersion unless the flow is at
// version (and, with needEnabled, turned on). The row is locked for share:
// a save of the flow waits until this transaction ends.
func checkFlowVersion(ctx context.Context, tx pgx.Tx, flowID string, version int64, needEnabled bool, what string) error {
	var cur int64
	var raw []byte
	err := tx.QueryRow(ctx, `SELECT version, flow FROM sy_flows WHERE id = $1 FOR SHARE`, flowID).Scan(&cur, &raw)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if cur != version || (needEnabled && !enabled(raw)) {
		return fmt.Errorf("%w: flow %q is at version %d, %s was for %d", engine.ErrStaleVersion, flowID, cur, what, version)
	}
	return nil
}

// enabled reports whether a stored definition may fire: false only when it
// says "enabled": false.
func enabled(raw []byte) bool {
	var f struct {
		Enabled *bool `json:"enabled"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return true
	}
	return f.Enabled == nil || *f.Enabled
}

// AcceptTick implements engine.TriggerStore. The tick's row is inserted
// before its run: when another node fired the same tick, the primary key
// makes this insert wait for that transaction and then do nothing, so the
// tick runs once in the cluster.
func (s *Store) AcceptTick(ctx context.Context, ev *engine.Event, run *engine.Run, tick time.Time) (engine.AcceptResult, error) {
	var res engine.AcceptResult
	e, r := *ev, *run
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := checkFlowVersion(ctx, tx, e.FlowID, r.FlowVersion, true, "tick"); err != nil {
			return err
		}
		var newest int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(tick_ns), 0) FROM sy_ticks WHERE flow_id = $1`, e.FlowID).Scan(&newest); err != nil {
			return err
		}
		if newest != 0 && nanos(tick) < newest-int64(tickHorizon) {
			res = engine.AcceptResult{Duplicate: true}
			return nil
		}
		seq, err := newID(ctx, tx)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO sy_ticks (flow_id, tick_ns, run_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			e.FlowID, nanos(tick), formatID(runIDPrefix, seq))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var first string
			if err := tx.QueryRow(ctx, `SELECT run_id FROM sy_ticks WHERE flow_id = $1 AND tick_ns = $2`, e.FlowID, nanos(tick)).Scan(&first); err != nil {
				return err
			}
			res = engine.AcceptResult{RunID: first, Duplicate: true}
			return nil
		}
		if err := s.insertEventAndRun(ctx, tx, seq, &e, &r); err != nil {
			return err
		}
		res = engine.AcceptResult{RunID: r.ID, EventID: e.ID}
		_, err = tx.Exec(ctx, `DELETE FROM sy_ticks WHERE flow_id = $1 AND tick_ns < $2`, e.FlowID, max(newest, nanos(tick))-int64(tickHorizon))
		return err
	})
	if err != nil {
		return engine.AcceptResult{}, fmt.Errorf("store: accept tick %s of flow %q: %w", tick.Format(time.RFC3339), ev.FlowID, unavailable(err))
	}
	if !res.Duplicate {
		ev.ID, run.ID, run.EventID = e.ID, r.ID, e.ID
	}
	return res, nil
}

// LastTick implements engine.TriggerStore.
func (s *Store) LastTick(ctx context.Context, flowID string) (time.Time, error) {
	var newest int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(tick_ns), 0) FROM sy_ticks WHERE flow_id = $1`, flowID).Scan(&newest); err != nil {
		return time.Time{}, fmt.Errorf("store: last tick of %q: %w", flowID, unavailable(err))
	}
	return fromNanos(newest), nil
}

// AcceptPoll implements engine.TriggerStore. Polls of one flow are
// serialised by an advisory lock, and the seen set's primary key is the
// last word: an item's key is inserted once, so it starts one run.
func (s *Store) AcceptPoll(ctx context.Context, pc engine.PollCommit) (engine.PollResult, error) {
	var out engine.PollResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = engine.PollResult{State: pc.State}
		if err := lockKey(ctx, tx, "poll:"+pc.FlowID); err != nil {
			return err
		}
		if err := checkFlowVersion(ctx, tx, pc.FlowID, pc.Version, false, "poll"); err != nil {
			return err
		}
		st := &out.State
		if pc.Failed {
			return putPollState(ctx, tx, pc.FlowID, st)
		}
		var keys []string
		listed := map[string]bool{}
		for _, it := range pc.Items {
			if !listed[it.Key] {
				listed[it.Key] = true
				keys = append(keys, it.Key)
			}
		}
		rows, err := tx.Query(ctx, `SELECT key FROM sy_seen WHERE flow_id = $1 AND key = ANY($2)`, pc.FlowID, keys)
		if err != nil {
			return err
		}
		seenKeys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, k := range seenKeys {
			seen[k] = true
		}
		var unseen []engine.PollItem
		for _, it := range pc.Items {
			if !seen[it.Key] {
				seen[it.Key] = true
				unseen = append(unseen, it)
			}
		}
		out.Unseen = len(unseen)
		fire, flooded := pc.Decide(st, unseen)
		if flooded {
			out.Flooded = true
			return putPollState(ctx, tx, pc.FlowID, st)
		}
		for _, it := range unseen {
			if _, err := tx.Exec(ctx, `INSERT INTO sy_seen (flow_id, key) VALUES ($1, $2)`, pc.FlowID, it.Key); err != nil {
				return err
			}
		}
		for _, it := range fire {
			ev, run := *it.Event, *it.Run
			seq, err := newID(ctx, tx)
			if err != nil {
				return err
			}
			if err := s.insertEventAndRun(ctx, tx, seq, &ev, &run); err != nil {
				return err
			}
			out.Events = append(out.Events, &ev)
			out.Runs = append(out.Runs, &run)
		}
		n, err := trimSeen(ctx, tx, pc.FlowID, pc.SeenLimit, listed)
		if err != nil {
			return err
		}
		st.SeenCount = n
		return putPollState(ctx, tx, pc.FlowID, st)
	})
	if err != nil {
		return engine.PollResult{}, fmt.Errorf("store: accept poll of flow %q: %w", pc.FlowID, unavailable(err))
	}
	return out, nil
}

func putPollState(ctx context.Context, tx pgx.Tx, flowID string, st *engine.PollState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO sy_poll_state (flow_id, state) VALUES ($1, $2)
		ON CONFLICT (flow_id) DO UPDATE SET state = EXCLUDED.state`, flowID, data)
	return err
}

// trimSeen drops the oldest keys beyond limit, never one the source still
// lists (keep), and returns the count kept.
func trimSeen(ctx context.Context, tx pgx.Tx, flowID string, limit int, keep map[string]bool) (int, error) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM sy_seen WHERE flow_id = $1`, flowID).Scan(&n); err != nil {
		return 0, err
	}
	if limit <= 0 || n <= limit {
		return n, nil
	}
	drop := n - limit
	rows, err := tx.Query(ctx, `SELECT key FROM sy_seen WHERE flow_id = $1 ORDER BY seq`, flowID)
	if err != nil {
		return 0, err
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	var victims []string
	for _, k := range all {
		if len(victims) == drop {
			break
		}
		if !keep[k] {
			victims = append(victims, k)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sy_seen WHERE flow_id = $1 AND key = ANY($2)`, flowID, victims); err != nil {
		return 0, err
	}
	return n - len(victims), nil
}

// PollStateOf implements engine.TriggerStore (the zero state when none).
func (s *Store) PollStateOf(ctx context.Context, flowID string) (engine.PollState, error) {
	var st engine.PollState
	err := getJSON(ctx, s, &st, `SELECT state FROM sy_poll_state WHERE flow_id = $1`, flowID)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return st, fmt.Errorf("store: poll state of %q: %w", flowID, err)
	}
	return st, nil
}

// PutPollState implements engine.TriggerStore.
func (s *Store) PutPollState(ctx context.Context, flowID string, st engine.PollState) error {
	return s.putJSON(ctx, `INSERT INTO sy_poll_state (flow_id, state) VALUES ($1, $2)
		ON CONFLICT (flow_id) DO UPDATE SET state = EXCLUDED.state`, "poll state of "+flowID, st, flowID)
}

// SeenKeys implements engine.TriggerStore: the count and the newest keys,
// newest first.
func (s *Store) SeenKeys(ctx context.Context, flowID string, newest int) (int, []string, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sy_seen WHERE flow_id = $1`, flowID).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("store: seen keys of %q: %w", flowID, unavailable(err))
	}
	rows, err := s.pool.Query(ctx, `SELECT key FROM sy_seen WHERE flow_id = $1 ORDER BY seq DESC LIMIT $2`, flowID, newest)
	if err == nil {
		var keys []string
		if keys, err = pgx.CollectRows(rows, pgx.RowTo[string]); err == nil {
			return n, keys, nil
		}
	}
	return 0, nil, fmt.Errorf("store: seen keys of %q: %w", flowID, unavailable(err))
}

// ResetPoll implements engine.TriggerStore: the seen set and the poll
// state go, so the next poll seeds again.
func (s *Store) ResetPoll(ctx context.Context, flowID string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockKey(ctx, tx, "poll:"+flowID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sy_seen WHERE flow_id = $1`, flowID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sy_poll_state WHERE flow_id = $1`, flowID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: reset poll of %q: %w", flowID, unavailable(err))
	}
	return nil
}

var _ engine.TriggerStore = (*Store)(nil)

// LeasePoll implements engine.PollLeaser: one row per flow names the node
// polling it and until when; a node takes it when it is its own or lapsed.
func (s *Store) LeasePoll(ctx context.Context, flowID string, ttl time.Duration) (bool, error) {
	var node string
	err := s.pool.QueryRow(ctx, `INSERT INTO sy_poll_leases (flow_id, node, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
		ON CONFLICT (flow_id) DO UPDATE SET node = EXCLUDED.node, expires_at = EXCLUDED.expires_at
		WHERE sy_poll_leases.node = EXCLUDED.node OR sy_poll_leases.expires_at < now()
		RETURNING node`, flowID, s.node, ttl.Seconds()).Scan(&node)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: poll lease of %q: %w", flowID, unavailable(err))
	}
	return true, nil
}

var _ engine.PollLeaser = (*Store)(nil)
