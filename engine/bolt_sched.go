package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of schedule and poll triggers.
var (
	bucketTicks     = []byte("ticks")      // flow 0x00 BE(tick unix nano) → run id
	bucketSeen      = []byte("seen")       // flow 0x00 item key → BE(seq)
	bucketSeenOrder = []byte("seen_order") // flow 0x00 BE(seq) → item key
	bucketPollState = []byte("poll_state") // flow → PollState
)

func init() {
	allBuckets = append(allBuckets, bucketTicks, bucketSeen, bucketSeenOrder, bucketPollState)
}

func tickKey(flowID string, tick time.Time) []byte {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(tick.UnixNano()))
	return compositeKey(flowID, n[:])
}

// currentVersion reads a flow's current version inside a transaction; 0
// when the flow does not exist.
func currentVersion(tx *bolt.Tx, flowID string) int64 {
	var rec FlowRecord
	if getJSON(tx.Bucket(bucketFlows), []byte(flowID), &rec) != nil {
		return 0
	}
	return rec.Version
}

// AcceptTick implements Store.
func (s *BoltStore) AcceptTick(ctx context.Context, ev *Event, run *Run, tick time.Time) (AcceptResult, error) {
	var res AcceptResult
	evCopy, runCopy := *ev, *run
	err := s.write(ctx, func(tx *bolt.Tx) error {
		res = AcceptResult{}
		if v := currentVersion(tx, evCopy.FlowID); v != runCopy.FlowVersion {
			return fmt.Errorf("%w: flow %q is at version %d, tick was for %d", ErrStaleVersion, evCopy.FlowID, v, runCopy.FlowVersion)
		}
		tk := tickKey(evCopy.FlowID, tick)
		ticks := tx.Bucket(bucketTicks)
		if prev := ticks.Get(tk); prev != nil {
			res = AcceptResult{RunID: string(prev), Duplicate: true}
			return nil
		}
		e, r, err := s.putEventAndRun(tx, &evCopy, &runCopy)
		if err != nil {
			return err
		}
		if err := ticks.Put(tk, []byte(r.ID)); err != nil {
			return err
		}
		res = AcceptResult{RunID: r.ID, EventID: e.ID}
		return nil
	})
	if err != nil {
		return AcceptResult{}, fmt.Errorf("store: accept tick %s of flow %q: %w", tick.Format(time.RFC3339), ev.FlowID, err)
	}
	if !res.Duplicate {
		ev.ID, run.ID, run.EventID = res.EventID, res.RunID, res.EventID
	}
	return res, nil
}

// putEventAndRun writes a new event and its first run, which share a key.
func (s *BoltStore) putEventAndRun(tx *bolt.Tx, ev *Event, run *Run) (*Event, *Run, error) {
	key, err := s.putNewRunWithEvent(tx, run)
	if err != nil {
		return nil, nil, err
	}
	ev.ID = run.EventID
	return ev, run, putJSON(tx.Bucket(bucketEvents), key, ev)
}

// putNewRunWithEvent is putNewRun for a run that starts its own event.
func (s *BoltStore) putNewRunWithEvent(tx *bolt.Tx, r *Run) ([]byte, error) {
	seq := s.seq.Add(1)
	key := seqKey(seq)
	r.ID, r.EventID = formatID(runIDPrefix, seq), formatID(eventIDPrefix, seq)
	sum := r.Summary()
	idx, err := encodeIndex(&sum)
	if err != nil {
		return nil, err
	}
	return key, putIndexed(tx, key, r.FlowID, idx, dueOf(r), nil)
}

// LastTick implements Store.
func (s *BoltStore) LastTick(ctx context.Context, flowID string) (time.Time, error) {
	var last time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := compositeKey(flowID, nil)
		c := tx.Bucket(bucketTicks).Cursor()
		k, _ := c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			last = time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):])))
		}
		return nil
	})
	return last, err
}

// PollState is what a poll trigger remembers between polls.
type PollState struct {
	FlowVersion int64     `json:"flow_version"`
	Seeded      bool      `json:"seeded"`
	LastPollAt  time.Time `json:"last_poll_at,omitempty"`
	LastStatus  string    `json:"last_status,omitempty"` // ok, error, flood, seeded
	LastError   string    `json:"last_error,omitempty"`
	LastNew     int       `json:"last_new"`
	LastItems   int       `json:"last_items"`
	Failures    int       `json:"failures"`
	NextAllowed time.Time `json:"next_allowed,omitempty"`
	// Paused is set by the flood guard until someone confirms.
	Paused      bool   `json:"paused"`
	PauseReason string `json:"pause_reason,omitempty"`
	// Cursor is the value of the flow's cursor expression after the last
	// successful poll.
	Cursor any `json:"cursor,omitempty"`
	// SeenCount is how many keys the seen set holds.
	SeenCount int `json:"seen_count"`
}

