package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCrashKill9MidCall: kill -9 while callers wait for the flows they
// called (and while those run) loses nothing and starts no called flow
// twice: after the restarts every acknowledged caller succeeds, each with
// exactly one called run that names it in called_by.
func TestCrashKill9MidCall(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds take a few seconds")
	}
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		if r.URL.Path == "/leaf" {
			time.Sleep(150 * time.Millisecond) // keeps calls in flight when the kill comes
		}
		return 200, `{"ok": true}`
	})
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", json.RawMessage(fmt.Sprintf(`{"id": "leaf", "name": "Leaf", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "hit", "use": "http.request", "with": {"method": "POST", "url": "%s/leaf", "body": {"n": "{{ trigger.body.n }}"}}},
	            {"id": "answer", "use": "data.set", "with": {"n": "{{ trigger.body.n }}"}}]}`, rec.url)))
	in.mustAPI(201, "POST", "/api/flows", json.RawMessage(fmt.Sprintf(`{"id": "top", "name": "Top", "enabled": true, "trigger": {"type": "webhook", "path": "top"},
	  "steps": [{"id": "call", "use": "flow.call", "with": {"flow": "leaf", "payload": {"n": "{{ trigger.body.n }}"}}},
	            {"id": "after", "use": "http.request", "with": {"method": "POST", "url": "%s/after", "body": {"n": "{{ steps.call.output.n }}"}}}]}`, rec.url)))

	var callers []string
	for round := 0; round < 3; round++ {
		before := len(rec.all())
		for i := 0; i < 8; i++ {
			callers = append(callers, in.hookJSON("top", fmt.Sprintf(`{"n": %d}`, round*100+i)))
		}
		// Kill once called flows are in the middle of their step.
		deadline := time.Now().Add(10 * time.Second)
		for len(rec.all()) < before+2+round && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("round %d: kill at %s", round, time.Now().Format("15:04:05.000"))
		in.kill()
		in.start()
		t.Logf("round %d: started at %s", round, time.Now().Format("15:04:05.000"))
		// A step killed twice is failed on purpose (the crash-loop
		// guard): each round's runs finish before the next kill.
		in.waitIdle(60 * time.Second)
		t.Logf("round %d: idle at %s", round, time.Now().Format("15:04:05.000"))
	}
	in.waitIdle(60 * time.Second)

	seen := map[string]bool{}
	for _, id := range callers {
		rd, _ := in.run(id)
		if rd.Status != "succeeded" {
			t.Fatalf("caller %s: %s %s", id, rd.Status, rd.Error)
		}
	}
	leaves := in.allRuns("&flow=leaf")
	if len(leaves) != len(callers) {
		t.Fatalf("%d called runs for %d callers", len(leaves), len(callers))
	}
	for _, l := range leaves {
		var run struct {
			Status   string `json:"status"`
			CalledBy struct {
				RunID string `json:"run_id"`
			} `json:"called_by"`
		}
		json.Unmarshal(in.mustAPI(200, "GET", "/api/runs/"+l.ID, nil), &run)
		if run.Status != "succeeded" || run.CalledBy.RunID == "" || seen[run.CalledBy.RunID] {
			t.Fatalf("called run %s: %s, called by %q (seen before: %v)", l.ID, run.Status, run.CalledBy.RunID, seen[run.CalledBy.RunID])
		}
		seen[run.CalledBy.RunID] = true
	}
	// Each caller's last step reached the service with the called flow's
	// answer (at least once: a step in flight at a kill is sent again).
	after := map[string]bool{}
	for _, r := range rec.all() {
		if r.Path == "/after" {
			after[strings.TrimSpace(string(r.Body))] = true
		}
	}
	if len(after) != len(callers) {
		t.Fatalf("the service saw %d distinct answers after the calls, want %d", len(after), len(callers))
	}
}
