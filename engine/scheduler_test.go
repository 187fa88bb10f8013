package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock the test moves by hand. Only the scheduler calls
// After, and it always waits on the channel of its latest call, so the
// clock keeps that one waiter alone.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	w   *fakeWaiter
	// read is set when Now was called after the latest After: the
	// scheduler may be collecting or firing ticks.
	read bool
}

type fakeWaiter struct {
	deadline time.Time
	ch       chan time.Time
	fired    bool
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read = true
	return c.now
}

// peek is Now for the test itself.
func (c *fakeClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &fakeWaiter{deadline: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.w, c.read = w, false
	c.fireLocked()
	return w.ch
}

// fireLocked fires the waiter once its deadline has come.
func (c *fakeClock) fireLocked() {
	if w := c.w; w != nil && !w.fired && !w.deadline.After(c.now) {
		w.fired = true
		w.ch <- c.now
	}
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	c.fireLocked()
}

// waiter returns the latest waiter's deadline, and whether it is armed
// with no clock read since (the scheduler is idle, waiting on it).
func (c *fakeClock) waiter() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil || c.w.fired || c.read {
		return time.Time{}, false
	}
	return c.w.deadline, true
}

// schedEnv is an engine on a fake clock.
type schedEnv struct {
	*testEngine
	clk *fakeClock
}

func startSched(t *testing.T, dir string, clk *fakeClock) *schedEnv {
	t.Helper()
	se := &schedEnv{testEngine: startEngine(t, dir, Config{Clock: clk, Workers: 4}), clk: clk}
	se.settle(t)
	return se
}

