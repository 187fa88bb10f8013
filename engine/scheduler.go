package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/switchyard/switchyard/flows"
)

// Errors of schedule and poll operations on flows of another trigger type.
var (
	ErrNotTimed = errors.New("not a schedule or poll flow")
	ErrNotPoll  = errors.New("not a poll flow")
)

// cronParser accepts five fields, an optional leading seconds field, and
// descriptors such as @hourly and @every 5m.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a trigger's cron expression in its time zone.
func ParseSchedule(t *flows.Trigger) (cron.Schedule, *time.Location, error) {
	loc := time.UTC
	if t.Timezone != "" {
		l, err := time.LoadLocation(t.Timezone)
		if err != nil {
			return nil, nil, fmt.Errorf("unknown time zone %q", t.Timezone)
		}
		loc = l
	}
	s, err := cronParser.Parse(t.Cron)
	if err != nil {
		return nil, nil, err
	}
	return s, loc, nil
}

// Clock is the scheduler's source of time; tests replace it.
type Clock interface {
	Now() time.Time
	// After returns a channel that fires after d.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// scheduler fires schedule and poll triggers. Each firing is keyed by
// (flow, tick time) and stored in the transaction that queues its run, so a
// restart, an edit or a clock step never fires a tick twice, and a tick of
// an old version never fires after an edit.
type scheduler struct {
	e     *Engine
	clock Clock
	mu    sync.Mutex
	ents  map[string]*schedEntry
	wake  chan struct{}
	// stale holds schedule ticks the store refused because the flow was
	// saved while they fired, until the new version reaches update; they
	// then fire once with the new version.
	stale map[string][]time.Time
	// pollLocks serialize the polls of one flow (scheduled, "poll now",
	// reset): each reads the poll state and writes it back whole.
	pollLocks map[string]*sync.Mutex
	// polls counts poll goroutines, so that run returns only after them.
	polls sync.WaitGroup
}

type schedEntry struct {
	flow  *ActiveFlow
	sched cron.Schedule
	loc   *time.Location
	next  time.Time
	// last is the tick before next (fired, or skipped as missed).
	last    time.Time
	pending []time.Time // missed ticks to catch up, oldest first
}

func newScheduler(e *Engine, c Clock) *scheduler {
	if c == nil {
		c = realClock{}
	}
	return &scheduler{e: e, clock: c, ents: map[string]*schedEntry{}, wake: make(chan struct{}, 1),
		stale: map[string][]time.Time{}, pollLocks: map[string]*sync.Mutex{}}
}

func isTimed(f *flows.Flow) bool {
	return f.Enabled && (f.Trigger.Type == flows.TriggerSchedule || f.Trigger.Type == flows.TriggerPoll)
}

// wallClock is t's reading on a wall clock in its location, as an instant
// in UTC, so that readings compare as numbers do.
func wallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// fixedHours reports whether a cron schedule names its hours (such as
// "30 2 * * *") rather than firing every hour. Such a schedule fires once
// per wall-clock time: robfig/cron would fire 02:30 twice on the day clocks
// fall back (02:30 summer time, then 02:30 winter time), and the second is
// skipped. Schedules that fire every hour follow elapsed time and fire in
// both passes of the repeated hour; @every follows elapsed time anyway.
func fixedHours(s cron.Schedule) bool {
	spec, ok := s.(*cron.SpecSchedule)
	return ok && spec.Hour&(1<<24-1) != 1<<24-1
}

// nextTick returns the first tick strictly after from that may follow
// prev, the tick before it (zero when unknown); zero when there is none.
func (ent *schedEntry) nextTick(from, prev time.Time) time.Time {
	if cd, ok := ent.sched.(cron.ConstantDelaySchedule); ok && !prev.IsZero() && cd.Delay > 0 {
		// @every keeps its cadence from the last tick, across restarts
		// and edits, instead of restarting it from now.
		if from.Before(prev) {
			return prev.Add(cd.Delay)
		}
		return prev.Add((from.Sub(prev)/cd.Delay + 1) * cd.Delay)
	}
	if prev.After(from) {
		from = prev
	}
	n := ent.sched.Next(from.In(ent.loc))
	if prev.IsZero() || !fixedHours(ent.sched) {
		return n
	}
	pw := wallClock(prev.In(ent.loc))
	for i := 0; i < 100 && !n.IsZero() && !wallClock(n).After(pw); i++ {
		n = ent.sched.Next(n)
	}
	return n
}

// includes reports whether tick is one of the schedule's ticks.
func (ent *schedEntry) includes(tick time.Time) bool {
	if _, ok := ent.sched.(cron.ConstantDelaySchedule); ok {
		return true // @every has no fixed ticks; any edit keeps them
	}
	return ent.sched.Next(tick.Add(-time.Nanosecond).In(ent.loc)).Equal(tick)
}

// missed lists the newest ticks, at most limit, that fell after from and
// not after now. It walks growing windows back from now, so a long
// downtime of a schedule firing every second costs a bounded walk.
func (ent *schedEntry) missed(from, prev, now time.Time, limit int) []time.Time {
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour, 31 * 24 * time.Hour, 366 * 24 * time.Hour, 0} {
		start := from
		if w > 0 && now.Add(-w).After(from) {
			start = now.Add(-w)
		}
		var ticks []time.Time
		for tk := ent.nextTick(start, prev); !tk.IsZero() && !tk.After(now); tk = ent.nextTick(tk, tk) {
			ticks = append(ticks, tk)
			if len(ticks) > limit {
				ticks = ticks[1:] // keep the newest `limit` ticks
			}
		}
		if len(ticks) >= limit || start.Equal(from) {
			return ticks
		}
	}
	return nil
}