// PollItem is one polled item that would start a run.
type PollItem struct {
	Key   string
	Event *Event
	Run   *Run
}

// PollCommit is the outcome of one poll, written in one transaction.
type PollCommit struct {
	FlowID  string
	Version int64
	Items   []PollItem
	// SeenLimit bounds the seen set; the oldest keys go first.
	SeenLimit int
	// FloodLimit: more unseen items than this pauses the flow instead.
	FloodLimit int
	// Backfill is how many of the newest unseen items the first poll runs
	// (0: the first poll only records what is there).
	Backfill int
	// Force fires unseen items even beyond the flood limit (a user
	// confirmed).
	Force bool
	// State is the state to save, updated with what the commit did.
	State PollState
}

// PollResult reports what AcceptPoll stored.
type PollResult struct {
	Runs    []*Run
	Events  []*Event
	Unseen  int
	Flooded bool
	State   PollState
}

// AcceptPoll implements Store.
func (s *BoltStore) AcceptPoll(ctx context.Context, pc PollCommit) (PollResult, error) {
	var out PollResult
	err := s.write(ctx, func(tx *bolt.Tx) error {
		out = PollResult{State: pc.State}
		if v := currentVersion(tx, pc.FlowID); v != pc.Version {
			return fmt.Errorf("%w: flow %q is at version %d, poll was for %d", ErrStaleVersion, pc.FlowID, v, pc.Version)
		}
		seen := tx.Bucket(bucketSeen)
		var unseen []PollItem
		batch := map[string]bool{}
		for _, it := range pc.Items {
			if batch[it.Key] || seen.Get(compositeKey(pc.FlowID, []byte(it.Key))) != nil {
				continue
			}
			batch[it.Key] = true
			unseen = append(unseen, it)
		}
		out.Unseen = len(unseen)
		st := &out.State
		fire := unseen
		switch {
		case !st.Seeded:
			// The first poll records what is there; only a backfill runs
			// the newest few.
			fire = nil
			if pc.Backfill > 0 && len(unseen) > 0 {
				fire = unseen[max(0, len(unseen)-pc.Backfill):]
			}
			st.Seeded = true
			st.LastStatus = "seeded"
		case pc.FloodLimit > 0 && len(unseen) > pc.FloodLimit && !pc.Force:
			st.Paused = true
			st.PauseReason = fmt.Sprintf("%d new items in one poll (limit %d); confirm to run them or seed to skip them", len(unseen), pc.FloodLimit)
			st.LastStatus = "flood"
			out.Flooded = true
			return putJSON(tx.Bucket(bucketPollState), []byte(pc.FlowID), st)
		default:
			st.LastStatus = "ok"
		}
		st.LastNew = len(fire)
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
		n, err := trimSeen(tx, pc.FlowID, pc.SeenLimit)
		if err != nil {
			return err
		}
		st.SeenCount = n
		return putJSON(tx.Bucket(bucketPollState), []byte(pc.FlowID), st)
	})
	if err != nil {
		return PollResult{}, fmt.Errorf("store: accept poll of flow %q: %w", pc.FlowID, err)
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
func trimSeen(tx *bolt.Tx, flowID string, limit int) (int, error) {
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
	return limit, nil
}

// PollStateOf implements Store.
func (s *BoltStore) PollStateOf(ctx context.Context, flowID string) (PollState, error) {
	var st PollState
	err := s.db.View(func(tx *bolt.Tx) error {
		err := getJSON(tx.Bucket(bucketPollState), []byte(flowID), &st)
		if err == ErrNotFound {
			return nil
		}
		return err
	})
	return st, err
}

// PutPollState implements Store.
func (s *BoltStore) PutPollState(ctx context.Context, flowID string, st PollState) error {
	return s.putRecord(ctx, bucketPollState, []byte(flowID), st, "poll state of "+flowID)
}

// SeenKeys implements Store: the count and the newest keys, newest first.
func (s *BoltStore) SeenKeys(ctx context.Context, flowID string, newest int) (int, []string, error) {
	var keys []string
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := compositeKey(flowID, nil)
		c := tx.Bucket(bucketSeenOrder).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		k, v := c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(keys) < newest; k, v = c.Prev() {
			keys = append(keys, string(v))
		}
		return nil
	})
	return n, keys, err
}

// ResetPoll implements Store: forgets the seen set and the poll state, so
// the next poll seeds again.
func (s *BoltStore) ResetPoll(ctx context.Context, flowID string) error {
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
