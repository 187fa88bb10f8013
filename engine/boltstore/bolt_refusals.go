package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// Refusals are one log numbered by the bucket's sequence (newest last)
// with a per-flow index beside it whose values hold the time, so counting
// a flow's recent refusals reads no record.

// AddRefusals implements engine.RefusalStore: one transaction for the
// batch, then the oldest beyond the bounds go, per flow first.
func (s *Store) AddRefusals(ctx context.Context, rs []engine.Refusal, b engine.RefusalBounds) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		log, byFlow := tx.Bucket(bucketRefusalLog), tx.Bucket(bucketRefusalFlows)
		flows := map[string]bool{}
		for _, r := range rs {
			if err := putRefusal(log, byFlow, r); err != nil {
				return err
			}
			if r.FlowID != "" {
				flows[r.FlowID] = true
			}
		}
		for f := range flows {
			if err := trimFlowRefusals(log, byFlow, f, b.PerFlow); err != nil {
				return err
			}
		}
		return trimRefusalLog(log, byFlow, b.Total)
	})
}

func putRefusal(log, byFlow *bolt.Bucket, r engine.Refusal) error {
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	r.ID = ""
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := log.Put(seqKey(seq), v); err != nil {
		return err
	}
	if r.FlowID == "" {
		return nil
	}
	return byFlow.Put(keyAt(r.FlowID, seq), binary.BigEndian.AppendUint64(nil, uint64(r.At.UnixNano())))
}

// trimFlowRefusals keeps a flow's newest keep refusals.
func trimFlowRefusals(log, byFlow *bolt.Bucket, flowID string, keep int) error {
	prefix := compositeKey(flowID, nil)
	for _, k := range oldestBeyond(byFlow.Cursor(), prefix, keep) {
		if err := byFlow.Delete(k); err != nil {
			return err
		}
		if err := log.Delete(k[len(prefix):]); err != nil {
			return err
		}
	}
	return nil
}

// trimRefusalLog keeps the newest keep refusals in all, and their index
// entries with them.
func trimRefusalLog(log, byFlow *bolt.Bucket, keep int) error {
	for _, k := range oldestBeyond(log.Cursor(), nil, keep) {
		if v := log.Get(k); v != nil {
			var r engine.Refusal
			if json.Unmarshal(v, &r) == nil && r.FlowID != "" {
				if err := byFlow.Delete(compositeKey(r.FlowID, k)); err != nil {
					return err
				}
			}
		}
		if err := log.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// oldestBeyond returns (copies of) the keys under prefix (all for nil)
// but the newest keep, oldest first. It walks forward: the trims run in
// write transactions after deletes, which leave pages empty until the
// commit, and bbolt's Prev stops at an empty page as if the bucket began
// there, so counting back from the newest kept far too many
// (TestRefusalTrimsAfterDeletesInOneTx); Next steps over empty pages.
func oldestBeyond(c *bolt.Cursor, prefix []byte, keep int) [][]byte {
	var keys [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	if len(keys) <= keep {
		return nil
	}
	return keys[:len(keys)-keep]
}

// ListRefusals implements engine.RefusalStore.
func (s *Store) ListRefusals(ctx context.Context, f engine.RefusalFilter) (engine.RefusalPage, error) {
	before, err := seqCursor("refusals", f.Cursor)
	if err != nil {
		return engine.RefusalPage{}, err
	}
	page := engine.RefusalPage{Refusals: []engine.Refusal{}}
	err = s.view(func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketRefusalLog)
		add := func(k, v []byte) bool {
			var r engine.Refusal
			if v == nil || json.Unmarshal(v, &r) != nil {
				return true
			}
			r.ID = strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
			if len(page.Refusals) == f.Limit {
				page.NextCursor = page.Refusals[len(page.Refusals)-1].ID
				return false
			}
			page.Refusals = append(page.Refusals, r)
			return true
		}
		if f.FlowID == "" {
			walkNewest(log, before, add)
			return nil
		}
		prefix := compositeKey(f.FlowID, nil)
		c := tx.Bucket(bucketRefusalFlows).Cursor()
		k, _ := lastUnder(c, prefix)
		if before != 0 {
			k, _ = seekBefore(c, keyAt(f.FlowID, before))
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			seq := k[len(prefix):]
			if !add(seq, log.Get(seq)) {
				break
			}
		}
		return nil
	})
	return page, err
}

// seqCursor parses the cursor of a listing keyed by sequence number (the
// refusal log, the audit trail): 0 for none, from the newest.
func seqCursor(what, cursor string) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("store: %s cursor %q: %w", what, cursor, engine.ErrBadID)
	}
	return n, nil
}

// walkNewest walks a bucket keyed by BE(seq) newest first, starting below
// before (0: at the newest), until fn returns false.
func walkNewest(b *bolt.Bucket, before uint64, fn func(k, v []byte) bool) {
	c := b.Cursor()
	k, v := lastOf(c)
	if before != 0 {
		k, v = seekBefore(c, seqKey(before))
	}
	for ; k != nil && fn(k, v); k, v = c.Prev() {
	}
}

// seekBefore positions c on the greatest key below k.
func seekBefore(c *bolt.Cursor, k []byte) ([]byte, []byte) {
	if got, _ := c.Seek(k); got == nil {
		return lastOf(c)
	}
	return c.Prev()
}

// CountRefusals implements engine.RefusalStore: it walks the flow's index
// from the newest and stops at the first older than since.
func (s *Store) CountRefusals(ctx context.Context, flowID string, since time.Time, max int) (int, error) {
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		prefix := compositeKey(flowID, nil)
		c := tx.Bucket(bucketRefusalFlows).Cursor()
		for k, v := lastUnder(c, prefix); k != nil && bytes.HasPrefix(k, prefix) && n < max; k, v = c.Prev() {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < since.UnixNano() {
				break
			}
			n++
		}
		return nil
	})
	return n, err
}

// moveOldRefusals moves the refusals of the bucket they were kept in
// before (per flow, keyed by time) into the log, oldest first, and drops
// that bucket.
func moveOldRefusals(tx *bolt.Tx) error {
	old := tx.Bucket(oldRefusals)
	if old == nil {
		return nil
	}
	var rs []engine.Refusal
	if err := old.ForEach(func(_, v []byte) error {
		var r engine.Refusal
		if json.Unmarshal(v, &r) == nil {
			rs = append(rs, r)
		}
		return nil
	}); err != nil {
		return err
	}
	slices.SortStableFunc(rs, func(a, b engine.Refusal) int { return a.At.Compare(b.At) })
	log, byFlow := tx.Bucket(bucketRefusalLog), tx.Bucket(bucketRefusalFlows)
	for _, r := range rs {
		if err := putRefusal(log, byFlow, r); err != nil {
			return err
		}
	}
	return tx.DeleteBucket(oldRefusals)
}

var _ engine.RefusalStore = (*Store)(nil)
