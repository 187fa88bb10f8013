package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crashFlow is the flow of the crash tests: it sends each event's id to
// the recorder at url, with retries.
func crashFlow(url string) string {
	return fmt.Sprintf(`{
	  "id": "crash", "name": "Crash", "enabled": true,
	  "trigger": {"type": "webhook", "path": "crash"},
	  "steps": [
	    {"id": "shape", "use": "data.set", "with": {"id": "{{ trigger.body.id }}"}},
	    {"id": "send", "use": "http.request", "retry": {"attempts": 5, "backoff": "100ms"},
	     "with": {"method": "POST", "url": "%s/sink", "body": {"id": "{{ steps.shape.output.id }}"}}},
	    {"id": "done", "use": "data.set", "with": {"ok": true}}
	  ]}`, url)
}

// TestCrashKill9 posts from 32 concurrent clients, kills the server with
// SIGKILL at a random point, restarts it on the same data dir and checks the
// durability promise: every acknowledged event has exactly one finished run,
// no event has two runs, and no finished run changed. Five rounds, each
// killed at a different point.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	rec := newRecorder(t, func(n int, _ *http.Request) (int, string) { return 200, `{"ok":true}` })
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", crashFlow(rec.url))

	acked := map[string]string{}    // event id → run id from the 202
	finished := map[string]string{} // run id → detail JSON once final
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	const rounds, clients = 5, 32
	var logBytes int64
	for round := 0; round < rounds; round++ {
		var mu sync.Mutex
		var stop atomic.Bool
		var wg sync.WaitGroup
		var seq atomic.Int64
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for !stop.Load() {
					id := fmt.Sprintf("r%d-c%d-%d", round, c, seq.Add(1))
					runID := in.postEvent(t, "crash", id)
					if runID == "" {
						continue
					}
					mu.Lock()
					acked[id] = runID
					mu.Unlock()
				}
			}(c)
		}
		// Kill somewhere between 150 ms and 1.5 s into the round.
		time.Sleep(time.Duration(150+rng.IntN(1350)) * time.Millisecond)
		in.kill()
		stop.Store(true)
		wg.Wait()
		// Acknowledged events are in the write-ahead log; the restart
		// must replay what bbolt did not hold yet.
		logBytes += walBytes(t, in.data)
		in.start()
		in.waitIdle(60 * time.Second)

		// Check every run the store holds.
		runs := in.allRuns("&flow=crash")
		byEvent, details := runsByEvent(t, runs, func(_ int, id string) (runDetail, []byte) { return in.run(id) })
		checkOnce(t, byEvent, acked)
		for id, before := range finished {
			if details[id] != before {
				t.Errorf("round %d: finished run %s changed:\nbefore %s\nafter  %s", round, id, before, details[id])
			}
		}
		for id, d := range details {
			finished[id] = d
		}
		t.Logf("round %d: %d acknowledged so far, %d runs stored", round, len(acked), len(runs))
		if t.Failed() {
			t.Logf("server log:\n%s", in.logs.String())
			return
		}
	}
	if logBytes == 0 {
		t.Error("the write-ahead log was empty at every kill: the test did not exercise its replay")
	}
	if len(acked) < rounds*clients {
		t.Errorf("only %d events acknowledged in %d rounds: the test did not exercise much", len(acked), rounds)
	}
	// Every acknowledged event reached the downstream at least once.
	seen := map[string]bool{}
	for _, r := range rec.all() {
		var b struct{ ID string }
		json.Unmarshal(r.Body, &b)
		seen[b.ID] = true
	}
	for ev := range acked {
		if !seen[ev] {
			t.Errorf("event %s never reached the downstream", ev)
		}
	}
}

// walBytes is the size of the write-ahead log segments in a data dir.
func walBytes(t *testing.T, data string) int64 {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(data, "wal", "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range segs {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestSyncAnswerMeansCallSavedKill9: a sync webhook whose flow calls a
// service and then answers is killed (SIGKILL) the moment its caller has
// the answer, five times over. The call's checkpoint may wait for the
// run's next one (engine deferSave), but the answer never goes out before
// the call is saved: each restart finds the run done and the service has
// heard each event exactly once. Every checkpoint is held back 300 ms
// (fault slow-run-save), so an answer sent before its save is killed with
// the save still to come.
func TestSyncAnswerMeansCallSavedKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	rec := newRecorder(t, nil)
	in := newFaultInstance(t, "slow-run-save=300ms")
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{
	  "id": "ask", "name": "Ask", "enabled": true,
	  "trigger": {"type": "webhook", "path": "ask", "respond": "sync", "timeout": "5s"},
	  "steps": [
	    {"id": "send", "use": "http.request", "with": {"method": "POST", "url": %q, "body": {"n": "{{ trigger.body.n }}"}}},
	    {"id": "answer", "use": "webhook.respond", "with": {"status": 200, "body": {"sent": "{{ steps.send.output.status }}"}}}
	  ]}`, rec.url))
	const rounds = 5
	var ids []string
	for i := range rounds {
		resp, data, err := in.hook("ask", "application/json", fmt.Appendf(nil, `{"n": %d}`, i))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("round %d: %v %v %s", i, resp, err, data)
		}
		ids = append(ids, resp.Header.Get("Switchyard-Run-Id"))
		in.kill()
		in.start()
	}
	in.waitIdle(30 * time.Second)
	for _, id := range ids {
		if rd, _ := in.run(id); rd.Status != "succeeded" {
			t.Errorf("run %s: %s %s", id, rd.Status, rd.Error)
		}
	}
	if got := len(rec.all()); got != rounds {
		t.Errorf("the service heard %d calls for %d answered events; a call was sent again after a kill", got, rounds)
	}
}
