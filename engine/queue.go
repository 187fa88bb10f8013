package engine

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// queued is a run waiting in memory for its due time. run and event are set
// when the caller already holds them, which spares a store read.
type queued struct {
	runID string
	due   time.Time
	seq   uint64
	run   *Run
	event *Event
	// flowID and created, when known, let the dispatcher ask the gate
	// (hold.go) without loading the run.
	flowID  string
	created time.Time
}

// dueQueue orders runs by due time (zero = now), then by arrival. The store's
// queue bucket is the durable copy; this is the in-memory schedule built from
// it at start-up.
type dueQueue struct {
	mu   sync.Mutex
	h    dueHeap
	seq  uint64
	wake chan struct{}
	// admit, when set, is asked before a due run is handed to a worker;
	// false means it took the run (held back, see hold.go).
	admit func(queued) bool
}

func newDueQueue() *dueQueue { return &dueQueue{wake: make(chan struct{}, 1)} }

func (q *dueQueue) push(it queued) {
	q.mu.Lock()
	q.seq++
	it.seq = q.seq
	heap.Push(&q.h, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// makeDue moves a run waiting in memory to now; false when it is not
// there (a worker holds it).
func (q *dueQueue) makeDue(runID string) bool {
	q.mu.Lock()
	found := false
	for i := range q.h {
		if q.h[i].runID == runID {
			q.h[i].due = time.Time{}
			heap.Fix(&q.h, i)
			found = true
			break
		}
	}
	q.mu.Unlock()
	if found {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return found
}

// Len is the number of runs waiting in memory.
func (q *dueQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

// dispatch hands due runs to work until ctx ends.
func (q *dueQueue) dispatch(ctx context.Context, work chan<- queued) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		var next queued
		var wait time.Duration = -1
		if len(q.h) > 0 {
			top := q.h[0]
			if d := time.Until(top.due); top.due.IsZero() || d <= 0 {
				next = heap.Pop(&q.h).(queued)
			} else {
				wait = d
			}
		}
		q.mu.Unlock()
		if next.runID != "" {
			if q.admit != nil && !q.admit(next) {
				continue
			}
			select {
			case work <- next:
			case <-ctx.Done():
				return
			}
			continue
		}
		var tc <-chan time.Time
		if wait >= 0 {
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-tc:
		}
	}
}

type dueHeap []queued

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = queued{}
	*h = old[:len(old)-1]
	return it
}
