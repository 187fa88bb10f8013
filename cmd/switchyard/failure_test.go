package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetries: a downstream failing three times then succeeding gets four
// attempts with growing delays and one idempotency key; a 400 is not retried
// and fails the run with the status and the body excerpt.
func TestRetries(t *testing.T) {
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		if strings.HasSuffix(r.URL.Path, "/bad") {
			return 400, `{"error":"email is not valid"}`
		}
		if n <= 3 {
			return 503, `{"error":"busy"}`
		}
		return 200, `{"id": 42}`
	})
	in := newInstance(t)
	in.start()
	flow := func(id, path string) string {
		return fmt.Sprintf(`{"id": %q, "name": "retry", "enabled": true,
		  "trigger": {"type": "webhook", "path": %q},
		  "steps": [{"id": "call", "use": "http.request", "retry": {"attempts": 6, "backoff": "150ms"},
		             "with": {"method": "POST", "url": "%s/%s", "body": {"x": 1}}}]}`, id, id, rec.url, path)
	}
	in.mustAPI(201, "POST", "/api/flows", flow("flaky", "ok"))
	in.mustAPI(201, "POST", "/api/flows", flow("broken", "bad"))

	resp, _, err := in.hook("flaky", "application/json", []byte(`{}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	runID := resp.Header.Get("Switchyard-Run-Id")
	in.waitIdle(20 * time.Second)
	reqs := rec.all()
	if len(reqs) != 4 {
		t.Fatalf("downstream saw %d requests, want 4", len(reqs))
	}
	for i, r := range reqs {
		if r.IdemKey != runID+":call" {
			t.Errorf("attempt %d: idempotency key %q, want %q", i+1, r.IdemKey, runID+":call")
		}
	}
	var prev time.Duration
	for i := 1; i < len(reqs); i++ {
		gap := reqs[i].At.Sub(reqs[i-1].At)
		if gap <= prev {
			t.Errorf("delay before attempt %d is %s, not longer than the previous %s", i+1, gap, prev)
		}
		if gap < 100*time.Millisecond {
			t.Errorf("delay before attempt %d is only %s", i+1, gap)
		}
		prev = gap
	}
	rd, _ := in.run(runID)
	if rd.Status != "succeeded" || rd.Steps[0].Attempts != 4 {
		t.Fatalf("run: %s, attempts %d", rd.Status, rd.Steps[0].Attempts)
	}

	resp, _, err = in.hook("broken", "application/json", []byte(`{}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	in.waitIdle(10 * time.Second)
	if n := len(rec.all()); n != 5 {
		t.Fatalf("the 400 was retried: downstream saw %d requests in all, want 5", n)
	}
	rd, _ = in.run(resp.Header.Get("Switchyard-Run-Id"))
	if rd.Status != "failed" || rd.Steps[0].Attempts != 1 {
		t.Fatalf("run: %s, attempts %d", rd.Status, rd.Steps[0].Attempts)
	}
	for _, want := range []string{"400", "email is not valid", "call"} {
		if !strings.Contains(rd.Error, want) {
			t.Errorf("run error %q does not mention %q", rd.Error, want)
		}
	}
}

// TestRetryAcrossRestart: a retry that is due after a restart fires exactly
// once.
func TestRetryAcrossRestart(t *testing.T) {
	var calls atomic.Int32
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		calls.Add(1)
		if n == 1 {
			return 500, `{"error":"down"}`
		}
		return 200, `{}`
	})
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "later", "name": "later", "enabled": true,
	  "trigger": {"type": "webhook", "path": "later"},
	  "steps": [{"id": "call", "use": "http.request", "retry": {"attempts": 3, "backoff": "1500ms"},
	             "with": {"method": "POST", "url": "%s/x"}}]}`, rec.url))
	resp, _, err := in.hook("later", "application/json", []byte(`{}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	runID := resp.Header.Get("Switchyard-Run-Id")
	deadline := time.Now().Add(5 * time.Second)
	for {
		rd, _ := in.run(runID)
		if rd.Status == "waiting" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run never parked for its retry: %+v", rd)
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.kill()
	if calls.Load() != 1 {
		t.Fatalf("%d calls before the restart, want 1", calls.Load())
	}
	in.start()
	in.waitIdle(10 * time.Second)
	time.Sleep(2 * time.Second) // a second firing would land by now
	if calls.Load() != 2 {
		t.Fatalf("downstream called %d times, want 2 (one failure, one retry)", calls.Load())
	}
	rd, _ := in.run(runID)
	if rd.Status != "succeeded" || rd.Steps[0].Attempts != 2 {
		t.Fatalf("run %s: %s with %d attempts", runID, rd.Status, rd.Steps[0].Attempts)
	}
}

