package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoopCrashResume kills the real binary with SIGKILL while a loop's
// fifth item is being sent, restarts it, and checks what the fake ERP
// received: every item whose request was answered before the kill exactly
// once, the item in flight again with the same idempotency key
// (at-least-once), and the rest once each; the run finishes with every
// item's output.
func TestLoopCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const items, inFlight = 10, 4
	hold := make(chan struct{})
	arrived := make(chan struct{}, 1)
	erp := newRecorder(t, func(n int, r *http.Request) (int, string) {
		if n == inFlight+1 {
			arrived <- struct{}{}
			<-hold
		}
		return 200, fmt.Sprintf(`{"id": "erp-%d"}`, n)
	})
	defer close(hold)

	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "order-lines", "name": "Order lines", "enabled": true,
	  "trigger": {"type": "webhook", "path": "order-lines"},
	  "steps": [{"id": "lines", "for_each": "trigger.body.line_items", "steps": [
	    {"id": "book", "use": "http.request", "with": {"method": "POST", "url": "%s/lines", "idempotency_key": true,
	      "body": {"order": "{{ trigger.body.id }}", "sku": "{{ item.sku }}", "line": "{{ index }}"}}}]}]}`, erp.url))
	var lines []string
	for i := range items {
		lines = append(lines, fmt.Sprintf(`{"sku": "SKU-%d"}`, i))
	}
	resp, body, err := in.hook("order-lines", "application/json", []byte(`{"id": "o-1", "line_items": [`+strings.Join(lines, ",")+`]}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v %s", err, resp, body)
	}
	var acc struct {
		RunID string `json:"run_id"`
	}
	json.Unmarshal(body, &acc)
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatalf("item %d never reached the ERP; got %d requests", inFlight, len(erp.all()))
	}
	in.kill()
	in.start()
	deadline := time.Now().Add(30 * time.Second)
	var rd runDetail
	for time.Now().Before(deadline) {
		if rd, _ = in.run(acc.RunID); rd.Status == "succeeded" || rd.Status == "failed" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rd.Status != "succeeded" {
		t.Fatalf("run after restart: %s %s", rd.Status, rd.Error)
	}
	count := map[string]int{}
	keys := map[string][]string{}
	for _, r := range erp.all() {
		var b map[string]any
		json.Unmarshal(r.Body, &b)
		sku := fmt.Sprint(b["sku"])
		count[sku]++
		keys[sku] = append(keys[sku], r.IdemKey)
	}
	for i := range items {
		sku := fmt.Sprintf("SKU-%d", i)
		want := 1
		if i == inFlight {
			want = 2
		}
		if count[sku] != want {
			t.Errorf("%s sent %d times, want %d (all: %v)", sku, count[sku], want, count)
		}
		wantKey := fmt.Sprintf("%s:lines[%d].book", acc.RunID, i)
		for _, k := range keys[sku] {
			if k != wantKey {
				t.Errorf("%s idempotency key %q, want %q", sku, k, wantKey)
			}
		}
	}
	var loop map[string]any
	for _, s := range rd.Steps {
		if s.ID == "lines" {
			loop = map[string]any{"output": s.Output}
		}
	}
	if outs, _ := loop["output"].([]any); len(outs) != items {
		t.Fatalf("loop output after resume: %v", loop)
	}
}

