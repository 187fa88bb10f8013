package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestScheduleKill9ExactlyOnce runs a schedule firing every second, kills
// the server with SIGKILL, restarts it on the same data dir and checks that
// every tick time appears in at most one run, and that no gap between ticks
// is longer than the downtime.
func TestScheduleKill9ExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{
	  "id": "tick", "name": "Every second", "enabled": true,
	  "trigger": {"type": "schedule", "cron": "*/1 * * * * *"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"tick": "{{ trigger.body.tick }}"}}]}`)
	time.Sleep(3500 * time.Millisecond)
	in.kill()
	down := time.Now()
	time.Sleep(1500 * time.Millisecond)
	in.start()
	downtime := time.Since(down)
	time.Sleep(3500 * time.Millisecond)
	in.waitIdle(30 * time.Second)

	runs := in.allRuns("&flow=tick")
	seen := map[string]string{}
	var ticks []time.Time
	for _, r := range runs {
		rd, raw := in.run(r.ID)
		tick, _ := rd.Trigger.Body["tick"].(string)
		if tick == "" || rd.Status != "succeeded" {
			t.Fatalf("run %s: %s", r.ID, raw)
		}
		if first, dup := seen[tick]; dup {
			t.Fatalf("tick %s fired twice: runs %s and %s", tick, first, r.ID)
		}
		seen[tick] = r.ID
		tm, err := time.Parse(time.RFC3339Nano, tick)
		if err != nil {
			t.Fatal(err)
		}
		ticks = append(ticks, tm)
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Before(ticks[j]) })
	if len(ticks) < 5 {
		t.Fatalf("only %d ticks fired", len(ticks))
	}
	// A tick due while the server was down is skipped (misfire skip); a
	// gap is at most the downtime plus the one-second period, plus slack for
	// a loaded machine, where a starved scheduler may wake a tick late and
	// the restarted server may need a moment before its first tick.
	const slack = 4 * time.Second
	for i := 1; i < len(ticks); i++ {
		if gap := ticks[i].Sub(ticks[i-1]); gap > downtime+time.Second+slack {
			t.Fatalf("gap of %s between %s and %s (downtime %s)", gap, ticks[i-1].Format(time.RFC3339), ticks[i].Format(time.RFC3339), downtime)
		}
	}
	// The schedule fires again after the restart.
	if last := ticks[len(ticks)-1]; !last.After(down) {
		t.Fatalf("no tick after the restart: last tick %s, killed at %s", last.Format(time.RFC3339Nano), down.Format(time.RFC3339Nano))
	}
	t.Logf("%d ticks, exactly once each, across a kill -9 with %s downtime", len(ticks), downtime.Round(time.Millisecond))
}

// TestPollE2E polls a local API through the real binary: the first poll
// seeds, new items run once, a flood waits for POST /poll {"force": true},
// and after a kill -9 the seen set is intact (bounded by seen_limit).
func TestPollE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test skipped in -short mode")
	}
	var total atomic.Int32
	src := newRecorder(t, func(n int, r *http.Request) (int, string) {
		items := []string{}
		// The source lists its newest four items, oldest first.
		for i := max(1, int(total.Load())-3); i <= int(total.Load()); i++ {
			items = append(items, fmt.Sprintf(`{"id": "i%d"}`, i))
		}
		return 200, `{"items": [` + strings.Join(items, ",") + `]}`
	})
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{
	  "id": "poll", "name": "Poll", "enabled": true,
	  "trigger": {"type": "poll", "cron": "@every 1h", "request": {"url": "`+src.url+`/items"},
	    "items": "response.body.items", "key": "item.id", "flood_limit": 2, "seen_limit": 5},
	  "steps": [{"id": "s", "use": "data.set", "with": {"id": "{{ trigger.body.id }}"}}]}`)
	type pollAnswer struct {
		Flooded bool     `json:"flooded"`
		RunIDs  []string `json:"run_ids"`
	}
	poll := func(body string) pollAnswer {
		var out pollAnswer
		if err := json.Unmarshal(in.mustAPI(200, "POST", "/api/flows/poll/poll", body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	total.Store(3)
	if out := poll(`{}`); len(out.RunIDs) != 0 {
		t.Fatalf("the first poll ran %d items", len(out.RunIDs))
	}
	total.Store(4)
	if out := poll(`{}`); len(out.RunIDs) != 1 {
		t.Fatalf("one new item ran %d times", len(out.RunIDs))
	}
	total.Store(7)
	if out := poll(`{}`); !out.Flooded || len(out.RunIDs) != 0 {
		t.Fatalf("three new items with flood_limit 2: %+v", out)
	}
	if out := poll(`{"force": true}`); len(out.RunIDs) != 3 {
		t.Fatalf("confirmed flood ran %d items", len(out.RunIDs))
	}
	in.kill()
	in.start()
	if out := poll(`{"force": true}`); len(out.RunIDs) != 0 {
		t.Fatalf("after kill -9 old items ran again: %+v", out)
	}
	total.Store(8)
	if out := poll(`{}`); len(out.RunIDs) != 1 {
		t.Fatalf("after restart a new item ran %d times", len(out.RunIDs))
	}
	in.waitIdle(30 * time.Second)
	var info struct {
		SeenCount int      `json:"seen_count"`
		SeenNew   []string `json:"seen_newest"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/poll/schedule", nil), &info)
	if info.SeenCount != 5 || info.SeenNew[0] != "i8" {
		t.Fatalf("seen set: %+v", info)
	}
	var ids []string
	for _, r := range in.allRuns("&flow=poll") {
		rd, _ := in.run(r.ID)
		ids = append(ids, fmt.Sprint(rd.Trigger.Body["id"]))
	}
	sort.Strings(ids)
	if strings.Join(ids, " ") != "i4 i5 i6 i7 i8" {
		t.Fatalf("items run: %v", ids)
	}
}
