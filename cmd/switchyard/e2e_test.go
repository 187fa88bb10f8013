package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func ordersFlow(downstream string) string {
	return fmt.Sprintf(`{
  "id": "orders", "name": "Orders router", "enabled": true,
  "trigger": {"type": "webhook", "path": "orders"},
  "steps": [
    {"id": "only_paid", "if": "trigger.body.type == 'paid'", "use": "data.set",
     "with": {"email": "{{ trigger.body.email }}", "amount": "{{ trigger.body.amount / 100 }}", "n": "{{ trigger.body.n }}"}},
    {"id": "route", "switch": [
      {"when": "steps.only_paid.status == 'succeeded' && steps.only_paid.output.amount >= 1000", "steps": [
        {"id": "vip", "use": "http.request",
         "with": {"method": "POST", "url": "%[1]s/vip",
                  "body": {"email": "{{ steps.only_paid.output.email }}", "amount": "{{ steps.only_paid.output.amount }}", "n": "{{ steps.only_paid.output.n }}", "note": "VIP order {{ trigger.body.n }}"}}}]},
      {"when": "steps.only_paid.status == 'succeeded'", "steps": [
        {"id": "std", "use": "http.request",
         "with": {"method": "POST", "url": "%[1]s/std",
                  "body": {"email": "{{ steps.only_paid.output.email }}", "amount": "{{ steps.only_paid.output.amount }}", "n": "{{ steps.only_paid.output.n }}", "note": "order {{ trigger.body.n }}"}}}]},
      {"default": true, "steps": [
        {"id": "ignored", "use": "data.set", "with": {"reason": "not paid"}}]}
    ]}
  ]
}`, downstream)
}