// update (re)schedules a flow after it was loaded, saved or deleted (a nil
// a removes it).
func (s *scheduler) update(ctx context.Context, id string, a *ActiveFlow) {
	switch {
	case a == nil:
		// A deleted flow's seen set goes with it, so that a new flow
		// under the same id starts by seeding.
		if err := s.e.store.ResetPoll(ctx, id); err != nil {
			s.e.log.Error("forget poll state of deleted flow", "flow_id", id, "err", err)
		}
	case a.Flow().Trigger.Type == flows.TriggerPoll && !a.Flow().Enabled:
		// A disabled poll flow seeds again when it is enabled: what
		// appeared meanwhile is recorded, not run.
		s.unseed(ctx, id)
	}
	s.mu.Lock()
	defer s.poke()
	defer s.mu.Unlock()
	old := s.ents[id]
	if a != nil && old != nil && a.Record.Version < old.flow.Record.Version {
		return // a concurrent save of a newer version got here first
	}
	if a == nil || !isTimed(a.Flow()) {
		delete(s.ents, id)
		delete(s.stale, id)
		return
	}
	sched, loc, err := ParseSchedule(&a.Flow().Trigger)
	if err != nil {
		s.e.log.Error("flow schedule does not parse", "flow_id", id, "err", err)
		delete(s.ents, id)
		delete(s.stale, id)
		return
	}
	now := s.clock.Now()
	t := a.Flow().Trigger
	ent := &schedEntry{flow: a, sched: sched, loc: loc}
	if old != nil {
		// An edit keeps the place in the schedule: the next tick not
		// before the one the old version was waiting for (even when it
		// is already due: the edit must not swallow it), never one
		// already fired.
		ent.last = old.last
		from := old.next.Add(-time.Nanosecond)
		if old.next.IsZero() {
			from = now
		}
		ent.next = ent.nextTick(from, old.last)
		if t.Type == flows.TriggerSchedule {
			for _, tk := range append(old.pending, s.stale[id]...) {
				if ent.includes(tk) {
					ent.pending = append(ent.pending, tk)
				}
			}
			sortTimes(ent.pending)
		}
		delete(s.stale, id)
		s.ents[id] = ent
		return
	}
	delete(s.stale, id)
	// A fresh entry: the engine starts, or the flow was created or
	// enabled. Ticks already recorded never fire again.
	last, err := s.e.store.LastTick(ctx, id)
	if err != nil {
		s.e.log.Error("read last tick", "flow_id", id, "err", err)
	}
	ent.last = last
	ent.next = ent.nextTick(now, last)
	if !last.IsZero() && t.Type == flows.TriggerSchedule && t.Misfire == flows.MisfireCatchUp {
		// Catch up what was missed while Switchyard was down, but not
		// ticks from before the current version was saved: those belong
		// to an older version, or to a time the flow was disabled.
		from := last
		if a.Record.UpdatedAt.After(from) {
			from = a.Record.UpdatedAt
		}
		ent.pending = ent.missed(from, last, now, orDefault(t.CatchUpLimit, flows.DefaultCatchUpLimit))
	}
	s.ents[id] = ent
}

