package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/switchyard/switchyard/flows"
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
	// polling marks flows whose poll is in flight: one at a time.
	polling map[string]bool
}

type schedEntry struct {
	flow    *ActiveFlow
	sched   cron.Schedule
	loc     *time.Location
	next    time.Time
	pending []time.Time // missed ticks to catch up, oldest first
}

func newScheduler(e *Engine, c Clock) *scheduler {
	if c == nil {
		c = realClock{}
	}
	return &scheduler{e: e, clock: c, ents: map[string]*schedEntry{}, wake: make(chan struct{}, 1), polling: map[string]bool{}}
}

func isTimed(f *flows.Flow) bool {
	return f.Enabled && (f.Trigger.Type == flows.TriggerSchedule || f.Trigger.Type == flows.TriggerPoll)
}

// update (re)schedules a flow after it was loaded, saved or deleted (a nil
// a removes it).
func (s *scheduler) update(ctx context.Context, id string, a *ActiveFlow) {
	s.mu.Lock()
	defer s.poke()
	defer s.mu.Unlock()
	if a == nil || !isTimed(a.Flow()) {
		delete(s.ents, id)
		return
	}
	sched, loc, err := ParseSchedule(&a.Flow().Trigger)
	if err != nil {
		s.e.log.Error("flow schedule does not parse", "flow_id", id, "err", err)
		delete(s.ents, id)
		return
	}
	now := s.clock.Now()
	ent := &schedEntry{flow: a, sched: sched, loc: loc}
	if old := s.ents[id]; old != nil {
		// An edit keeps the place in the schedule: the next tick after the
		// last one considered, never one already fired.
		ent.next = sched.Next(old.next.Add(-time.Nanosecond).In(loc))
		if ent.next.Before(now) {
			ent.next = sched.Next(now.In(loc))
		}
		s.ents[id] = ent
		return
	}
	last, err := s.e.store.LastTick(ctx, id)
	if err != nil {
		s.e.log.Error("read last tick", "flow_id", id, "err", err)
	}
	ent.next = sched.Next(now.In(loc))
	t := a.Flow().Trigger
	if !last.IsZero() && t.Type == flows.TriggerSchedule && t.Misfire == flows.MisfireCatchUp {
		limit := t.CatchUpLimit
		if limit <= 0 {
			limit = flows.DefaultCatchUpLimit
		}
		var missed []time.Time
		for tk := sched.Next(last.In(loc)); !tk.After(now); tk = sched.Next(tk) {
			missed = append(missed, tk)
			if len(missed) > limit {
				missed = missed[1:] // keep the newest `limit` ticks
			}
		}
		ent.pending = missed
	}
	s.ents[id] = ent
}

func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run fires due ticks until ctx ends.
func (s *scheduler) run(ctx context.Context) {
	for {
		due, wait := s.collectDue()
		for _, d := range due {
			s.fire(ctx, d.flow, d.tick)
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
			due = append(due, dueTick{ent.flow, ent.next})
			next := ent.sched.Next(ent.next)
			if next.Before(now) {
				// The clock jumped, or we were starved: ticks in between
				// are skipped, not fired in a burst.
				next = ent.sched.Next(now.In(ent.loc))
			}
			ent.next = next
		}
		if d := ent.next.Sub(now); !ent.next.IsZero() && (wait < 0 || d < wait) {
			wait = d
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].tick.Before(due[j].tick) })
	return due, wait
}

// fire handles one tick of one flow.
func (s *scheduler) fire(ctx context.Context, a *ActiveFlow, tick time.Time) {
	switch a.Flow().Trigger.Type {
	case flows.TriggerSchedule:
		if _, err := s.e.FireTick(ctx, a, tick); err != nil && !errors.Is(err, ErrStaleVersion) {
			s.e.log.Error("schedule tick", "flow_id", a.Flow().ID, "tick", tick, "err", err)
		}
	case flows.TriggerPoll:
		id := a.Flow().ID
		s.mu.Lock()
		busy := s.polling[id]
		s.polling[id] = true
		s.mu.Unlock()
		if busy {
			return // the previous poll is still running; this tick is skipped
		}
		go func() {
			defer func() {
				s.mu.Lock()
				delete(s.polling, id)
				s.mu.Unlock()
			}()
			if _, err := s.e.Poll(ctx, a, PollOptions{}); err != nil && !errors.Is(err, ErrStaleVersion) {
				s.e.log.Warn("poll", "flow_id", id, "err", err)
			}
		}()
	}
}

// NextFires lists a timed flow's next n fire times.
func (e *Engine) NextFires(id string, n int) ([]time.Time, error) {
	a := e.flows.get(id)
	if a == nil {
		return nil, fmt.Errorf("engine: flow %q: %w", id, ErrFlowNotFound)
	}
	t := a.Flow().Trigger
	if t.Type != flows.TriggerSchedule && t.Type != flows.TriggerPoll {
		return nil, nil
	}
	sched, loc, err := ParseSchedule(&t)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	for tk := e.sched.clock.Now().In(loc); len(out) < n; {
		tk = sched.Next(tk)
		if tk.IsZero() {
			break
		}
		out = append(out, tk)
	}
	return out, nil
}

// FireTick starts the run of one schedule tick unless that tick already
// fired. It returns the run id (the first one, for a duplicate).
func (e *Engine) FireTick(ctx context.Context, a *ActiveFlow, tick time.Time) (AcceptResult, error) {
	body, _ := json.Marshal(map[string]any{"tick": tick.UTC().Format(time.RFC3339Nano), "timezone": a.Flow().Trigger.Timezone})
	ev := &Event{FlowID: a.Flow().ID, Source: flows.TriggerSchedule, ContentType: "application/json", Body: body,
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
		return res, err
	}
	e.counts.accepted.Add(1)
	e.queue.push(queued{runID: run.ID, run: run, event: ev})
	e.bus.publish(Update{Type: "run", RunID: run.ID, FlowID: run.FlowID, Status: string(RunQueued)})
	return res, nil
}
