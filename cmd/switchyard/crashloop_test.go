package main

import (
	"fmt"
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
	hook := func(body string) string { return in.hookJSON("crashy", body) }
	waitRun := in.waitRun
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

// TestExpensiveConditionIsCut: a plausible condition over a large payload
// (20 000 items each looked up in a list of 20 000, 39 s of CPU before the
// limits) fails its step with the time limit within a second or two, a
// cheap flow's webhooks are served meanwhile, and SIGTERM stops the server
// without waiting on it.
func TestExpensiveConditionIsCut(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{"id": "big", "name": "Big", "enabled": true,
	  "trigger": {"type": "webhook", "path": "big"},
	  "steps": [{"id": "check", "use": "data.set", "if": "all(trigger.body.items, {.sku in trigger.body.allowed})", "with": {"ok": true}}]}`)
	in.mustAPI(201, "POST", "/api/flows", `{"id": "small", "name": "Small", "enabled": true,
	  "trigger": {"type": "webhook", "path": "small"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"ok": true}}]}`)
	var b strings.Builder
	b.WriteString(`{"items": [`)
	const n = 20000
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"s%05d"}`, i)
	}
	b.WriteString(`], "allowed": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"s%05d"`, n-1-i)
	}
	b.WriteString(`]}`)
	resp, data, err := in.hook("big", "application/json", []byte(b.String()))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v %s", resp, err, data)
	}
	bigRun := resp.Header.Get("Switchyard-Run-Id")
	resp, _, err = in.hook("small", "application/json", []byte(`{}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("small webhook: %v %v", resp, err)
	}
	in.waitIdle(30 * time.Second)
	rd, _ := in.run(bigRun)
	if rd.Status != "failed" || !strings.Contains(rd.Error, "expression exceeded its time limit") {
		t.Fatalf("big run: %s %q", rd.Status, rd.Error)
	}
	// Again, and stop while it is being evaluated.
	if resp, _, err = in.hook("big", "application/json", []byte(b.String())); err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	in.stop() // fails the test if SIGTERM is not obeyed within 20 s
}