// TestLoopItemCrashLoopStops: an item whose step takes the process down
// (test.crash, built into this test's binary only) crashes it once, and
// again when the restarted server resumes at that item; the start after
// that fails the run at that item, with the earlier item's step done and
// the crashed step recorded as that item's.
func TestLoopItemCrashLoopStops(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	in := newInstance(t)
	in.bin = binaryWithTags(t, "switchyard_crashtest")
	in.start()
	in.mustAPI(201, "POST", "/api/flows", `{"id": "crashy-loop", "name": "Crashy loop", "enabled": true,
	  "trigger": {"type": "webhook", "path": "crashy-loop"},
	  "steps": [{"id": "each", "for_each": "trigger.body.items", "steps": [
	    {"id": "shape", "use": "data.set", "with": {"n": "{{ item.n }}"}},
	    {"id": "boom", "use": "test.crash", "if": "item.crash == true", "with": {"after": "1s"}}]}]}`)
	id := in.hookJSON("crashy-loop", `{"items": [{"n": 1}, {"n": 2, "crash": true}, {"n": 3}]}`)
	in.waitExit(30 * time.Second)
	in.start()
	in.waitExit(30 * time.Second)
	in.start()
	rd := in.waitRun(id)
	const msg = `step "each" failed: item 1: step "boom" failed: stopped: this step crashed the engine twice`
	if rd.Status != "failed" || rd.Error != msg {
		t.Fatalf("run: %s %q, want %q", rd.Status, rd.Error, msg)
	}
	data := in.mustAPI(200, "GET", "/api/runs/"+id+"/loops/each", nil)
	var page struct {
		Items []struct {
			Index  int    `json:"index"`
			Status string `json:"status"`
			Steps  []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"steps"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range page.Items {
		for _, s := range it.Steps {
			got = append(got, fmt.Sprintf("%d.%s:%s", it.Index, s.ID, s.Status))
		}
	}
	// Item 0's steps change nothing outside, so no checkpoint held them
	// yet: only the crashed step is recorded.
	if want := "1.boom:failed"; strings.Join(got, " ") != want {
		t.Fatalf("items: %s, want %s", strings.Join(got, " "), want)
	}
}

// TestLoopCrashResumeConcurrent is TestLoopCrashResume with three items
// at a time: the ERP holds every request from the fifth on until the kill,
// so up to three are in flight. After the restart every item is sent, each
// with its own key every time, and at most three items (those in flight)
// are sent twice.
func TestLoopCrashResumeConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const items, held, conc = 12, 4, 3
	var killed atomic.Bool
	hold := make(chan struct{})
	arrived := make(chan struct{}, items)
	erp := newRecorder(t, func(n int, r *http.Request) (int, string) {
		if n > held && !killed.Load() {
			arrived <- struct{}{}
			<-hold
		}
		return 200, fmt.Sprintf(`{"id": "erp-%d"}`, n)
	})
	defer close(hold)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "order-lines", "name": "Order lines", "enabled": true,
	  "trigger": {"type": "webhook", "path": "order-lines"},
	  "steps": [{"id": "lines", "for_each": "trigger.body.line_items", "concurrency": %d, "steps": [
	    {"id": "book", "use": "http.request", "with": {"method": "POST", "url": "%s/lines", "idempotency_key": true,
	      "body": {"sku": "{{ item.sku }}"}}}]}]}`, conc, erp.url))
	var lines []string
	for i := range items {
		lines = append(lines, fmt.Sprintf(`{"sku": "SKU-%d"}`, i))
	}
	id := in.hookJSON("order-lines", `{"line_items": [`+strings.Join(lines, ",")+`]}`)
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatalf("the held requests never came; got %d", len(erp.all()))
	}
	time.Sleep(200 * time.Millisecond) // let the other slots reach the ERP too
	killed.Store(true)
	in.kill()
	in.start()
	if rd := in.waitRun(id); rd.Status != "succeeded" {
		t.Fatalf("run after restart: %s %s", rd.Status, rd.Error)
	}
	count := map[string]int{}
	twice := 0
	for _, r := range erp.all() {
		var b map[string]any
		json.Unmarshal(r.Body, &b)
		sku := fmt.Sprint(b["sku"])
		count[sku]++
		var idx int
		fmt.Sscanf(sku, "SKU-%d", &idx)
		if want := fmt.Sprintf("%s:lines[%d].book", id, idx); r.IdemKey != want {
			t.Errorf("%s sent with key %q, want %q", sku, r.IdemKey, want)
		}
	}
	for i := range items {
		switch n := count[fmt.Sprintf("SKU-%d", i)]; n {
		case 1:
		case 2:
			twice++
		default:
			t.Errorf("SKU-%d sent %d times", i, n)
		}
	}
	if twice == 0 || twice > conc {
		t.Errorf("%d items sent twice, want 1 to %d (those in flight at the kill): %v", twice, conc, count)
	}
}
