package boltstore

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// The bbolt side of unresolved failures (resolution.go). Two buckets,
// written in the transaction that applies the checkpoint making a run
// final (so a replayed log rebuilds them exactly):
//
//	unresolved: BE(seq of a failed run) → nil, while nothing resolved it
//	resolved:   BE(seq of a failed run) → BE(seq of the run that did)
//
// Data dirs from before these buckets get them built once, on open, from
// the run index (resolutionMeta records that it was done).

var resolutionMeta = []byte("resolution_index_v1")

// maxResolveHops bounds the walk up a chain of retries of retries.
const maxResolveHops = 64

// noteFinal updates the resolution buckets for a run whose checkpoint with
// index value idx just became final: a failure is unresolved; a success
// resolves the run it was started from, and that run's own origins.
func noteFinal(tx *bolt.Tx, key, idx []byte) error {
	status := indexStatus(idx)
	switch status {
	case engine.RunFailed:
		if err := noteFailed(tx, key, idx); err != nil {
			return err
		}
		if tx.Bucket(bucketResolved).Get(key) != nil {
			return nil
		}
		return tx.Bucket(bucketUnresolved).Put(key, nil)
	case engine.RunSucceeded:
		// Most runs are neither retries nor replays: skip the decode.
		if !indexMayHaveOrigin(idx) {
			return nil
		}
		var sum engine.RunSummary
		if decodeIndex(idx, &sum) != nil {
			return nil
		}
		return resolveChain(tx, originOf(&sum), key)
	}
	return nil
}

// noteFailed files a failed run under its flow in failed_by_flow: the
// failed runs of one flow are listed by walking them, not the flow's whole
// history. A flow with 100,000 runs and none failed took 59 ms (p50) and
// 105 ms (p99) per page at 1,000,000 runs in all (issue 16); the walk
// costs what the page holds.
func noteFailed(tx *bolt.Tx, key, idx []byte) error {
	var sum engine.RunSummary
	if decodeIndex(idx, &sum) != nil {
		return nil // a damaged entry: listed, if at all, by the full walk
	}
	return appendBucket(tx, bucketFailedByFlow).Put(compositeKey(sum.FlowID, key), nil)
}

// failedMeta records that failed_by_flow was filled from the run index
// (buildFailedByFlow): data dirs from before it hold none.
var failedMeta = []byte("failed_by_flow_v1")

// buildFailedByFlow files the failed runs of a data dir from before
// failed_by_flow, once.
func buildFailedByFlow(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(failedMeta) != nil {
		return nil
	}
	c := tx.Bucket(bucketRunIndex).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if indexStatus(v) != engine.RunFailed {
			continue
		}
		if err := noteFailed(tx, bytes.Clone(k), v); err != nil {
			return err
		}
	}
	return meta.Put(failedMeta, []byte{1})
}

// indexStatus reads a run's status from its index value.
func indexStatus(v []byte) engine.RunStatus {
	if _, code, ok := indexHeader(v); ok && code != 0 {
		for st, c := range runStatusCodes {
			if c == code {
				return st
			}
		}
	}
	var sum engine.RunSummary
	if decodeIndex(v, &sum) != nil {
		return ""
	}
	return sum.Status
}

func originOf(sum *engine.RunSummary) string {
	if sum.RetryOf != "" {
		return sum.RetryOf
	}
	return sum.ReplayOf
}

// resolveChain marks run id, and the failed runs it was itself retried or
// replayed from, as resolved by the run with key by.
func resolveChain(tx *bolt.Tx, id string, by []byte) error {
	idx := tx.Bucket(bucketRunIndex)
	unresolved, resolved := tx.Bucket(bucketUnresolved), tx.Bucket(bucketResolved)
	for hops := 0; id != "" && hops < maxResolveHops; hops++ {
		k, err := parseID(runIDPrefix, id)
		if err != nil {
			return nil
		}
		var sum engine.RunSummary
		if decodeIndex(idx.Get(k), &sum) != nil {
			return nil // gone with retention
		}
		if sum.Status == engine.RunFailed {
			if err := unresolved.Delete(k); err != nil {
				return err
			}
			if resolved.Get(k) == nil {
				if err := resolved.Put(k, bytes.Clone(by)); err != nil {
					return err
				}
			}
		}
		id = originOf(&sum)
	}
	return nil
}

// buildResolutions fills the resolution buckets from the run index, once
// per data dir.
func buildResolutions(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(resolutionMeta) != nil {
		return nil
	}
	c := tx.Bucket(bucketRunIndex).Cursor()
	// Oldest first: a run is final before any retry of it is created.
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !indexFinal(v) {
			continue
		}
		if err := noteFinal(tx, bytes.Clone(k), bytes.Clone(v)); err != nil {
			return err
		}
	}
	return meta.Put(resolutionMeta, []byte{1})
}

