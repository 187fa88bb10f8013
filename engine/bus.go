package engine

import (
	"strconv"
	"strings"
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
	// ID names the update in the event stream (`id:` of Server-Sent
	// Events): the process's epoch and a sequence number. A client that
	// reconnects names the last one it saw (EventsAfter).
	ID string `json:"-"`
}

// EventWindow is how many updates the engine keeps for streams that
// reconnect (EventsAfter) or fall behind: at a thousand step updates a
// second, about four seconds' worth.
const EventWindow = 4096

// bus keeps the newest EventWindow updates in a ring and wakes the
// streams reading it. Publishing never waits for a reader: a stream that
// falls more than the window behind learns that it lost updates.
type bus struct {
	mu sync.Mutex
	// epoch distinguishes this process's ids from an earlier one's.
	epoch string
	// seq is the sequence number of the newest update (0: none yet).
	seq  uint64
	ring [EventWindow]Update
	subs map[*EventStream]struct{}
}

func newBus() *bus {
	return &bus{subs: map[*EventStream]struct{}{}, epoch: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

func (b *bus) publish(u Update) {
	u.At = time.Now().UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	// The ID is written by Read: most updates are never read.
	b.ring[b.seq%EventWindow] = u
	for s := range b.subs {
		select {
		case s.ready <- struct{}{}:
		default: // already signalled
		}
	}
}

// EventStream is one reader of the engine's updates (EventsAfter). It
// misses none of them unless it falls more than EventWindow behind.
type EventStream struct {
	b     *bus
	ready chan struct{}
	// next is the sequence number of the next update to read.
	next uint64
	// lost is set when updates were lost before the first Read.
	lost bool
	once sync.Once
}

// EventsAfter opens a stream of updates. With lastID "" it starts with the
// next update; with the ID of an update it resumes right after that one.
// When lastID names an update the engine no longer keeps (older than the
// window, or from before a restart), the stream starts with the next
// update and its first Read reports lost.
func (e *Engine) EventsAfter(lastID string) *EventStream {
	b := e.bus
	s := &EventStream{b: b, ready: make(chan struct{}, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.next = b.seq + 1
	if lastID != "" {
		epoch, n, ok := strings.Cut(lastID, "-")
		seq, err := strconv.ParseUint(n, 10, 64)
		switch {
		case !ok || err != nil || epoch != b.epoch || seq > b.seq:
			s.lost = true
		case b.seq-seq >= EventWindow:
			s.lost = true
		default:
			s.next = seq + 1
			if s.next <= b.seq {
				s.ready <- struct{}{}
			}
		}
	}
	if s.lost {
		s.ready <- struct{}{} // the reader is told at once
	}
	b.subs[s] = struct{}{}
	return s
}

// Ready receives when updates may be waiting to be read.
func (s *EventStream) Ready() <-chan struct{} { return s.ready }

// Read appends the updates not read yet to buf and returns it; lost
// reports that some were dropped from the window before they were read
// (or, on the first Read, that the resumed id was not known).
func (s *EventStream) Read(buf []Update) (updates []Update, lost bool) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	lost, s.lost = s.lost, false
	if b.seq >= EventWindow && s.next <= b.seq-EventWindow {
		s.next = b.seq - EventWindow + 1
		lost = true
	}
	for ; s.next <= b.seq; s.next++ {
		u := b.ring[s.next%EventWindow]
		u.ID = b.epoch + "-" + strconv.FormatUint(s.next, 10)
		buf = append(buf, u)
	}
	return buf, lost
}

// Close ends the stream.
func (s *EventStream) Close() {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
	})
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

// has reports whether someone waits for the run.
func (w *waiters) has(runID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.m[runID]
	return ok
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
