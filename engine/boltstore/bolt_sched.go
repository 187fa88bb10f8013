package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// currentVersion reads a flow's current version inside a transaction; 0
// when the flow does not exist.
func currentVersion(tx *bolt.Tx, flowID string) int64 {
	var rec engine.FlowRecord
	if getJSON(tx.Bucket(bucketFlows), []byte(flowID), &rec) != nil {
		return 0
	}
	return rec.Version
}

// tickHorizon is how long a fired tick's key is kept. Within it a tick is
// refused by its exact key; a tick older than the flow's newest by more than
// the horizon is refused as too old to tell, so pruning never lets a tick
// fire twice. It covers the repeated hour of a daylight-saving change and
// a clock stepped back by a day.
const tickHorizon = 25 * time.Hour

// AcceptTick implements engine.Store. A tick older than the flow's newest by more
// than tickHorizon is refused as a duplicate without a run id.
func (s *Store) AcceptTick(ctx context.Context, ev *engine.Event, run *engine.Run, tick time.Time) (engine.AcceptResult, error) {
	var res engine.AcceptResult
	evCopy, runCopy := *ev, *run
	err := s.write(ctx, func(tx *bolt.Tx) error {
		res = engine.AcceptResult{}
		// Turning a flow off keeps its version (bolt_versions.go), so a
		// tick checks that too.
		if v := currentVersion(tx, evCopy.FlowID); v != runCopy.FlowVersion || !enabledNow(tx, evCopy.FlowID) {
			return fmt.Errorf("%w: flow %q is at version %d, tick was for %d", engine.ErrStaleVersion, evCopy.FlowID, v, runCopy.FlowVersion)
		}
		tk := tickKey(evCopy.FlowID, tick)
		ticks := tx.Bucket(bucketTicks)
		if prev := ticks.Get(tk); prev != nil {
			res = engine.AcceptResult{RunID: string(prev), Duplicate: true}
			return nil
		}
		newest := lastTick(tx, evCopy.FlowID)
		if !newest.IsZero() && tick.Before(newest.Add(-tickHorizon)) {
			res = engine.AcceptResult{Duplicate: true}
			return nil
		}
		e, r, err := s.putEventAndRun(tx, &evCopy, &runCopy)
		if err != nil {
			return err
		}
		if err := ticks.Put(tk, []byte(r.ID)); err != nil {
			return err
		}
		res = engine.AcceptResult{RunID: r.ID, EventID: e.ID}
		if tick.After(newest) {
			newest = tick
		}
		return pruneTicks(tx, evCopy.FlowID, newest.Add(-tickHorizon))
	})
	if err != nil {
		return engine.AcceptResult{}, fmt.Errorf("store: accept tick %s of flow %q: %w", tick.Format(time.RFC3339), ev.FlowID, err)
	}
	if !res.Duplicate {
		ev.ID, run.ID, run.EventID = res.EventID, res.RunID, res.EventID
	}
	return res, nil
}

// pruneTicks forgets a flow's tick keys before cutoff. Each accepted tick
// prunes what fell out of the horizon since the last one, so the work per
// tick stays small.
func pruneTicks(tx *bolt.Tx, flowID string, cutoff time.Time) error {
	prefix := compositeKey(flowID, nil)
	end := tickKey(flowID, cutoff)
	c := tx.Bucket(bucketTicks).Cursor()
	var del [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.Compare(k, end) < 0 && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		del = append(del, bytes.Clone(k))
	}
	for _, k := range del {
		if err := tx.Bucket(bucketTicks).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// putEventAndRun writes a new event and its first run, which share a key.
func (s *Store) putEventAndRun(tx *bolt.Tx, ev *engine.Event, run *engine.Run) (*engine.Event, *engine.Run, error) {
	key, err := s.putNewRunWithEvent(tx, run)
	if err != nil {
		return nil, nil, err
	}
	ev.ID = run.EventID
	return ev, run, putJSON(tx.Bucket(bucketEvents), key, ev)
}

// putNewRunWithEvent is putNewRun for a run that starts its own event.
func (s *Store) putNewRunWithEvent(tx *bolt.Tx, r *engine.Run) ([]byte, error) {
	seq := s.seq.Add(1)
	key := seqKey(seq)
	r.ID, r.EventID = formatID(runIDPrefix, seq), formatID(eventIDPrefix, seq)
	sum := r.Summary()
	idx, err := encodeIndex(&sum)
	if err != nil {
		return nil, err
	}
	if err := putIndexed(tx, key, r.FlowID, idx, dueOf(r), nil); err != nil {
		return nil, err
	}
	s.markOpen(key, idx)
	return key, nil
}

// LastTick implements engine.Store.
func (s *Store) LastTick(ctx context.Context, flowID string) (time.Time, error) {
	var last time.Time
	err := s.view(func(tx *bolt.Tx) error {
		last = lastTick(tx, flowID)
		return nil
	})
	return last, err
}

// lastTick is a flow's newest recorded tick, zero when there is none.
func lastTick(tx *bolt.Tx, flowID string) time.Time {
	prefix := compositeKey(flowID, nil)
	c := tx.Bucket(bucketTicks).Cursor()
	if k, _ := lastUnder(c, prefix); len(k) == len(prefix)+8 {
		return time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):])))
	}
	return time.Time{}
}

