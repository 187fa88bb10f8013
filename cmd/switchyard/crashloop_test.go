package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// waitExit waits for the process to end by itself.
func (in *instance) waitExit(timeout time.Duration) {
	in.t.Helper()
	select {
	case <-in.done:
		in.cmd = nil
	case <-time.After(timeout):
		in.t.Fatalf("switchyard did not go down:\n%s", in.logs.String())
	}
}

// TestCrashLoopStops: a webhook whose run takes the process down inside a
// step (the test.crash connector, built into this test's binary only)
// crashes the server once, and once more when the restarted server resumes
// the run; the start after that fails the run with "stopped: this step
// crashed the engine twice" and the server runs on. It comes up on every
// start, the third restart included.
func TestCrashLoopStops(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	in := newInstance(t)
	in.bin = binaryWithTags(t, "switchyard_crashtest")
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{
	  "id": "crashy", "name": "Crashy", "enabled": true,
	  "trigger": {"type": "webhook", "path": "crashy"},
	  "steps": [
	    {"id": "shape", "use": "data.set", "with": {"crash": "{{ trigger.body.crash }}"}},
	    {"id": "boom", "use": "test.crash", "if": "steps.shape.output.crash == true", "with": {"after": "1s"}},
	    {"id": "done", "use": "data.set", "with": {"ok": true}}
	  ]}`)
	hook := func(body string) string {
		t.Helper()
		resp, data, err := in.hook("crashy", "application/json", []byte(body))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("webhook: %v %v %s", resp, err, data)
		}
		var out struct {
			RunID string `json:"run_id"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return out.RunID
	}
	waitRun := func(id string) runDetail {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			rd, _ := in.run(id)
			if rd.Status == "succeeded" || rd.Status == "failed" {
				return rd
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("run %s did not finish:\n%s", id, in.logs.String())
		return runDetail{}
	}
	if rd := waitRun(hook(`{"crash": false}`)); rd.Status != "succeeded" {
		t.Fatalf("harmless run: %s %s", rd.Status, rd.Error)
	}

	id := hook(`{"crash": true}`)
	in.waitExit(30 * time.Second) // the first crash
	in.start()                    // restart 1: up, resumes the run...
	in.waitExit(30 * time.Second) // ...which crashes it again
	in.start()                    // restart 2: the run is failed, the server stays up
	rd := waitRun(id)
	const msg = "stopped: this step crashed the engine twice"
	if rd.Status != "failed" || !strings.Contains(rd.Error, msg) {
		t.Fatalf("run: %s %q", rd.Status, rd.Error)
	}
	var boom string
	for _, s := range rd.Steps {
		if s.ID == "boom" {
			boom = s.Status + ": " + s.Error
		}
	}
	if boom != "failed: "+msg {
		t.Fatalf("step boom: %q", boom)
	}
	if rd := waitRun(hook(`{"crash": false}`)); rd.Status != "succeeded" {
		t.Fatalf("a run after the crash loop: %s %s", rd.Status, rd.Error)
	}
	in.stop()
	in.start() // restart 3: a normal start
	if rd, _ := in.run(id); rd.Status != "failed" {
		t.Fatalf("run after restart 3: %s", rd.Status)
	}
	if n := len(in.allRuns("&status=running")) + len(in.allRuns("&status=queued")); n != 0 {
		t.Fatalf("%d runs still unfinished", n)
	}
}
