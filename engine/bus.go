package engine

import (
	"sync"
	"time"
)

// Update tells subscribers that a run or one of its steps changed.
type Update struct {
	Type   string    `json:"type"` // "run" or "step"
	RunID  string    `json:"run_id"`
	FlowID string    `json:"flow_id"`
	StepID string    `json:"step_id,omitempty"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// bus fans updates out to subscribers. A subscriber that falls behind loses
// updates rather than slowing runs down.
type bus struct {
	mu   sync.RWMutex
	subs map[chan Update]struct{}
}

func newBus() *bus { return &bus{subs: map[chan Update]struct{}{}} }

func (b *bus) publish(u Update) {
	u.At = time.Now().UTC()
	b.mu.RLock()
	defer b.mu.RUnlock()
	for c := range b.subs {
		select {
		case c <- u:
		default:
		}
	}
}

// Subscribe returns a channel of updates and a function that ends the
// subscription.
func (e *Engine) Subscribe() (<-chan Update, func()) {
	c := make(chan Update, 256)
	e.bus.mu.Lock()
	e.bus.subs[c] = struct{}{}
	e.bus.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			e.bus.mu.Lock()
			delete(e.bus.subs, c)
			e.bus.mu.Unlock()
		})
	}
}

// waiters lets a sync webhook wait for its run's response or end.
type waiters struct {
	mu sync.Mutex
	m  map[string]chan *Run
}

func newWaiters() *waiters { return &waiters{m: map[string]chan *Run{}} }

func (w *waiters) add(runID string) chan *Run {
	c := make(chan *Run, 1)
	w.mu.Lock()
	w.m[runID] = c
	w.mu.Unlock()
	return c
}

func (w *waiters) remove(runID string) {
	w.mu.Lock()
	delete(w.m, runID)
	w.mu.Unlock()
}

// deliver hands a snapshot of the run to its waiter, once.
func (w *waiters) deliver(r *Run) {
	w.mu.Lock()
	c, ok := w.m[r.ID]
	delete(w.m, r.ID)
	w.mu.Unlock()
	if ok {
		snap := *r
		snap.Steps = append([]StepResult(nil), r.Steps...)
		c <- &snap
	}
}