// AcceptPoll implements engine.Store.
func (s *Store) AcceptPoll(ctx context.Context, pc engine.PollCommit) (engine.PollResult, error) {
	var out engine.PollResult
	err := s.write(ctx, func(tx *bolt.Tx) error {
		out = engine.PollResult{State: pc.State}
		if v := currentVersion(tx, pc.FlowID); v != pc.Version {
			return fmt.Errorf("%w: flow %q is at version %d, poll was for %d", engine.ErrStaleVersion, pc.FlowID, v, pc.Version)
		}
		st := &out.State
		if pc.Failed {
			return putJSON(tx.Bucket(bucketPollState), []byte(pc.FlowID), st)
		}
		seen := tx.Bucket(bucketSeen)
		var unseen []engine.PollItem
		listed := map[string]bool{}
		for _, it := range pc.Items {
			if listed[it.Key] {
				continue
			}
			listed[it.Key] = true
			if seen.Get(compositeKey(pc.FlowID, []byte(it.Key))) == nil {
				unseen = append(unseen, it)
			}
		}
		out.Unseen = len(unseen)
		fire, flooded := pc.Decide(st, unseen)
		if flooded {
			out.Flooded = true
			return putJSON(tx.Bucket(bucketPollState), []byte(pc.FlowID), st)
		}
		for _, it := range fire {
			ev, run := *it.Event, *it.Run
			if _, _, err := s.putEventAndRun(tx, &ev, &run); err != nil {
				return err
			}
			out.Events = append(out.Events, &ev)
			out.Runs = append(out.Runs, &run)
		}
		for _, it := range unseen {
			if err := addSeen(tx, pc.FlowID, it.Key); err != nil {
				return err
			}
		}
		n, err := trimSeen(tx, pc.FlowID, pc.SeenLimit, listed)
		if err != nil {
			return err
		}
		st.SeenCount = n
		return putJSON(tx.Bucket(bucketPollState), []byte(pc.FlowID), st)
	})
	if err != nil {
		return engine.PollResult{}, fmt.Errorf("store: accept poll of flow %q: %w", pc.FlowID, err)
	}
	return out, nil
}

func addSeen(tx *bolt.Tx, flowID, key string) error {
	order := tx.Bucket(bucketSeenOrder)
	seq, err := order.NextSequence()
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketSeen).Put(compositeKey(flowID, []byte(key)), seqKey(seq)); err != nil {
		return err
	}
	return order.Put(compositeKey(flowID, seqKey(seq)), []byte(key))
}

// trimSeen drops the oldest keys beyond limit and returns the count kept.
// Keys the source still lists (keep) are never dropped, whatever their age:
// forgetting one would run its item again on the next poll. The set thus
// holds at most max(limit, items listed by the last poll).
func trimSeen(tx *bolt.Tx, flowID string, limit int, keep map[string]bool) (int, error) {
	prefix := compositeKey(flowID, nil)
	order := tx.Bucket(bucketSeenOrder)
	c := order.Cursor()
	n := 0
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	if limit <= 0 || n <= limit {
		return n, nil
	}
	drop := n - limit
	var victims [][2][]byte
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(victims) < drop; k, v = c.Next() {
		if keep[string(v)] {
			continue
		}
		victims = append(victims, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
	}
	for _, kv := range victims {
		if err := order.Delete(kv[0]); err != nil {
			return 0, err
		}
		if err := tx.Bucket(bucketSeen).Delete(compositeKey(flowID, kv[1])); err != nil {
			return 0, err
		}
	}
	return n - len(victims), nil
}

// PollStateOf implements engine.Store.
func (s *Store) PollStateOf(ctx context.Context, flowID string) (engine.PollState, error) {
	var st engine.PollState
	err := s.view(func(tx *bolt.Tx) error {
		err := getJSON(tx.Bucket(bucketPollState), []byte(flowID), &st)
		if err == engine.ErrNotFound {
			return nil
		}
		return err
	})
	return st, err
}

// PutPollState implements engine.Store.
func (s *Store) PutPollState(ctx context.Context, flowID string, st engine.PollState) error {
	return s.putRecord(ctx, bucketPollState, []byte(flowID), st, "poll state of "+flowID)
}

// SeenKeys implements engine.Store: the count and the newest keys, newest first.
func (s *Store) SeenKeys(ctx context.Context, flowID string, newest int) (int, []string, error) {
	var keys []string
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		prefix := compositeKey(flowID, nil)
		c := tx.Bucket(bucketSeenOrder).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		for k, v := lastUnder(c, prefix); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < newest; k, v = c.Prev() {
			keys = append(keys, string(v))
		}
		return nil
	})
	return n, keys, err
}

// ResetPoll implements engine.Store: forgets the seen set and the poll state, so
// the next poll seeds again.
func (s *Store) ResetPoll(ctx context.Context, flowID string) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		prefix := compositeKey(flowID, nil)
		for _, b := range [][]byte{bucketSeen, bucketSeenOrder} {
			bk := tx.Bucket(b)
			var del [][]byte
			c := bk.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				del = append(del, bytes.Clone(k))
			}
			for _, k := range del {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketPollState).Delete([]byte(flowID))
	})
}