// forgetResolution drops a deleted run from the resolution buckets.
func forgetResolution(tx *bolt.Tx, key []byte) error {
	if err := tx.Bucket(bucketUnresolved).Delete(key); err != nil {
		return err
	}
	return tx.Bucket(bucketResolved).Delete(key)
}

// ListUnresolved implements engine.ResolutionStore: it walks the unresolved
// bucket newest first, so its cost follows the unresolved runs, not the
// history.
func (s *Store) ListUnresolved(ctx context.Context, f engine.RunFilter) (engine.RunPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var start []byte
	if f.Cursor != "" {
		k, err := parseID(runIDPrefix, f.Cursor)
		if err != nil {
			return engine.RunPage{}, fmt.Errorf("store: list unresolved runs: cursor: %w", err)
		}
		start = k
	}
	page := engine.RunPage{Runs: []engine.RunSummary{}}
	err := s.viewRuns(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRunIndex)
		c := tx.Bucket(bucketUnresolved).Cursor()
		for k := newestBefore(c, nil, start); k != nil; k, _ = c.Prev() {
			var sum engine.RunSummary
			if decodeIndex(idx.Get(k), &sum) != nil {
				continue
			}
			if f.FlowID != "" && sum.FlowID != f.FlowID {
				continue
			}
			if !addToPage(&page, f, sum, limit) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return engine.RunPage{}, fmt.Errorf("store: list unresolved runs: %w", err)
	}
	return page, nil
}

// CountUnresolved implements engine.ResolutionStore. It reads what bbolt holds
// without waiting for the applier: the navigation shows it on every page,
// and a count a moment old is good enough there.
func (s *Store) CountUnresolved(ctx context.Context, max int) (int, error) {
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUnresolved).Cursor()
		for k, _ := c.First(); k != nil && n < max; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count unresolved runs: %w", err)
	}
	return n, nil
}

// RunLinks implements engine.ResolutionStore. Retries and replays are linked to
// the event they share, so finding them reads that event's few runs.
func (s *Store) RunLinks(ctx context.Context, id string) (engine.RunLinks, error) {
	out := engine.RunLinks{RetriedBy: []string{}, ReplayedBy: []string{}}
	key, err := parseID(runIDPrefix, id)
	if err != nil {
		return out, fmt.Errorf("store: run links: %w", err)
	}
	err = s.viewRuns(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRunIndex)
		var sum engine.RunSummary
		if err := decodeIndex(idx.Get(key), &sum); err != nil {
			return engine.ErrNotFound
		}
		if by := tx.Bucket(bucketResolved).Get(key); by != nil {
			out.Resolved, out.ResolvedBy = true, formatID(runIDPrefix, seqOf(by))
		}
		ev := mustKey(eventIDPrefix, sum.EventID)
		c := tx.Bucket(bucketEventRuns).Cursor()
		for k, _ := c.Seek(ev); k != nil && bytes.HasPrefix(k, ev) && len(k) == len(ev)+8; k, _ = c.Next() {
			var linked engine.RunSummary
			if decodeIndex(idx.Get(k[len(ev):]), &linked) != nil {
				continue
			}
			switch id {
			case linked.RetryOf:
				out.RetriedBy = append(out.RetriedBy, linked.ID)
			case linked.ReplayOf:
				out.ReplayedBy = append(out.ReplayedBy, linked.ID)
			}
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("store: run links of %s: %w", id, err)
	}
	return out, nil
}

// ResolvedAmong implements engine.ResolutionStore.
func (s *Store) ResolvedAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	err := s.viewRuns(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResolved)
		for _, id := range ids {
			if k, err := parseID(runIDPrefix, id); err == nil && b.Get(k) != nil {
				out[id] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: resolved runs: %w", err)
	}
	return out, nil
}

var _ engine.ResolutionStore = (*Store)(nil)

// addToPage appends sum, walked newest first, to the page when it lies within
// f's period, and reports whether the walk should go on: not once the page
// is full (NextCursor is then set) or the runs are older than f.Since.
func addToPage(p *engine.RunPage, f engine.RunFilter, sum engine.RunSummary, limit int) bool {
	if !f.Until.IsZero() && !sum.CreatedAt.Before(f.Until) {
		return true
	}
	if !f.Since.IsZero() && sum.CreatedAt.Before(f.Since) {
		return false // newest first: everything further is older still
	}
	if len(p.Runs) == limit {
		p.NextCursor = p.Runs[len(p.Runs)-1].ID
		return false
	}
	p.Runs = append(p.Runs, sum)
	return true
}
