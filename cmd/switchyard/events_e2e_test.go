package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// readEvents opens /api/events (resuming after lastID when set), calls
// opened once the stream is open, and reads events until done says stop
// (10 seconds at most).
func readEvents(t *testing.T, in *instance, lastID string, opened func(), done func([]sseEvent) bool) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", in.url("/api/events"), nil)
	req.Header.Set("Authorization", "Bearer "+in.token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/events: %d", resp.StatusCode)
	}
	if opened != nil {
		opened()
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" {
				out = append(out, cur)
				if done(out) {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data)
		}
	}
	t.Fatalf("stream ended before it had what was wanted; got %+v", out)
	return nil
}

func finished(runID string) func([]sseEvent) bool {
	return func(evs []sseEvent) bool {
		for _, e := range evs {
			if e.event == "run" && e.data["run_id"] == runID && e.data["status"] == "succeeded" {
				return true
			}
		}
		return false
	}
}

// seq is the sequence number of an event id ("epoch-seq").
func seq(t *testing.T, id string) uint64 {
	_, n, _ := strings.Cut(id, "-")
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		t.Fatalf("event id %q", id)
	}
	return v
}

// TestEventsResumeWithLastEventID: a client that reconnects with the id of
// the last event it saw gets every update it missed, in order, and none
// twice; an id the server does not know gets `event: reset` first.
func TestEventsResumeWithLastEventID(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{"id": "ev", "name": "ev", "enabled": true,
	  "trigger": {"type": "webhook", "path": "ev"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"n": "{{ trigger.body.n }}"}},
	            {"id": "b", "use": "data.set", "with": {"m": 1}}]}`)
	post := func(n int) string {
		resp, body, err := in.hook("ev", "application/json", []byte(`{"n": `+strconv.Itoa(n)+`}`))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("hook: %v %s", err, body)
		}
		return resp.Header.Get("Switchyard-Run-Id")
	}

	// The first connection sees run 1 through, then goes away.
	var r1 string
	first := readEvents(t, in, "", func() { r1 = post(1) }, finished1(&r1))
	last := first[len(first)-1]
	if last.id == "" {
		t.Fatalf("events carry no id: %+v", first)
	}

	// While no one listens, runs 2 and 3 go through.
	r2, r3 := post(2), post(3)
	waitUntil(t, 20*time.Second, "runs 2 and 3 finish", func() bool { return len(in.allRuns("&status=succeeded")) == 3 })

	// Reconnecting with Last-Event-ID replays exactly what was missed.
	missed := readEvents(t, in, last.id, nil, func(evs []sseEvent) bool { return finished(r2)(evs) && finished(r3)(evs) })
	prev := seq(t, last.id)
	steps := map[string]int{}
	for _, e := range missed {
		if e.event == "reset" {
			t.Fatalf("resume within the window got a reset: %+v", missed)
		}
		if n := seq(t, e.id); n != prev+1 {
			t.Errorf("event %s follows %d: a gap or a repeat", e.id, prev)
		}
		prev = seq(t, e.id)
		id, _ := e.data["run_id"].(string)
		if id == r1 {
			t.Errorf("run 1's update %+v sent again", e)
		}
		if e.event == "step" {
			steps[id]++
		}
	}
	if steps[r2] < 2 || steps[r3] < 2 {
		t.Errorf("step updates of runs 2 and 3 missing: %v", steps)
	}

	// An id the server never gave (or gave before a restart): reset first.
	var r4 string
	unknown := readEvents(t, in, "0-1", func() { r4 = post(4) }, finished1(&r4))
	if unknown[0].event != "reset" {
		t.Errorf("unknown id: first event %+v, want reset", unknown[0])
	}
}

// finished1 is finished for a run id known only once the stream is open.
func finished1(id *string) func([]sseEvent) bool {
	return func(evs []sseEvent) bool { return *id != "" && finished(*id)(evs) }
}
