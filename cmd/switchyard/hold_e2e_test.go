package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testwait"
)

// flowHold is what GET /api/flows/{id} says of a flow's pause.
type flowHold struct {
	Paused bool `json:"paused"`
	Held   int  `json:"held"`
}

func (in *instance) flowHold(id string) flowHold {
	in.t.Helper()
	var h flowHold
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/"+id, nil), &h)
	return h
}

// waitingRun is GET /api/runs/{id} with what holds the run back.
type waitingRun struct {
	Status     string `json:"status"`
	WaitingFor string `json:"waiting_for"`
}

func (in *instance) waitingRun(path string) (waitingRun, time.Duration) {
	in.t.Helper()
	start := time.Now()
	var r waitingRun
	json.Unmarshal(in.mustAPI(200, "GET", path, nil), &r)
	return r, time.Since(start)
}

// ns lists the "n" of each JSON body received, in order.
func (r *recorder) ns() []int {
	var ns []int
	for _, q := range r.all() {
		var b struct {
			N int `json:"n"`
		}
		json.Unmarshal(q.Body, &b)
		ns = append(ns, b.N)
	}
	return ns
}

// TestPauseResumeE2E plays pause and resume against the real binary:
// webhooks to a paused flow are acknowledged and held, a kill -9 while
// paused loses none of them and runs none, resume runs them once each in
// order of arrival; GET /api/runs/{id}?wait= and POST /hooks/…?wait= wait
// for the result.
func TestPauseResumeE2E(t *testing.T) {
	rec := newRecorder(t, nil)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "held", "name": "Held", "enabled": true, "concurrency": 1,
	  "trigger": {"type": "webhook", "path": "held"},
	  "steps": [{"id": "post", "use": "http.request", "with": {"url": "%s/lead", "method": "POST", "body": {"n": "{{ trigger.body.n }}"}}}]}`, rec.url))

	var hold flowHold
	json.Unmarshal(in.mustAPI(200, "POST", "/api/flows/held/pause", nil), &hold)
	if !hold.Paused {
		t.Fatalf("pause answered %+v", hold)
	}
	in.mustAPI(404, "POST", "/api/flows/nope/pause", nil)

	var ids []string
	for i := range 5 {
		resp, body, err := in.hook("held", "application/json", fmt.Appendf(nil, `{"n": %d}`, i))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("webhook %d to a paused flow: %v %v %s", i, err, resp, body)
		}
		var acc struct {
			RunID string `json:"run_id"`
		}
		json.Unmarshal(body, &acc)
		ids = append(ids, acc.RunID)
	}
	testwait.For(t, "5 runs held", func() bool { return in.flowHold("held").Held == 5 })
	if r, _ := in.waitingRun("/api/runs/" + ids[0]); r.Status != "queued" || r.WaitingFor != "paused" {
		t.Fatalf("held run: %+v", r)
	}
	// A wait on a held run ends with the run as it stands.
	if r, took := in.waitingRun("/api/runs/" + ids[0] + "?wait=300ms"); r.Status != "queued" || took < 250*time.Millisecond {
		t.Fatalf("?wait=300ms on a held run: %+v after %v", r, took)
	}
	// So does a webhook that asks to wait.
	start := time.Now()
	resp, body, err := in.hook("held?wait=300ms", "application/json", []byte(`{"n": 5}`))
	if err != nil || resp.StatusCode != 202 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("?wait= webhook to a paused flow: %v %v %s after %v", err, resp, body, time.Since(start))
	}
	ids = append(ids, resp.Header.Get("Switchyard-Run-Id"))

	// kill -9 while paused: nothing acknowledged is lost, nothing runs.
	in.kill()
	in.start()
	testwait.For(t, "6 runs held after the restart", func() bool { return in.flowHold("held").Held == 6 })
	if h := in.flowHold("held"); !h.Paused {
		t.Fatalf("after kill -9: %+v", h)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(rec.all()); n != 0 {
		t.Fatalf("a paused flow sent %d requests", n)
	}

	in.mustAPI(200, "POST", "/api/flows/held/resume", nil)
	r, took := in.waitingRun("/api/runs/" + ids[5] + "?wait=30s")
	if r.Status != "succeeded" || took > 20*time.Second {
		t.Fatalf("?wait=30s after resume: %+v after %v", r, took)
	}
	in.waitIdle(10 * time.Second)
	ns := rec.ns()
	if !slices.Equal(ns, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("requests after resume %v, want each event once in arrival order", ns)
	}
	if runs := in.allRuns("&flow=held"); len(runs) != 6 {
		t.Fatalf("%d runs, want 6", len(runs))
	}

	// Resumed, an async flow asked to wait answers like a sync one.
	resp, body, err = in.hook("held?wait=10s", "application/json", []byte(`{"n": 6}`))
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"status":200`) {
		t.Fatalf("?wait=10s webhook: %v %v %s", err, resp, body)
	}
	// A connection's rate limit is checked with field paths.
	code, body := in.api("POST", "/api/connections", `{"name": "crm", "type": "http_bearer", "values": {"token": "t"}, "rate": {"requests": 0, "per": "1s"}}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"field":"rate.requests"`) {
		t.Errorf("bad rate: %d %s", code, body)
	}
	in.mustAPI(201, "POST", "/api/connections", `{"name": "crm", "type": "http_bearer", "values": {"token": "t"}, "rate": {"requests": 10, "per": "1s"}}`)
	if body := in.mustAPI(200, "GET", "/api/connections", nil); !strings.Contains(string(body), `"rate":{"requests":10,"per":"1s"}`) {
		t.Errorf("the connection's rate is not listed: %s", body)
	}

	// Who paused and resumed, in the audit trail.
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
			Target string `json:"target"`
			Actor  struct {
				Name string `json:"name"`
			} `json:"actor"`
		} `json:"entries"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/audit?target=held", nil), &audit)
	var actions []string
	for _, a := range audit.Entries {
		if a.Actor.Name == "e2e" {
			actions = append(actions, a.Action)
		}
	}
	if !slices.Contains(actions, "flow.pause") || !slices.Contains(actions, "flow.resume") {
		t.Errorf("audit trail of the flow: %v, want flow.pause and flow.resume by e2e", actions)
	}
	if code, body := in.api("GET", "/api/runs/"+ids[0]+"?wait=soon", nil); code != http.StatusBadRequest || !strings.Contains(string(body), "wait: must be a duration") {
		t.Fatalf("bad wait: %d %s", code, body)
	}
}

// TestClusterPauseE2E: on two nodes sharing PostgreSQL, a flow paused on
// one node holds its runs on the other too, and resuming it on the other
// runs each event once.
func TestClusterPauseE2E(t *testing.T) {
	rec := newRecorder(t, nil)
	c := newCluster(t, 2)
	c.start()
	a, b := c.nodes[0], c.nodes[1]
	a.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "held", "name": "Held", "enabled": true,
	  "trigger": {"type": "webhook", "path": "held"},
	  "steps": [{"id": "post", "use": "http.request", "with": {"url": "%s/lead", "method": "POST", "body": {"n": "{{ trigger.body.n }}"}}}]}`, rec.url))
	testwait.For(t, "the second node to take the flow", func() bool {
		code, _ := b.api("GET", "/api/flows/held", nil)
		return code == 200
	})
	a.mustAPI(200, "POST", "/api/flows/held/pause", nil)
	time.Sleep(1500 * time.Millisecond) // the other node reloads pause states every second
	for i := range 4 {
		b.hookJSON("held", fmt.Sprintf(`{"n": %d}`, i))
	}
	time.Sleep(2 * time.Second)
	if n := len(rec.all()); n != 0 {
		t.Fatalf("a flow paused on the other node sent %d requests", n)
	}
	b.mustAPI(200, "POST", "/api/flows/held/resume", nil)
	c.waitIdle(1, 20*time.Second)
	ns := rec.ns()
	slices.Sort(ns)
	if !slices.Equal(ns, []int{0, 1, 2, 3}) {
		t.Fatalf("after resume the service got %v, want each event once", ns)
	}
}