// TestBadInput: each kind of bad input gets a precise status and message,
// and nothing is stored for refused webhooks.
func TestBadInput(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{"id": "small", "name": "small", "enabled": true,
	  "trigger": {"type": "webhook", "path": "small", "max_body": 1024},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": "{{ trigger.body }}"}}]}`)
	in.mustAPI(201, "POST", "/api/flows", `{"id": "big", "name": "big", "enabled": true,
	  "trigger": {"type": "webhook", "path": "big"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`)
	in.mustAPI(201, "POST", "/api/flows", `{"id": "off", "name": "off", "enabled": false,
	  "trigger": {"type": "webhook", "path": "off"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`)

	cases := []struct {
		name, path, ctype string
		body              []byte
		status            int
		msg               string
	}{
		{"malformed JSON", "small", "application/json", []byte(`{"a": [1, 2}`), 400, "malformed JSON"},
		{"trailing garbage", "small", "application/json", []byte(`{"a": 1} x`), 400, "malformed JSON"},
		{"over the flow's limit", "small", "application/json", []byte(`{"a": "` + strings.Repeat("x", 2000) + `"}`), 413, "limit of 1024"},
		{"over the default 1 MiB", "big", "application/json", []byte(`"` + strings.Repeat("x", 1<<20+10) + `"`), 413, "limit of 1048576"},
		{"unsupported media type", "small", "application/octet-stream", []byte{1, 2, 3}, 415, "unsupported Content-Type"},
		{"unknown path", "nope", "application/json", []byte(`{}`), 404, "no enabled flow"},
		{"disabled flow", "off", "application/json", []byte(`{}`), 404, "no enabled flow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, data, err := in.hook(tc.path, tc.ctype, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(string(data), tc.msg) || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("status %d, body %s; want %d mentioning %q", resp.StatusCode, data, tc.status, tc.msg)
			}
		})
	}
	if runs := in.allRuns(""); len(runs) != 0 {
		t.Errorf("%d runs stored for refused webhooks", len(runs))
	}

	t.Run("invalid flow", func(t *testing.T) {
		code, data := in.api("POST", "/api/flows", `{"id": "bad", "name": "bad", "enabled": true,
		  "trigger": {"type": "webhook", "path": "bad"},
		  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}},
		            {"id": "b", "if": "trigger.body.x >", "use": "data.set", "with": {"y": 1}}]}`)
		if code != 400 || !strings.Contains(string(data), `"field":"steps[1].if"`) {
			t.Errorf("status %d: %s", code, data)
		}
	})

	t.Run("expression failing at run time", func(t *testing.T) {
		in.mustAPI(201, "POST", "/api/flows", `{"id": "boom", "name": "boom", "enabled": true,
		  "trigger": {"type": "webhook", "path": "boom"},
		  "steps": [{"id": "calc", "use": "data.set", "with": {"ratio": "{{ trigger.body.customer.name.first + 1 }}"}}]}`)
		resp, _, err := in.hook("boom", "application/json", []byte(`{"customer": null}`))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("%v %v", resp, err)
		}
		in.waitIdle(5 * time.Second)
		rd, _ := in.run(resp.Header.Get("Switchyard-Run-Id"))
		if rd.Status != "failed" {
			t.Fatalf("run %s", rd.Status)
		}
		for _, want := range []string{`"calc"`, "trigger.body.customer.name.first + 1"} {
			if !strings.Contains(rd.Error, want) {
				t.Errorf("run error %q does not name %s", rd.Error, want)
			}
		}
	})
}

// TestEgressRefused: steps cannot reach loopback, private or link-local
// addresses in any spelling; the refusal happens before any connection.
func TestEgressRefused(t *testing.T) {
	// 127.0.0.2 is loopback but not in the instance's allow list.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	in := newInstance(t)
	in.start()
	targets := []string{
		fmt.Sprintf("http://127.0.0.2:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.2]:%d/", port),
		fmt.Sprintf("http://2130706434:%d/", port),
		fmt.Sprintf("http://127.0.2:%d/", port),
		fmt.Sprintf("http://0x7f.0.0.2:%d/", port),
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://[::]:80/",
	}
	for i, target := range targets {
		id := fmt.Sprintf("ssrf%d", i)
		in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": %q, "name": "ssrf", "enabled": true,
		  "trigger": {"type": "webhook", "path": %q},
		  "steps": [{"id": "call", "use": "http.request", "retry": {"attempts": 3, "backoff": "50ms"}, "with": {"url": %q}}]}`, id, id, target))
		resp, _, err := in.hook(id, "application/json", []byte(`{}`))
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("%v %v", resp, err)
		}
		in.waitIdle(10 * time.Second)
		rd, _ := in.run(resp.Header.Get("Switchyard-Run-Id"))
		if rd.Status != "failed" || !strings.Contains(strings.ToLower(rd.Error), "refus") {
			t.Errorf("%s: run %s: %s", target, rd.Status, rd.Error)
		}
		if rd.Steps[0].Attempts != 1 {
			t.Errorf("%s: a refused destination was retried (%d attempts)", target, rd.Steps[0].Attempts)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections reached the refused listener", n)
	}
}