// settle waits until the scheduler has fired everything due at the clock's
// time and waits for exactly its next tick. A waiter armed for a later
// time than the next tick means the scheduler read the clock just before
// the test moved it; a poke makes it look again.
func (se *schedEnv) settle(t *testing.T) {
	t.Helper()
	s := se.sched
	deadline := time.Now().Add(10 * time.Second)
	odd := 0
	for time.Now().Before(deadline) {
		s.mu.Lock()
		var next time.Time
		busy := len(s.wake) > 0
		for _, ent := range s.ents {
			busy = busy || len(ent.pending) > 0
			if !ent.next.IsZero() && (next.IsZero() || ent.next.Before(next)) {
				next = ent.next
			}
		}
		s.mu.Unlock()
		w, armed := se.clk.waiter()
		switch {
		case busy:
		case next.IsZero():
			return
		case armed && w.Equal(next) && next.After(se.clk.peek()):
			return
		default:
			if odd++; odd%5 == 0 {
				s.poke()
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("scheduler did not settle")
}

// advance moves the clock to `to` in steps of step, settling at each.
func (se *schedEnv) advance(t *testing.T, to time.Time, step time.Duration) {
	t.Helper()
	for now := se.clk.peek(); now.Before(to); {
		now = now.Add(step)
		if now.After(to) {
			now = to
		}
		se.clk.set(now)
		se.settle(t)
	}
}

// ticks lists the tick of every run of a flow, oldest first, with the
// flow version each ran under.
func (se *schedEnv) ticks(t *testing.T, flowID string) ([]time.Time, []int64) {
	t.Helper()
	ctx := context.Background()
	page, err := se.ListRuns(ctx, RunFilter{FlowID: flowID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	type tv struct {
		tick time.Time
		v    int64
	}
	var all []tv
	for _, r := range page.Runs {
		ev, err := se.Event(ctx, r.EventID)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Tick time.Time `json:"tick"`
		}
		if err := json.Unmarshal(ev.Body, &body); err != nil {
			t.Fatal(err)
		}
		all = append(all, tv{body.Tick, r.FlowVersion})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].tick.Before(all[j].tick) })
	var ticks []time.Time
	var versions []int64
	for _, x := range all {
		ticks = append(ticks, x.tick)
		versions = append(versions, x.v)
	}
	return ticks, versions
}

func scheduleFlow(id, cron, tz, extra string) string {
	if tz != "" {
		extra += fmt.Sprintf(`, "timezone": %q`, tz)
	}
	return fmt.Sprintf(`{"id": %q, "name": %q, "enabled": true, "trigger": {"type": "schedule", "cron": %q%s},
	  "steps": [{"id": "s", "use": "data.set", "with": {"tick": "{{ trigger.body.tick }}"}}]}`, id, id, cron, extra)
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func formatTicks(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339)
	}
	return out
}

func assertTicks(t *testing.T, got []time.Time, want ...string) {
	t.Helper()
	g := formatTicks(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("ticks fired:\n got %v\nwant %v", g, want)
	}
}

// TestScheduleDaylightSaving drives "02:30 every day" in Europe/Berlin
// across both changes of 2027, ten minutes at a time. Spring forward
// (28 March, 02:00 → 03:00): 02:30 does not exist that day and, as
// robfig/cron documents, does not fire; the next day it does. Fall back
// (31 October, 03:00 → 02:00): 02:30 happens twice and fires once, at the
// first (summer time). A schedule that fires every hour follows elapsed
// time instead and fires in both passes of the repeated hour.
func TestScheduleDaylightSaving(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	t.Run("spring forward", func(t *testing.T) {
		clk := newFakeClock(time.Date(2027, 3, 27, 12, 0, 0, 0, berlin))
		se := startSched(t, "", clk)
		se.saveFlow(t, scheduleFlow("daily", "0 30 2 * * *", "Europe/Berlin", ""))
		se.settle(t)
		se.advance(t, time.Date(2027, 3, 30, 6, 0, 0, 0, berlin), 10*time.Minute)
		got, _ := se.ticks(t, "daily")
		// 27 March has passed 02:30; 28 March has none; then 02:30 CEST.
		assertTicks(t, got, "2027-03-29T00:30:00Z", "2027-03-30T00:30:00Z")
	})
	t.Run("fall back", func(t *testing.T) {
		clk := newFakeClock(time.Date(2027, 10, 30, 12, 0, 0, 0, berlin))
		se := startSched(t, "", clk)
		se.saveFlow(t, scheduleFlow("daily", "0 30 2 * * *", "Europe/Berlin", ""))
		se.saveFlow(t, scheduleFlow("hourly", "0 30 * * * *", "Europe/Berlin", ""))
		se.settle(t)
		se.advance(t, time.Date(2027, 11, 1, 6, 0, 0, 0, berlin), 10*time.Minute)
		got, _ := se.ticks(t, "daily")
		// 02:30 CEST is 00:30Z; the second 02:30 (CET, 01:30Z) is skipped.
		assertTicks(t, got, "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z")
		hourly, _ := se.ticks(t, "hourly")
		var day []string
		for _, tk := range formatTicks(hourly) {
			if tk >= "2027-10-30T22:00:00Z" && tk < "2027-10-31T03:00:00Z" {
				day = append(day, tk)
			}
		}
		// 00:30, 01:30, 02:30 CEST, 02:30 CET, 03:30 CET in Berlin.
		want := []string{"2027-10-30T22:30:00Z", "2027-10-30T23:30:00Z", "2027-10-31T00:30:00Z", "2027-10-31T01:30:00Z", "2027-10-31T02:30:00Z"}
		if fmt.Sprint(day) != fmt.Sprint(want) {
			t.Fatalf("hourly ticks around the change:\n got %v\nwant %v", day, want)
		}
		assertUnique(t, hourly)
	})
	t.Run("restart inside the repeated hour", func(t *testing.T) {
		dir := t.TempDir()
		clk := newFakeClock(utc("2027-10-31T00:00:00Z")) // 02:00 CEST
		se := startSched(t, dir, clk)
		se.saveFlow(t, scheduleFlow("daily", "0 30 2 * * *", "Europe/Berlin", ""))
		se.settle(t)
		se.advance(t, utc("2027-10-31T00:40:00Z"), 10*time.Minute) // 02:40 CEST: fired
		se.close()
		clk.set(utc("2027-10-31T01:15:00Z")) // 02:15 CET, the second pass
		se = startSched(t, dir, clk)
		se.advance(t, utc("2027-10-31T02:00:00Z"), 5*time.Minute) // 03:00 CET
		got, _ := se.ticks(t, "daily")
		assertTicks(t, got, "2027-10-31T00:30:00Z")
	})
}

func assertUnique(t *testing.T, ticks []time.Time) {
	t.Helper()
	seen := map[time.Time]bool{}
	for _, tk := range ticks {
		if seen[tk] {
			t.Fatalf("tick %s fired twice", tk.Format(time.RFC3339))
		}
		seen[tk] = true
	}
}

// TestScheduleRestartMidInterval stops the engine between two ticks and
// starts a new one on the same file: the tick that fired does not fire
// again, even when the new engine's clock reads before it, and the next one
// fires on time.
func TestScheduleRestartMidInterval(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock(utc("2027-01-04T09:55:00Z"))
	se := startSched(t, dir, clk)
	se.saveFlow(t, scheduleFlow("tenmin", "0 */10 * * * *", "", ""))
	se.settle(t)
	se.advance(t, utc("2027-01-04T10:04:00Z"), time.Minute)
	got, _ := se.ticks(t, "tenmin")
	assertTicks(t, got, "2027-01-04T10:00:00Z")

	for _, restartAt := range []string{"2027-01-04T10:04:00Z", "2027-01-04T09:59:59Z"} {
		se.close()
		clk.set(utc(restartAt))
		se = startSched(t, dir, clk)
		if next, _ := se.NextFires("tenmin", 1); len(next) != 1 || !next[0].Equal(utc("2027-01-04T10:10:00Z")) {
			t.Fatalf("after a restart at %s the next fire is %v, want 10:10", restartAt, next)
		}
		se.advance(t, utc("2027-01-04T10:09:59Z"), 30*time.Second)
		got, _ = se.ticks(t, "tenmin")
		assertTicks(t, got, "2027-01-04T10:00:00Z")
	}
	se.advance(t, utc("2027-01-04T10:10:00Z"), time.Second)
	got, _ = se.ticks(t, "tenmin")
	assertTicks(t, got, "2027-01-04T10:00:00Z", "2027-01-04T10:10:00Z")
}

// TestScheduleEditDuringTick saves a flow while one of its ticks is being
// fired. The store refuses the old version (ErrStaleVersion), and the tick
// is handed to the new version: it fires once, never with both versions,
// and never with the old one after the save reached the store.
func TestScheduleEditDuringTick(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock(utc("2027-01-04T10:00:30Z"))
	se := startSched(t, "", clk)
	v1 := se.saveFlow(t, scheduleFlow("edit", "0 * * * * *", "", ""))
	se.settle(t)

	t.Run("store refuses a stale version", func(t *testing.T) {
		v2 := se.saveFlow(t, scheduleFlow("edit", "0 * * * * *", "", `, "misfire": "skip"`))
		se.settle(t)
		tick := utc("2027-01-04T09:00:00Z")
		if _, err := se.FireTick(ctx, v1, tick); !errors.Is(err, ErrStaleVersion) {
			t.Fatalf("old version fired: err %v", err)
		}
		res, err := se.FireTick(ctx, v2, tick)
		if err != nil || res.Duplicate {
			t.Fatalf("current version: %+v %v", res, err)
		}
		again, err := se.FireTick(ctx, v2, tick)
		if err != nil || !again.Duplicate || again.RunID != res.RunID {
			t.Fatalf("same tick again: %+v %v", again, err)
		}
		v1 = v2
	})

	t.Run("save lands before the scheduler hears of it", func(t *testing.T) {
		// The scheduler took tick 10:01 with the current version; the
		// new version reaches the store, then the old fire arrives.
		tick := utc("2027-01-04T10:01:00Z")
		raw := []byte(scheduleFlow("edit", "0 * * * * *", "", `, "misfire": "catch_up"`))
		rec, err := se.store.PutFlow(ctx, "edit", raw)
		if err != nil {
			t.Fatal(err)
		}
		se.sched.fire(ctx, v1, tick)
		cf, err := compileRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		v3 := &ActiveFlow{Compiled: cf, Record: rec}
		se.flows.set(v3)
		se.sched.update(ctx, "edit", v3)
		se.settle(t)
		got, versions := se.ticks(t, "edit")
		if fmt.Sprint(formatTicks(got)) != "[2027-01-04T09:00:00Z 2027-01-04T10:01:00Z]" || versions[1] != rec.Version {
			t.Fatalf("ticks %v versions %v, want 10:01 once with version %d", formatTicks(got), versions, rec.Version)
		}
		v1 = v3
	})

	t.Run("scheduler already updated", func(t *testing.T) {
		tick := utc("2027-01-04T10:02:00Z")
		v4 := se.saveFlow(t, scheduleFlow("edit", "0 * * * * *", "", ""))
		se.sched.fire(ctx, v1, tick)
		se.settle(t)
		got, versions := se.ticks(t, "edit")
		if len(got) != 3 || !got[2].Equal(tick) || versions[2] != v4.Record.Version {
			t.Fatalf("ticks %v versions %v, want 10:02 once with version %d", formatTicks(got), versions, v4.Record.Version)
		}
	})

	t.Run("saves racing ticks", func(t *testing.T) {
		// Every tick of a minute schedule while another goroutine saves
		// the flow over and over: each tick fires exactly once.
		clk.set(utc("2027-01-04T10:02:30Z"))
		se.settle(t)
		var stop atomic.Bool
		var saves atomic.Int32
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !stop.Load() {
				if _, err := se.SaveFlow(ctx, []byte(scheduleFlow("edit", "0 * * * * *", "", "")), false, ""); err != nil {
					t.Error(err)
					return
				}
				saves.Add(1)
			}
		}()
		se.advance(t, utc("2027-01-04T11:02:30Z"), 20*time.Second)
		stop.Store(true)
		<-done
		se.settle(t)
		got, _ := se.ticks(t, "edit")
		assertUnique(t, got)
		want := 3 + 60 // 09:00, 10:01, 10:02, then 10:03 … 11:02
		if len(got) != want {
			t.Fatalf("%d ticks fired across %d saves, want %d: %v", len(got), saves.Load(), want, formatTicks(got))
		}
		if saves.Load() < 10 {
			t.Logf("only %d saves raced the ticks", saves.Load())
		}
	})
}

