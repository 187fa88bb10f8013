package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// RefusalStore keeps refused webhook requests.
type RefusalStore interface {
	// Refusals are refused webhook requests, the newest `keep` per flow.
	AddRefusals(ctx context.Context, rs []Refusal, keep int) error
	Refusals(ctx context.Context, flowID string, limit int) ([]Refusal, error)
}

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