// unseed marks a poll flow's state so that its next poll seeds.
func (s *scheduler) unseed(ctx context.Context, id string) {
	l := s.pollLock(id)
	l.Lock()
	defer l.Unlock()
	st, err := s.e.store.PollStateOf(ctx, id)
	if err != nil || !st.Seeded {
		return
	}
	st.Seeded, st.Paused, st.PauseReason = false, false, ""
	if err := s.e.store.PutPollState(ctx, id, st); err != nil {
		s.e.log.Error("mark disabled poll flow for seeding", "flow_id", id, "err", err)
	}
}

func sortTimes(ts []time.Time) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
}

func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pollLock returns the lock that serializes one flow's polls.
func (s *scheduler) pollLock(id string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.pollLocks[id]
	if l == nil {
		l = &sync.Mutex{}
		s.pollLocks[id] = l
	}
	return l
}

// run fires due ticks until ctx ends, then waits for polls in flight.
func (s *scheduler) run(ctx context.Context) {
	defer s.polls.Wait()
	for {
		due, wait := s.collectDue()
		for _, d := range due {
			if ctx.Err() != nil {
				return
			}
			s.fireSafely(ctx, d.flow, d.tick)
		}
		if len(due) > 0 {
			continue
		}
		var timer <-chan time.Time
		if wait >= 0 {
			timer = s.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer:
		}
	}
}

type dueTick struct {
	flow *ActiveFlow
	tick time.Time
}

// collectDue takes every tick due now and says how long until the next.
func (s *scheduler) collectDue() ([]dueTick, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var due []dueTick
	wait := time.Duration(-1)
	for _, ent := range s.ents {
		for _, tk := range ent.pending {
			due = append(due, dueTick{ent.flow, tk})
		}
		ent.pending = nil
		for !ent.next.IsZero() && !ent.next.After(now) {
			tk := ent.next
			due = append(due, dueTick{ent.flow, tk})
			ent.last = tk
			next := ent.nextTick(tk, tk)
			if !next.IsZero() && next.Before(now) {
				// The clock jumped, or we were starved: ticks in between
				// are skipped, not fired in a burst.
				next = ent.nextTick(now, tk)
			}
			ent.next = next
		}
		if d := ent.next.Sub(now); !ent.next.IsZero() && (wait < 0 || d < wait) {
			wait = d
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].tick.Before(due[j].tick) })
	return due, wait
}

// fireSafely is fire for the scheduler's loop: a panic while firing a tick
// is logged and the loop goes on with the other flows.
func (s *scheduler) fireSafely(ctx context.Context, a *ActiveFlow, tick time.Time) {
	defer func() {
		if r := recover(); r != nil {
			internalError(s.e.log, r, nil, "flow_id", a.Flow().ID, "tick", tick)
		}
	}()
	s.fire(ctx, a, tick)
}