// TestScheduleMisfire: after downtime, skip fires nothing missed and
// continues with the next tick; catch_up fires the newest missed ticks (at
// most catch_up_limit), oldest first, then continues.
func TestScheduleMisfire(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		want        []string
	}{
		{"skip", ``, []string{"10:00", "10:06"}},
		{"catch_up", `, "misfire": "catch_up", "catch_up_limit": 3`, []string{"10:00", "10:03", "10:04", "10:05", "10:06"}},
		{"catch_up default limit", `, "misfire": "catch_up"`, []string{"10:00", "10:01", "10:02", "10:03", "10:04", "10:05", "10:06"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := newFakeClock(utc("2027-01-04T09:59:30Z"))
			se := startSched(t, dir, clk)
			se.saveFlow(t, scheduleFlow("m", "0 * * * * *", "", tc.extra))
			se.settle(t)
			se.advance(t, utc("2027-01-04T10:00:10Z"), 10*time.Second)
			se.close() // down from 10:00:10 to 10:05:30
			clk.set(utc("2027-01-04T10:05:30Z"))
			se = startSched(t, dir, clk)
			se.advance(t, utc("2027-01-04T10:06:00Z"), 10*time.Second)
			got, _ := se.ticks(t, "m")
			var hm []string
			for _, tk := range got {
				hm = append(hm, tk.UTC().Format("15:04"))
			}
			if fmt.Sprint(hm) != fmt.Sprint(tc.want) {
				t.Fatalf("fired %v, want %v", hm, tc.want)
			}
		})
	}
}

