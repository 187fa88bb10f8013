package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Holding runs back: a flow can be paused (its webhooks are still
// acknowledged and stored, its runs wait until it is resumed) and can cap
// how many of its runs are in progress (flow `concurrency`). Both are the
// gate's: the dispatcher and the workers ask it before a run starts or
// goes on, and it keeps the runs it holds back in memory, in order of
// arrival. The durable copy of every held run is its queue entry in the
// store, as for any unfinished run: after a restart the runs come back
// through the gate, which holds them again.

// Why a run waits, as GET /api/runs/{id} and the run page show it.
const (
	WaitingPaused      = "paused"
	WaitingConcurrency = "flow concurrency limit"
)

// pauseMetaPrefix begins the meta key of a flow's pause state.
const pauseMetaPrefix = "flow_pause/"

// PauseState is whether a flow is paused, since when and by whom; it is
// kept in the store's meta records, apart from the flow's content, so
// pausing makes no flow version.
type PauseState struct {
	Paused bool      `json:"paused"`
	At     time.Time `json:"at"`
	By     Actor     `json:"by"`
}

// FlowHold is what holds a flow's runs back now.
type FlowHold struct {
	Paused   bool       `json:"paused"`
	PausedAt *time.Time `json:"paused_at,omitempty"`
	PausedBy string     `json:"paused_by,omitempty"`
	// Held counts the runs the gate holds back (paused, or over the
	// concurrency limit): the queue depth of a paused flow.
	Held int `json:"held"`
	// InProgress counts the runs holding one of the flow's concurrency
	// slots (tracked only while the flow has a limit).
	InProgress int `json:"in_progress"`
	// Concurrency is the flow's limit (0: none).
	Concurrency int `json:"concurrency,omitempty"`
}

// heldRun is a run the gate holds back.
type heldRun struct {
	runID   string
	created time.Time
}

func (h heldRun) before(o heldRun) bool {
	if !h.created.Equal(o.created) {
		return h.created.Before(o.created)
	}
	return h.runID < o.runID
}

// flowGate is one flow's part of the gate.
type flowGate struct {
	pause *PauseState // nil: not paused
	// active holds the runs in progress that hold a concurrency slot.
	active map[string]struct{}
	// held is sorted by arrival; heldIDs is its set.
	held    []heldRun
	heldIDs map[string]struct{}
}

func (fg *flowGate) hold(h heldRun) {
	if _, ok := fg.heldIDs[h.runID]; ok {
		return
	}
	fg.heldIDs[h.runID] = struct{}{}
	i := sort.Search(len(fg.held), func(i int) bool { return h.before(fg.held[i]) })
	fg.held = append(fg.held, heldRun{})
	copy(fg.held[i+1:], fg.held[i:])
	fg.held[i] = h
}

// fill releases held runs and returns them (the caller queues them):
// those that hold a slot already (runs paused half done), then the oldest
// others while slots are free (all of them when limit is 0).
func (fg *flowGate) fill(limit int) []heldRun {
	if fg.pause != nil || len(fg.held) == 0 {
		return nil
	}
	var out []heldRun
	kept := fg.held[:0]
	free := limit - len(fg.active)
	for _, h := range fg.held {
		_, slot := fg.active[h.runID]
		switch {
		case slot || limit <= 0:
		case free > 0:
			free--
			fg.active[h.runID] = struct{}{}
		default:
			kept = append(kept, h)
			continue
		}
		delete(fg.heldIDs, h.runID)
		out = append(out, h)
	}
	clear(fg.held[len(kept):])
	fg.held = kept
	return out
}

// gate decides whether a run may start or go on now.
type gate struct {
	mu    sync.Mutex
	flows map[string]*flowGate
	// paused counts paused flows, so that the common case (none, and no
	// limit) is decided without the lock.
	paused atomic.Int32
}

func (g *gate) flow(id string) *flowGate {
	if g.flows == nil {
		g.flows = map[string]*flowGate{}
	}
	fg := g.flows[id]
	if fg == nil {
		fg = &flowGate{active: map[string]struct{}{}, heldIDs: map[string]struct{}{}}
		g.flows[id] = fg
	}
	return fg
}

// admit says whether run r of flow flowID (limit: its concurrency) may go
// on now; if not, the gate holds it. started is set for a run that began
// before (it keeps or takes its slot even over the limit: a restart or a
// lowered limit never strands a run half done). release lists held runs
// that got a slot meanwhile: the caller queues them.
func (g *gate) admit(flowID string, h heldRun, started bool, limit int) (ok bool, release []heldRun) {
	if limit <= 0 && g.paused.Load() == 0 {
		return true, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	fg := g.flows[flowID]
	if fg == nil && limit <= 0 {
		return true, nil
	}
	fg = g.flow(flowID)
	if fg.pause != nil {
		fg.hold(h)
		return false, nil
	}
	if limit <= 0 {
		return true, nil
	}
	if _, ok := fg.active[h.runID]; ok || started {
		fg.active[h.runID] = struct{}{}
		return true, nil
	}
	if len(fg.held) == 0 && len(fg.active) < limit {
		fg.active[h.runID] = struct{}{}
		return true, nil
	}
	// Behind others: in line by arrival, and the oldest take free slots.
	fg.hold(h)
	release = fg.fill(limit)
	for i, r := range release {
		if r.runID == h.runID {
			return true, append(release[:i], release[i+1:]...)
		}
	}
	return false, release
}

// claim gives a run that started before a restart its slot back.
func (g *gate) claim(flowID, runID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.flow(flowID).active[runID] = struct{}{}
}

// release frees whatever slot run runID holds, in whichever flow: a store
// that queues runs itself may offer the run's next turn to another node,
// so this node counts only the runs it is executing.
func (g *gate) release(runID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, fg := range g.flows {
		delete(fg.active, runID)
	}
}

// forget drops a run from the held list (the store's queue keeps it).
func (g *gate) forget(flowID, runID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fg := g.flows[flowID]
	if fg == nil {
		return
	}
	if _, ok := fg.heldIDs[runID]; !ok {
		return
	}
	delete(fg.heldIDs, runID)
	fg.held = slices.DeleteFunc(fg.held, func(h heldRun) bool { return h.runID == runID })
}

// leave frees the slot of a run that ended (or was found final).
func (g *gate) leave(flowID, runID string, limit int) []heldRun {
	g.mu.Lock()
	defer g.mu.Unlock()
	fg := g.flows[flowID]
	if fg == nil {
		return nil
	}
	delete(fg.active, runID)
	return fg.fill(limit)
}

// setPause pauses or resumes a flow; resuming releases its held runs.
func (g *gate) setPause(flowID string, st *PauseState, limit int) []heldRun {
	g.mu.Lock()
	defer g.mu.Unlock()
	fg := g.flow(flowID)
	switch {
	case st != nil && fg.pause == nil:
		g.paused.Add(1)
	case st == nil && fg.pause != nil:
		g.paused.Add(-1)
	}
	fg.pause = st
	return fg.fill(limit)
}

// changed is told that a flow's limit changed (limit -1: the flow is
// gone): held runs that now fit are released.
func (g *gate) changed(flowID string, limit int) []heldRun {
	g.mu.Lock()
	defer g.mu.Unlock()
	fg := g.flows[flowID]
	if fg == nil {
		return nil
	}
	if limit < 0 {
		if fg.pause != nil {
			g.paused.Add(-1)
		}
		delete(g.flows, flowID)
		return fg.held
	}
	if limit == 0 {
		clear(fg.active)
	}
	return fg.fill(limit)
}

func (g *gate) isPaused(flowID string) bool {
	if g.paused.Load() == 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	fg := g.flows[flowID]
	return fg != nil && fg.pause != nil
}

// state reports a flow's hold and whether run runID is held.
func (g *gate) state(flowID, runID string) (FlowHold, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fg := g.flows[flowID]
	if fg == nil {
		return FlowHold{}, false
	}
	h := FlowHold{Held: len(fg.held), InProgress: len(fg.active)}
	if p := fg.pause; p != nil {
		at := p.At
		h.Paused, h.PausedAt, h.PausedBy = true, &at, p.By.Name
	}
	_, held := fg.heldIDs[runID]
	return h, held
}

// concurrency is a flow's current limit (0: none or no such flow).
func (e *Engine) concurrency(flowID string) int {
	if a := e.flows.get(flowID); a != nil {
		return a.Flow().Concurrency
	}
	return 0
}

// admitRun asks the gate whether a run may go on now, and queues the runs
// it released. A run held back stays queued in the store: only its
// in-memory turn waits.
func (e *Engine) admitRun(flowID, runID string, created time.Time, started bool) bool {
	ok, release := e.gate.admit(flowID, heldRun{runID: runID, created: created}, started, e.concurrency(flowID))
	e.releaseHeld(flowID, release)
	return ok
}

// admitQueued is the dispatcher's check, for runs whose flow it knows
// (the others are checked by the worker once it loaded them).
func (e *Engine) admitQueued(q queued) bool {
	if q.flowID == "" {
		return true
	}
	return e.admitRun(q.flowID, q.runID, q.created, false)
}

// leaveRun frees the concurrency slot of a run that is final.
func (e *Engine) leaveRun(flowID, runID string) {
	e.releaseHeld(flowID, e.gate.leave(flowID, runID, e.concurrency(flowID)))
}

func (e *Engine) releaseHeld(flowID string, rs []heldRun) {
	for _, h := range rs {
		e.enqueue(queued{runID: h.runID, flowID: flowID, created: h.created})
	}
}

// heldRecheck is how soon a store that queues runs itself (RunQueue)
// offers a held run again: its queue, not the gate, keeps the run.
const heldRecheck = time.Second

// heldBack is what a worker answers for a run the gate held back. With
// the engine's own queue the gate keeps it and releases it in order; with
// a store's queue (PostgreSQL), which would drop a run its worker
// returned, the run is handed back to be offered again shortly (the gate
// forgets it, so its order is the queue's).
func (e *Engine) heldBack(r *Run) (again time.Time, ok bool) {
	if e.runQueue == nil {
		return time.Time{}, false
	}
	e.gate.forget(r.FlowID, r.ID)
	return time.Now().Add(heldRecheck), true
}

// pauseLoop keeps the pause states in step with the store when other
// nodes share it: a flow paused on one node holds on all within a second.
func (e *Engine) pauseLoop(ctx context.Context) {
	t := time.NewTicker(heldRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, a := range e.flows.all() {
			if err := e.loadPause(ctx, a.Record.ID); err != nil {
				e.log.Warn("reload pause state", "flow_id", a.Record.ID, "err", err)
			}
		}
	}
}

// pausedReason is the executor's check before each step of a run: a
// flow paused meanwhile stops its runs before their next step.
func (e *Engine) pausedReason(flowID string) string {
	if e.gate.isPaused(flowID) {
		return WaitingPaused
	}
	return ""
}

// flowChanged tells the gate that a flow was saved (limit may have
// changed) or deleted.
func (e *Engine) flowChanged(flowID string, deleted bool) {
	limit := e.concurrency(flowID)
	if deleted {
		limit = -1
	}
	e.releaseHeld(flowID, e.gate.changed(flowID, limit))
}

// PauseFlow pauses flow id: its webhooks are still acknowledged and its
// runs stored, but none starts (and runs in progress stop before their
// next step) until ResumeFlow. The state outlives restarts.
func (e *Engine) PauseFlow(ctx context.Context, id string) (FlowHold, error) {
	return e.setPause(ctx, id, true)
}

// ResumeFlow resumes a paused flow: the runs it held start in order of
// arrival (within the flow's concurrency limit).
func (e *Engine) ResumeFlow(ctx context.Context, id string) (FlowHold, error) {
	return e.setPause(ctx, id, false)
}

func (e *Engine) setPause(ctx context.Context, id string, paused bool) (FlowHold, error) {
	if e.flows.get(id) == nil {
		return FlowHold{}, fmt.Errorf("engine: pause flow %q: %w", id, ErrFlowNotFound)
	}
	st := PauseState{Paused: paused, At: time.Now().UTC(), By: ActorOf(ctx)}
	raw, err := json.Marshal(st)
	if err != nil {
		return FlowHold{}, err
	}
	// Durable before it takes effect: a pause the caller was told about
	// holds after a crash too.
	if err := e.store.PutMeta(ctx, pauseMetaPrefix+id, raw); err != nil {
		return FlowHold{}, fmt.Errorf("engine: pause flow %q: %w", id, err)
	}
	var ps *PauseState
	if paused {
		ps = &st
	}
	e.releaseHeld(id, e.gate.setPause(id, ps, e.concurrency(id)))
	verb, action := "flow resumed", AuditFlowResume
	if paused {
		verb, action = "flow paused", AuditFlowPause
	}
	e.log.InfoContext(ctx, verb, "flow_id", id, "by", st.By.Name)
	h := e.FlowHold(id)
	e.Audit(ctx, AuditEntry{Action: action, Target: id, Detail: fmt.Sprintf("%d runs held", h.Held)})
	e.bus.publish(Update{Type: "flow", FlowID: id, Status: map[bool]string{true: "paused", false: "resumed"}[paused]})
	return h, nil
}

// forgetPause clears a deleted flow's pause state, so that a flow made
// later under the same id does not start paused.
func (e *Engine) forgetPause(ctx context.Context, id string) {
	if !e.gate.isPaused(id) {
		return
	}
	raw, _ := json.Marshal(PauseState{At: time.Now().UTC(), By: ActorOf(ctx)})
	if err := e.store.PutMeta(ctx, pauseMetaPrefix+id, raw); err != nil {
		e.log.ErrorContext(ctx, "clear pause state of deleted flow", "flow_id", id, "err", err)
	}
}

// loadPause takes a flow's pause state from the store: at start-up, and
// (pauseLoop) as other nodes change it.
func (e *Engine) loadPause(ctx context.Context, id string) error {
	raw, err := e.store.Meta(ctx, pauseMetaPrefix+id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var st PauseState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("decode pause state of flow %q: %w", id, err)
	}
	if st.Paused == e.gate.isPaused(id) {
		return nil
	}
	var ps *PauseState
	if st.Paused {
		ps = &st
	}
	e.releaseHeld(id, e.gate.setPause(id, ps, e.concurrency(id)))
	return nil
}

// FlowHold reports what holds flow id's runs back now.
func (e *Engine) FlowHold(id string) FlowHold {
	h, _ := e.gate.state(id, "")
	h.Concurrency = e.concurrency(id)
	return h
}

// WaitingFor says what an unfinished run waits for: its flow paused, its
// flow's concurrency limit, or what the run recorded (a connection's rate
// limit); "" when nothing holds it.
func (e *Engine) WaitingFor(r *Run) string {
	if r.Status.Final() {
		return ""
	}
	h, held := e.gate.state(r.FlowID, r.ID)
	switch {
	case h.Paused && r.Status != RunRunning:
		return WaitingPaused
	case held:
		return WaitingConcurrency
	case r.Status == RunWaiting:
		return r.WaitingFor
	}
	return ""
}

// primeSlots gives back their concurrency slots, at start-up, to runs that
// had started (running at the crash, or waiting for a retry, a delay or a
// rate limit): otherwise a run queued after them could take the slot
// first. It reads every unfinished run, but only when some flow has a
// limit.
func (e *Engine) primeSlots(ctx context.Context, items []QueueItem) {
	limited := false
	for _, a := range e.flows.all() {
		if a.Flow().Concurrency > 0 {
			limited = true
			break
		}
	}
	if !limited {
		return
	}
	for _, it := range items {
		r, err := e.store.Run(ctx, it.RunID)
		if err != nil || r.StartedAt == nil || r.Status.Final() || e.concurrency(r.FlowID) == 0 {
			continue
		}
		e.gate.claim(r.FlowID, r.ID)
	}
}
