package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// RefusalStore keeps refused webhook requests within bounds.
type RefusalStore interface {
	// AddRefusals stores rs (in order: the store numbers them) and then
	// drops the oldest beyond the bounds, per flow and in all.
	AddRefusals(ctx context.Context, rs []Refusal, b RefusalBounds) error
	// ListRefusals lists refusals newest first, a page at a time; an
	// empty FlowID lists every refusal, those of no flow included.
	ListRefusals(ctx context.Context, f RefusalFilter) (RefusalPage, error)
	// CountRefusals counts a flow's refusals at or after since, stopping
	// at max.
	CountRefusals(ctx context.Context, flowID string, since time.Time, max int) (int, error)
}

// Refusal is a webhook request answered 4xx or 5xx without a run: a body
// that is malformed, too large, too deep or of a type not taken, a failed
// signature or token check, a rate limit, a full queue, a disabled flow or
// a path no flow listens on. What it keeps of the request is capped and
// redacted (RefusalBodyMax, RefusalHeadersMax; credential headers are
// replaced by Redacted).
type Refusal struct {
	// ID is given by the store; it orders refusals as they were stored.
	ID string    `json:"id,omitempty"`
	At time.Time `json:"at"`
	// FlowID is empty for a path no flow listens on.
	FlowID string `json:"flow_id,omitempty"`
	Status int    `json:"status"`
	// Kind names the reason from a fixed list (RefusalKinds); Reason says
	// it in words.
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Remote string `json:"remote"`
	// Scheme is the flow's verification scheme, for signature refusals.
	Scheme      string `json:"scheme,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// Size is the body's length as received (or as announced, when it
	// was refused before it was read).
	Size int64 `json:"size"`
	// Body is the start of the body (at most RefusalBodyMax bytes, valid
	// UTF-8, secrets of the flow's verification replaced); BodyTruncated
	// says there was more.
	Body          string            `json:"body,omitempty"`
	BodyTruncated bool              `json:"body_truncated,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
}

// RefusalKinds are the values of Refusal.Kind.
var RefusalKinds = []string{"malformed_body", "media_type", "too_large", "too_deep", "signature", "address",
	"rate_limit", "queue_full", "storage_unavailable", "flow_disabled", "no_flow", "method", "bad_request", "other"}

// RefusalBounds bound what a store keeps; the oldest go first.
type RefusalBounds struct {
	PerFlow, Total int
}