// TestScheduleEveryKeepsCadence: @every counts from the last tick, also
// across a restart, and the ticks before it never fire again.
func TestScheduleEveryKeepsCadence(t *testing.T) {
	dir := t.TempDir()
	clk := newFakeClock(utc("2027-01-04T10:00:00Z"))
	se := startSched(t, dir, clk)
	se.saveFlow(t, scheduleFlow("every", "@every 1m", "", ""))
	se.settle(t)
	se.advance(t, utc("2027-01-04T10:02:30Z"), 10*time.Second)
	se.close()
	clk.set(utc("2027-01-04T10:03:40Z"))
	se = startSched(t, dir, clk)
	se.advance(t, utc("2027-01-04T10:05:00Z"), 10*time.Second)
	got, _ := se.ticks(t, "every")
	assertTicks(t, got, "2027-01-04T10:01:00Z", "2027-01-04T10:02:00Z", "2027-01-04T10:04:00Z", "2027-01-04T10:05:00Z")
}

// TestAcceptTickHorizon: a tick older than the horizon is refused rather
// than fired again (boltstore tests that its key is pruned).
func TestAcceptTickHorizon(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock(utc("2027-01-04T10:00:00Z"))
	se := startSched(t, "", clk)
	a := se.saveFlow(t, scheduleFlow("h", "0 0 0 1 1 *", "", ""))
	old := utc("2027-01-01T00:00:00Z")
	if res, err := se.FireTick(ctx, a, old); err != nil || res.Duplicate {
		t.Fatal(res, err)
	}
	if res, err := se.FireTick(ctx, a, old.Add(48*time.Hour)); err != nil || res.Duplicate {
		t.Fatal(res, err)
	}
	res, err := se.FireTick(ctx, a, old)
	if err != nil || !res.Duplicate {
		t.Fatalf("a tick beyond the horizon fired again: %+v %v", res, err)
	}
	if last, _ := se.store.LastTick(ctx, "h"); !last.Equal(old.Add(48 * time.Hour)) {
		t.Fatalf("last tick %v", last)
	}
}