// TestEndToEndRouting creates a flow through the API, posts 200 webhooks
// from 20 concurrent clients and checks that the downstream server got
// exactly the routed requests and that the history has every run.
func TestEndToEndRouting(t *testing.T) {
	rec := newRecorder(t, nil)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", ordersFlow(rec.url))

	const total, clients = 200, 20
	runIDs := make([]string, total)
	var wg sync.WaitGroup
	jobs := make(chan int)
	errs := make(chan error, total)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				typ := "paid"
				if n%4 == 3 {
					typ = "refund"
				}
				body := fmt.Sprintf(`{"n": %d, "type": %q, "email": "c%d@example.com", "amount": %d}`, n, typ, n, n*1000)
				resp, data, err := in.hook("orders", "application/json", []byte(body))
				if err != nil {
					errs <- err
					continue
				}
				if resp.StatusCode != 202 {
					errs <- fmt.Errorf("webhook %d: status %d: %s", n, resp.StatusCode, data)
					continue
				}
				var out struct {
					RunID string `json:"run_id"`
				}
				json.Unmarshal(data, &out)
				if out.RunID == "" || resp.Header.Get("Switchyard-Run-Id") != out.RunID {
					errs <- fmt.Errorf("webhook %d: no run id: %s", n, data)
				}
				runIDs[n] = out.RunID
			}
		}()
	}
	for n := 0; n < total; n++ {
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	in.waitIdle(30 * time.Second)

	// The downstream got exactly one request per paid order, on the right
	// route, with the templated body typed as numbers.
	got := map[int]recorded{}
	keys := map[string]bool{}
	for _, r := range rec.all() {
		var b struct {
			Email  string  `json:"email"`
			Amount float64 `json:"amount"`
			N      float64 `json:"n"`
			Note   string  `json:"note"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("downstream body %q: %v", r.Body, err)
		}
		n := int(b.N)
		if _, dup := got[n]; dup {
			t.Errorf("order %d delivered twice", n)
		}
		got[n] = r
		if keys[r.IdemKey] {
			t.Errorf("idempotency key %q reused", r.IdemKey)
		}
		keys[r.IdemKey] = true
		wantPath, wantNote := "/std", fmt.Sprintf("order %d", n)
		if n >= 100 {
			wantPath, wantNote = "/vip", fmt.Sprintf("VIP order %d", n)
		}
		if r.Path != wantPath || b.Email != fmt.Sprintf("c%d@example.com", n) || b.Amount != float64(n*10) || b.Note != wantNote {
			t.Errorf("order %d: got %s %+v, want %s amount %d", n, r.Path, b, wantPath, n*10)
		}
		if r.Method != "POST" || !strings.HasPrefix(r.ContentType, "application/json") {
			t.Errorf("order %d: %s with content type %q", n, r.Method, r.ContentType)
		}
		wantKey := runIDs[n] + ":" + strings.TrimPrefix(wantPath, "/")
		if r.IdemKey != wantKey {
			t.Errorf("order %d: idempotency key %q, want %q", n, r.IdemKey, wantKey)
		}
	}
	for n := 0; n < total; n++ {
		_, ok := got[n]
		if paid := n%4 != 3; paid != ok {
			t.Errorf("order %d: delivered=%v, paid=%v", n, ok, paid)
		}
	}

	// The history lists all 200 runs, each with per-step detail.
	runs := in.allRuns("&flow=orders")
	if len(runs) != total {
		t.Fatalf("GET /api/runs lists %d runs, want %d", len(runs), total)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i-1].ID <= runs[i].ID {
			t.Fatalf("runs not newest first: %s before %s", runs[i-1].ID, runs[i].ID)
		}
	}
	for n, id := range runIDs {
		rd, _ := in.run(id)
		if rd.Status != "succeeded" {
			t.Fatalf("run %s: %s (%s)", id, rd.Status, rd.Error)
		}
		if int(rd.Trigger.Body["n"].(float64)) != n {
			t.Fatalf("run %s has the trigger of order %v, want %d", id, rd.Trigger.Body["n"], n)
		}
		if len(rd.Steps) != 3 {
			t.Fatalf("run %s: %d steps recorded, want 3: %+v", id, len(rd.Steps), rd.Steps)
		}
		first := rd.Steps[0]
		if len(first.Conditions) != 1 || first.Conditions[0].Field != "steps[0].if" {
			t.Errorf("run %s: condition of only_paid not recorded: %+v", id, first.Conditions)
		}
		if n%4 == 3 {
			if first.Status != "skipped" || rd.Steps[2].ID != "ignored" {
				t.Errorf("run %s (refund): steps %+v", id, rd.Steps)
			}
			continue
		}
		last := rd.Steps[2]
		if last.Status != "succeeded" || last.Attempts != 1 || last.Input["url"] == nil {
			t.Errorf("run %s: http step %+v", id, last)
		}
		out, _ := last.Output.(map[string]any)
		if out["status"] != float64(200) {
			t.Errorf("run %s: http step output %v", id, last.Output)
		}
	}
}

// TestSyncWebhook answers a chatbot in the same request with the body its
// webhook.respond step built.
func TestSyncWebhook(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{
	  "id": "bot", "name": "Chatbot", "enabled": true,
	  "trigger": {"type": "webhook", "path": "bot", "respond": "sync", "timeout": "5s"},
	  "steps": [
	    {"id": "intent", "use": "data.set", "with": {"greeting": "{{ lower(trigger.body.text) contains 'hello' }}"}},
	    {"id": "answer", "use": "webhook.respond", "with": {
	      "status": 201, "headers": {"X-Bot": "switchyard"},
	      "body": {"reply": "Hi {{ trigger.body.user }}!", "greeting": "{{ steps.intent.output.greeting }}", "session": "{{ trigger.body.session }}"}}},
	    {"id": "after", "use": "data.set", "with": {"done": true}}
	  ]}`)
	resp, data, err := in.hook("bot", "application/json", []byte(`{"text": "Hello there", "user": "Ada", "session": 7}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || resp.Header.Get("X-Bot") != "switchyard" {
		t.Fatalf("status %d, headers %v: %s", resp.StatusCode, resp.Header, data)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("body %s: %v", data, err)
	}
	want := map[string]any{"reply": "Hi Ada!", "greeting": true, "session": float64(7)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("reply %s = %v, want %v (body %s)", k, got[k], v, data)
		}
	}
	runID := resp.Header.Get("Switchyard-Run-Id")
	in.waitIdle(10 * time.Second)
	rd, _ := in.run(runID)
	if rd.Status != "succeeded" || len(rd.Steps) != 3 {
		t.Fatalf("run %+v", rd)
	}
}

// TestSyncWebhookLastOutput answers with the last step's output when no
// webhook.respond step ran.
func TestSyncWebhookLastOutput(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{
	  "id": "echo", "name": "Echo", "enabled": true,
	  "trigger": {"type": "webhook", "path": "echo", "respond": "sync"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"echo": "{{ trigger.body.msg }}", "len": "{{ len(trigger.body.msg) }}"}}]}`)
	resp, data, err := in.hook("echo", "application/json", []byte(`{"msg": "abc"}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || strings.TrimSpace(string(data)) != `{"echo":"abc","len":3}` {
		t.Fatalf("status %d body %s", resp.StatusCode, data)
	}
}

// TestSecondProcessExits: a second server on the same data dir gives up
// with a message naming the lock instead of waiting for it. The lock wait is
// about a second; the bound is loose because a loaded CI machine can take
// seconds just to start a process, and a hang is what this test is about.
func TestSecondProcessExits(t *testing.T) {
	const giveUpBound = 15 * time.Second
	in := newInstance(t)
	in.start()
	start := time.Now()
	out, err := exec.Command(in.bin, "serve", "--addr", freeAddr(t), "--data", in.data).CombinedOutput()
	took := time.Since(start)
	if err == nil {
		t.Fatalf("second process exited 0: %s", out)
	}
	if took > giveUpBound {
		t.Errorf("second process took %s to give up", took)
	}
	if !strings.Contains(string(out), "lock") || !strings.Contains(string(out), "switchyard.db") {
		t.Errorf("message does not name the lock: %s", out)
	}
	// token create fails fast in the same way.
	start = time.Now()
	out, err = exec.Command(in.bin, "token", "create", "--name", "x", "--data", in.data).CombinedOutput()
	if err == nil || time.Since(start) > giveUpBound || !strings.Contains(string(out), "lock") {
		t.Errorf("token create with a server running: err=%v after %s: %s", err, time.Since(start), out)
	}
}

// TestAPIAuth: the API refuses calls without a valid token, with JSON.
func TestAPIAuth(t *testing.T) {
	in := newInstance(t)
	in.start()
	for _, auth := range []string{"", "Bearer nope", "Basic abc"} {
		req, _ := http.NewRequest("GET", in.url("/api/flows"), nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 401 || body["error"] == nil {
			t.Errorf("auth %q: status %d body %v", auth, resp.StatusCode, body)
		}
	}
	in.mustAPI(200, "GET", "/api/flows", nil)
	in.mustAPI(404, "GET", "/api/nothing-here", nil)
}

// TestShutdownWithOpenEventStream: SIGTERM ends promptly even while a
// client holds /api/events open, and the stream delivers run updates
// until then.
func TestShutdownWithOpenEventStream(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{"id": "ev", "name": "ev", "enabled": true,
	  "trigger": {"type": "webhook", "path": "ev"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`)
	req, _ := http.NewRequest("GET", in.url("/api/events?flow=ev"), nil)
	req.Header.Set("Authorization", "Bearer "+in.token)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				lines <- string(buf[:n])
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	if r, _, err := in.hook("ev", "application/json", []byte(`{}`)); err != nil || r.StatusCode != 202 {
		t.Fatalf("webhook: %v", err)
	}
	deadline := time.After(5 * time.Second)
	var seen strings.Builder
	for !strings.Contains(seen.String(), `"status":"succeeded"`) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended early: %s", seen.String())
			}
			seen.WriteString(l)
		case <-deadline:
			t.Fatalf("no run update on the stream: %s", seen.String())
		}
	}
	start := time.Now()
	in.stop()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s with an open event stream", took)
	}
}