// RefusalFilter selects refusals for ListRefusals.
type RefusalFilter struct {
	FlowID string
	// Limit defaults to 50 and is capped at 500.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// RefusalPage is one page of refusals.
type RefusalPage struct {
	Refusals   []Refusal `json:"refusals"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// The refusal log's bounds: what is kept on disk, and how fast refusals
// are taken in, so that a flood of bad requests neither fills the disk
// nor turns each refusal into a write on ingest's path. Refusals beyond
// the rates are counted (Stats.RefusalsDropped) but not kept.
const (
	RefusalsPerFlow = 200  // kept per flow
	RefusalsTotal   = 5000 // kept in all
	// RefusalRate is how many refusals a second are recorded (burst: one
	// second's worth); RefusalRateNoFlow the share of requests to paths
	// no flow listens on (burst RefusalBurstNoFlow), which anyone can send.
	RefusalRate        = 512
	RefusalRateNoFlow  = 10
	RefusalBurstNoFlow = 20
	// RefusalRatePerFlow is one flow's share (burst: what a flow keeps),
	// so that a flood at one flow leaves room for the refusals of others.
	RefusalRatePerFlow = 64
	// RefusalBodyMax and RefusalHeadersMax cap what is kept of a request.
	RefusalBodyMax    = 1024
	RefusalHeadersMax = 32

	refusalBacklog = 1024
	refusalFlush   = 250 * time.Millisecond
)

// tokenBucket is a plain rate limiter; callers hold refusalLog.mu.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refusalLog buffers refusals and writes them in one store write every
// refusalFlush.
type refusalLog struct {
	// flushMu orders the writes of batches.
	flushMu sync.Mutex
	mu      sync.Mutex
	pending []Refusal
	all     tokenBucket
	noFlow  tokenBucket
	perFlow map[string]*tokenBucket
	dropped atomic.Int64
}

// refusalFlowsTracked bounds perFlow: beyond it the map starts afresh
// (flows that were deleted leave their buckets behind).
const refusalFlowsTracked = 4096

func (l *refusalLog) init() {
	l.all = tokenBucket{rate: RefusalRate, burst: RefusalRate}
	l.noFlow = tokenBucket{rate: RefusalRateNoFlow, burst: RefusalBurstNoFlow}
	l.perFlow = map[string]*tokenBucket{}
}

// flowBucket is the bucket of a flow's refusals (of no flow: noFlow);
// callers hold l.mu.
func (l *refusalLog) flowBucket(flowID string) *tokenBucket {
	if flowID == "" {
		return &l.noFlow
	}
	b := l.perFlow[flowID]
	if b == nil {
		if len(l.perFlow) >= refusalFlowsTracked {
			l.perFlow = map[string]*tokenBucket{}
		}
		b = &tokenBucket{rate: RefusalRatePerFlow, burst: RefusalsPerFlow}
		l.perFlow[flowID] = b
	}
	return b
}

// AdmitRefusal counts a refused webhook request and says whether it is
// to be recorded (then the caller builds the Refusal and passes it to
// RecordRefusal): false beyond the rates (the flow's own, or that of no
// flow, then the overall one) and the backlog, in which case it is counted
// as unrecorded. flowID is empty for a path no flow
// listens on. It takes one lock and no allocation, so a flood of
// refusals costs ingest next to nothing.
func (e *Engine) AdmitRefusal(flowID string) bool {
	e.counts.refused.Add(1)
	l := &e.refusals
	now := time.Now()
	l.mu.Lock()
	ok := len(l.pending) < refusalBacklog && l.flowBucket(flowID).take(now) && l.all.take(now)
	l.mu.Unlock()
	if !ok {
		l.dropped.Add(1)
	}
	return ok
}

// RecordRefusal queues a refusal AdmitRefusal admitted; it is written
// with the next batch. It never waits for the disk.
func (e *Engine) RecordRefusal(r Refusal) {
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	l := &e.refusals
	l.mu.Lock()
	l.pending = append(l.pending, r)
	l.mu.Unlock()
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

// flushRefusals writes the pending refusals. The flush lock keeps two
// flushes (the loop's and a listing's) in the order they took their
// batches.
func (e *Engine) flushRefusals(ctx context.Context) {
	l := &e.refusals
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	err := e.store.AddRefusals(ctx, batch, RefusalBounds{PerFlow: RefusalsPerFlow, Total: RefusalsTotal})
	switch {
	case err == nil:
	case errors.Is(err, ErrStoreUnavailable):
		// The store says why itself. The batch waits for the next flush
		// ahead of what came since, within the backlog: the 503s of a
		// stuck store show once it is back.
		l.mu.Lock()
		l.pending = append(batch, l.pending...)
		if over := len(l.pending) - refusalBacklog; over > 0 {
			l.pending = l.pending[over:]
			l.dropped.Add(int64(over))
		}
		l.mu.Unlock()
	default:
		l.dropped.Add(int64(len(batch)))
		e.log.Error("record refusals", "err", err, "refusals", len(batch))
	}
}

// ListRefusals lists refusals newest first (of one flow, or all with an
// empty FlowID). Refusals still waiting for their batch are written
// first, so a listing shows every refusal recorded before it.
func (e *Engine) ListRefusals(ctx context.Context, f RefusalFilter) (RefusalPage, error) {
	e.flushRefusals(ctx)
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	p, err := e.store.ListRefusals(ctx, f)
	if p.Refusals == nil {
		p.Refusals = []Refusal{}
	}
	return p, err
}

// CountRefusals counts a flow's refusals since a time, up to max (capped
// reports whether it stopped there), for the flows list.
func (e *Engine) CountRefusals(ctx context.Context, flowID string, since time.Time, max int) (n int, capped bool, err error) {
	n, err = e.store.CountRefusals(ctx, flowID, since, max)
	return min(n, max), n >= max, err
}

// WebhookPathOwner returns the id of the flow, enabled or not, whose
// webhook listens on path ("" for none): a request to a disabled flow is
// refused and recorded for that flow.
func (e *Engine) WebhookPathOwner(path string) string { return e.flows.pathOwner(path, "") }
