package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Refusal is a webhook request that was turned away (bad signature, wrong
// address, over the rate limit). The body is never kept.
type Refusal struct {
	At     time.Time `json:"at"`
	FlowID string    `json:"flow_id"`
	Remote string    `json:"remote"`
	Scheme string    `json:"scheme,omitempty"`
	Reason string    `json:"reason"`
	Status int       `json:"status"`
}

// Refusal bookkeeping bounds: a flood of forged requests must neither fill
// the disk nor turn each refusal into an fsync.
const (
	refusalsKept   = 200 // per flow, on disk
	refusalBacklog = 1024
	refusalFlush   = time.Second
)

// refusalLog buffers refusals and writes them in one transaction a second.
type refusalLog struct {
	mu      sync.Mutex
	pending []Refusal
	dropped atomic.Int64
}

// RecordRefusal notes a refused webhook request. It never blocks on disk:
// refusals are written in batches, and beyond a backlog they are counted
// and dropped.
func (e *Engine) RecordRefusal(r Refusal) {
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	e.counts.refused.Add(1)
	l := &e.refusals
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) >= refusalBacklog {
		l.dropped.Add(1)
		return
	}
	l.pending = append(l.pending, r)
}

func (e *Engine) refusalLoop(ctx context.Context) {
	t := time.NewTicker(refusalFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.flushRefusals(context.WithoutCancel(ctx))
			return
		case <-t.C:
			e.flushRefusals(ctx)
		}
	}
}

func (e *Engine) flushRefusals(ctx context.Context) {
	l := &e.refusals
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := e.store.AddRefusals(ctx, batch, refusalsKept); err != nil {
		e.log.Error("record refusals", "err", err)
	}
}

// Refusals lists a flow's recent refusals, newest first, including those
// not yet written.
func (e *Engine) Refusals(ctx context.Context, flowID string, limit int) ([]Refusal, error) {
	out := []Refusal{}
	e.refusals.mu.Lock()
	for i := len(e.refusals.pending) - 1; i >= 0 && len(out) < limit; i-- {
		if e.refusals.pending[i].FlowID == flowID {
			out = append(out, e.refusals.pending[i])
		}
	}
	e.refusals.mu.Unlock()
	stored, err := e.store.Refusals(ctx, flowID, limit-len(out))
	return append(out, stored...), err
}

// AddRefusals implements Store: it keeps the newest `keep` per flow.
func (s *BoltStore) AddRefusals(ctx context.Context, rs []Refusal, keep int) error {
	vals := make([][]byte, len(rs))
	for i := range rs {
		v, err := json.Marshal(rs[i])
		if err != nil {
			return err
		}
		vals[i] = v
	}
	return s.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefusals)
		flows := map[string]bool{}
		for i, r := range rs {
			if err := b.Put(refusalKey(r), vals[i]); err != nil {
				return err
			}
			flows[r.FlowID] = true
		}
		for f := range flows {
			prefix := compositeKey(f, nil)
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			for i := 0; i < len(keys)-keep; i++ {
				if err := b.Delete(keys[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Refusals implements Store: newest first.
func (s *BoltStore) Refusals(ctx context.Context, flowID string, limit int) ([]Refusal, error) {
	var out []Refusal
	err := s.view(func(tx *bolt.Tx) error {
		prefix := compositeKey(flowID, nil)
		c := tx.Bucket(bucketRefusals).Cursor()
		for k, v := lastUnder(c, prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
			var r Refusal
			if json.Unmarshal(v, &r) == nil {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}
