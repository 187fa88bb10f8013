package boltstore

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// The run history's size and its trimming by count and size
// (engine.HistoryStore). A run's bytes are those of its records: the run
// with its steps, its index entry and per-flow key, and the event it
// started (retries and replays share their first run's event, which is
// counted once, with it).

// runBytes is what the run under key takes; idx is its index value.
func runBytes(tx *bolt.Tx, flowID string, key, idx []byte) int64 {
	n := int64(len(key)+len(idx)) + int64(len(flowID)+1+len(key))
	if v := tx.Bucket(bucketRuns).Get(key); v != nil {
		n += int64(len(key) + len(v))
	}
	if v := appendBucket(tx, bucketEvents).Get(key); v != nil {
		n += int64(len(key) + len(v))
	}
	return n
}

// usage measures the history per flow within tx.
func usage(tx *bolt.Tx) engine.HistoryUsage {
	var u engine.HistoryUsage
	idx := appendBucket(tx, bucketRunIndex)
	byFlow := map[string]int{}
	c := appendBucket(tx, bucketRunsByFlow).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		sep := bytes.IndexByte(k, 0)
		if sep < 0 || len(k)-sep-1 != 8 {
			continue
		}
		flowID, key := string(k[:sep]), k[sep+1:]
		v := idx.Get(key)
		if v == nil {
			continue
		}
		i, ok := byFlow[flowID]
		if !ok {
			i = len(u.Flows)
			byFlow[flowID] = i
			u.Flows = append(u.Flows, engine.FlowUsage{FlowID: flowID})
		}
		f := &u.Flows[i]
		n := runBytes(tx, flowID, key, v)
		f.Runs++
		f.Bytes += n
		u.Runs++
		u.Bytes += n
		if !indexFinal(v) {
			f.Unfinished++
			u.Unfinished++
		}
	}
	return u
}

// HistoryUsage implements engine.HistoryStore.
func (s *Store) HistoryUsage(ctx context.Context) (engine.HistoryUsage, error) {
	var u engine.HistoryUsage
	err := s.viewRuns(func(tx *bolt.Tx) error {
		u = usage(tx)
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("store: history usage: %w", err)
	}
	engine.ShareUsage(&u)
	return u, nil
}

// TrimHistory implements engine.HistoryStore: it walks the runs oldest
// first and picks each finished run that is older than p.Before, or of a
// flow with more than p.KeepPerFlow runs, or while the history takes more
// than p.MaxBytes; it stops at the first run no limit reaches any more.
func (s *Store) TrimHistory(ctx context.Context, p engine.RetentionPolicy, limit int) (int, error) {
	var victims []victim
	err := s.viewRuns(func(tx *bolt.Tx) error {
		u := usage(tx)
		count := make(map[string]int, len(u.Flows))
		over := 0 // flows above KeepPerFlow
		for _, f := range u.Flows {
			count[f.FlowID] = f.Runs
			if p.KeepPerFlow > 0 && f.Runs > p.KeepPerFlow {
				over++
			}
		}
		total := u.Bytes
		before := p.Before.UnixNano()
		c := appendBucket(tx, bucketRunIndex).Cursor()
		for k, v := c.First(); k != nil && len(victims) < limit; k, v = c.Next() {
			created, _, ok := indexHeader(v)
			var sum engine.RunSummary
			if !ok {
				if decodeIndex(v, &sum) != nil {
					continue
				}
				created = sum.CreatedAt.UnixNano()
			}
			old := !p.Before.IsZero() && created < before
			big := p.MaxBytes > 0 && total > p.MaxBytes
			if !old && !big && over == 0 {
				break // runs only get newer from here
			}
			if !indexFinal(v) {
				continue // never an unfinished run
			}
			if sum.FlowID == "" && decodeIndex(v, &sum) != nil {
				continue
			}
			many := p.KeepPerFlow > 0 && count[sum.FlowID] > p.KeepPerFlow
			if !old && !big && !many {
				continue
			}
			if many && count[sum.FlowID]-1 == p.KeepPerFlow {
				over--
			}
			count[sum.FlowID]--
			total -= runBytes(tx, sum.FlowID, k, v)
			victims = append(victims, victim{key: bytes.Clone(k), flowID: sum.FlowID, event: mustKey(eventIDPrefix, sum.EventID)})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: trim history: %w", err)
	}
	// One transaction per thousand runs: a large trim never makes one
	// huge transaction that holds up the writers behind it.
	deleted := 0
	for len(victims) > 0 {
		chunk := victims[:min(len(victims), 1000)]
		victims = victims[len(chunk):]
		n, err := s.deleteRuns(ctx, chunk)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

var _ engine.HistoryStore = (*Store)(nil)
