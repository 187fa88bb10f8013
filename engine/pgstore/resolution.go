package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/engine"
)

// Unresolved failures (engine/resolution.go) are failed runs whose
// resolved_by is empty; a partial index keeps listing and counting them
// independent of the history's size.

// maxResolveHops bounds the walk up a chain of retries of retries.
const maxResolveHops = 64

// resolveChain marks the failed run origin, and the failed runs it was
// itself retried or replayed from, as resolved by run by.
func resolveChain(ctx context.Context, tx pgx.Tx, origin, by int64) error {
	_, err := tx.Exec(ctx, `WITH RECURSIVE chain(seq, next, hops) AS (
			SELECT seq, COALESCE(retry_of, replay_of), 1 FROM sy_runs WHERE seq = $1
			UNION ALL
			SELECT r.seq, COALESCE(r.retry_of, r.replay_of), c.hops + 1 FROM sy_runs r JOIN chain c ON r.seq = c.next WHERE c.hops < $3)
		UPDATE sy_runs SET resolved_by = $2
		WHERE seq IN (SELECT seq FROM chain) AND status = 'failed' AND resolved_by IS NULL`, origin, by, maxResolveHops)
	return err
}

// ListUnresolved implements engine.ResolutionStore.
func (s *Store) ListUnresolved(ctx context.Context, f engine.RunFilter) (engine.RunPage, error) {
	page, err := s.listSummaries(ctx, f, `status = 'failed' AND resolved_by IS NULL`)
	if err != nil {
		return engine.RunPage{}, fmt.Errorf("store: list unresolved runs: %w", err)
	}
	return page, nil
}

// CountUnresolved implements engine.ResolutionStore.
func (s *Store) CountUnresolved(ctx context.Context, max int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM sy_runs WHERE status = 'failed' AND resolved_by IS NULL LIMIT $1) u`, max).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count unresolved runs: %w", unavailable(err))
	}
	return n, nil
}

// RunLinks implements engine.ResolutionStore.
func (s *Store) RunLinks(ctx context.Context, id string) (engine.RunLinks, error) {
	out := engine.RunLinks{RetriedBy: []string{}, ReplayedBy: []string{}}
	seq, err := parseID(runIDPrefix, id)
	if err != nil {
		return out, fmt.Errorf("store: run links: %w", err)
	}
	var by *int64
	if err := s.pool.QueryRow(ctx, `SELECT resolved_by FROM sy_runs WHERE seq = $1`, seq).Scan(&by); err != nil {
		return out, fmt.Errorf("store: run links of %s: %w", id, unavailable(notFound(err)))
	}
	if by != nil {
		out.Resolved, out.ResolvedBy = true, formatID(runIDPrefix, *by)
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, retry_of = $1 FROM sy_runs WHERE retry_of = $1 OR replay_of = $1 ORDER BY seq`, seq)
	if err != nil {
		return out, fmt.Errorf("store: run links of %s: %w", id, unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var linked int64
		var retry *bool
		if err := rows.Scan(&linked, &retry); err != nil {
			return out, err
		}
		if retry != nil && *retry {
			out.RetriedBy = append(out.RetriedBy, formatID(runIDPrefix, linked))
		} else {
			out.ReplayedBy = append(out.ReplayedBy, formatID(runIDPrefix, linked))
		}
	}
	return out, unavailable(rows.Err())
}

// ResolvedAmong implements engine.ResolutionStore.
func (s *Store) ResolvedAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	var seqs []int64
	for _, id := range ids {
		if seq, err := parseID(runIDPrefix, id); err == nil {
			seqs = append(seqs, seq)
		}
	}
	out := make(map[string]bool, len(ids))
	rows, err := s.pool.Query(ctx, `SELECT seq FROM sy_runs WHERE seq = ANY($1) AND resolved_by IS NOT NULL`, seqs)
	if err == nil {
		var got []int64
		if got, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err == nil {
			for _, seq := range got {
				out[formatID(runIDPrefix, seq)] = true
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("store: resolved runs: %w", unavailable(err))
}

var _ engine.ResolutionStore = (*Store)(nil)