// fire handles one tick of one flow.
func (s *scheduler) fire(ctx context.Context, a *ActiveFlow, tick time.Time) {
	switch a.Flow().Trigger.Type {
	case flows.TriggerSchedule:
		_, err := s.e.FireTick(ctx, a, tick)
		switch {
		case errors.Is(err, ErrStaleVersion):
			s.refire(a, tick)
		case err != nil:
			s.e.log.Error("schedule tick", "flow_id", a.Flow().ID, "tick", tick, "err", err)
		}
	case flows.TriggerPoll:
		id := a.Flow().ID
		l := s.pollLock(id)
		if !l.TryLock() {
			return // the previous poll is still running; this tick is skipped
		}
		s.polls.Add(1)
		go func() {
			defer s.polls.Done()
			defer l.Unlock()
			if !s.e.mayPoll(ctx, id) {
				return // another node polls this flow
			}
			if _, err := s.e.poll(ctx, a, PollOptions{}); err != nil && !errors.Is(err, ErrStaleVersion) && ctx.Err() == nil {
				s.e.log.Warn("poll", "flow_id", id, "err", err)
			}
		}()
	}
}

// refire hands a tick the store refused as stale (the flow was saved while
// it fired) to the flow's new version, so the tick fires once with the old
// or the new version: never twice, never not at all.
func (s *scheduler) refire(a *ActiveFlow, tick time.Time) {
	id := a.Flow().ID
	s.mu.Lock()
	defer s.mu.Unlock()
	ent := s.ents[id]
	switch {
	case ent == nil:
		// Deleted or disabled: the tick has no version left to fire.
	case ent.flow.Record.Version > a.Record.Version:
		if ent.flow.Flow().Trigger.Type == flows.TriggerSchedule && ent.includes(tick) {
			ent.pending = append(ent.pending, tick)
			s.poke()
		}
	default:
		// The save has not reached update yet; it picks the tick up.
		s.stale[id] = append(s.stale[id], tick)
	}
}

// NextFires lists a timed flow's next n fire times: none while it is
// disabled.
func (e *Engine) NextFires(id string, n int) ([]time.Time, error) {
	a := e.flows.get(id)
	if a == nil {
		return nil, fmt.Errorf("engine: flow %q: %w", id, ErrFlowNotFound)
	}
	t := a.Flow().Trigger
	if t.Type != flows.TriggerSchedule && t.Type != flows.TriggerPoll {
		return nil, fmt.Errorf("engine: next fires of flow %q: %w", id, ErrNotTimed)
	}
	s := e.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]time.Time, 0, n)
	ent := s.ents[id]
	if ent == nil {
		return out, nil
	}
	for _, tk := range ent.pending {
		if len(out) < n {
			out = append(out, tk.In(ent.loc))
		}
	}
	for tk := ent.next; len(out) < n && !tk.IsZero(); tk = ent.nextTick(tk, tk) {
		out = append(out, tk.In(ent.loc))
	}
	return out, nil
}

// FireTick starts the run of one schedule tick unless that tick already
// fired. It returns the run id (the first one, for a duplicate).
func (e *Engine) FireTick(ctx context.Context, a *ActiveFlow, tick time.Time) (AcceptResult, error) {
	ev := &Event{FlowID: a.Flow().ID, Source: flows.TriggerSchedule, ContentType: "application/json", Body: tickBody(a, tick),
		ReceivedAt: e.sched.clock.Now().UTC(), Headers: map[string]string{}}
	run := &Run{FlowID: a.Flow().ID, FlowVersion: a.Record.Version, Status: RunQueued, CreatedAt: ev.ReceivedAt, Steps: []StepResult{}}
	if n := e.pending.Add(1); n > int64(e.cfg.QueueLimit) {
		e.pending.Add(-1)
		e.counts.saturated.Add(1)
		return AcceptResult{}, ErrSaturated
	}
	res, err := e.store.AcceptTick(ctx, ev, run, tick)
	if err != nil || res.Duplicate {
		e.pending.Add(-1)
		if res.Duplicate {
			e.counts.duplicates.Add(1)
		}
		return res, err
	}
	e.counts.accepted.Add(1)
	e.enqueue(queued{runID: run.ID, run: run, event: ev})
	e.bus.publish(Update{Type: "run", RunID: run.ID, FlowID: run.FlowID, Status: string(RunQueued)})
	return res, nil
}
