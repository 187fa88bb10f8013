package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// erpFake stands in for an ERP that books order lines: it records each
// request's body and idempotency key, answers with an id, and refuses the
// SKUs listed in reject with 422.
type erpFake struct {
	mu     sync.Mutex
	bodies []map[string]any
	keys   []string
	reject map[string]bool
	srv    *httptest.Server
}

func newERPFake(t *testing.T) *erpFake {
	f := &erpFake{reject: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
		n, reject := len(f.bodies), f.reject[fmt.Sprint(body["sku"])]
		f.mu.Unlock()
		if reject {
			w.WriteHeader(422)
			io.WriteString(w, `{"error":"unknown sku"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": "erp-%d"}`, n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *erpFake) skus() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.bodies {
		out = append(out, fmt.Sprint(b["sku"]))
	}
	return out
}

// loopFlowJSON is a flow that books each line item: shape (pure) then post
// (http), collecting the ERP's id per item.
func loopFlowJSON(url, extra, innerOnError string) string {
	return fmt.Sprintf(`{"id": "lines", "name": "lines", "enabled": true, "trigger": {"type": "webhook", "path": "lines"},
	  "steps": [
	    {"id": "each", "for_each": "trigger.body.lines", %s "steps": [
	      {"id": "shape", "use": "data.set", "with": {"sku": "{{ upper(item.sku) }}", "line": "{{ index + 1 }}"}},
	      {"id": "post", "use": "http.request", %s "with": {"url": "%s", "method": "POST", "idempotency_key": true,
	        "body": {"sku": "{{ steps.shape.output.sku }}", "line": "{{ steps.shape.output.line }}", "qty": "{{ item.qty }}"}}}
	    ]},
	    {"id": "after", "use": "data.set", "with": {"count": "{{ len(steps.each.output) }}", "outs": "{{ steps.each.output }}"}}
	  ]}`, extra, innerOnError, url)
}

func runLoop(t *testing.T, te *testEngine, flowJSON, body string) *Run {
	t.Helper()
	a := te.saveFlow(t, flowJSON)
	acc, err := te.Accept(context.Background(), a, webhookEvent(body), false)
	if err != nil {
		t.Fatal(err)
	}
	return te.waitFinal(t, acc.RunID)
}

func TestLoopRunsEachItem(t *testing.T) {
	erp := newERPFake(t)
	te := startEngine(t, "", Config{})
	r := runLoop(t, te, loopFlowJSON(erp.srv.URL, "", ""), `{"lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "c", "qty": 3}]}`)
	if r.Status != RunSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	if got := strings.Join(erp.skus(), ","); got != "A,B,C" {
		t.Fatalf("ERP got %s", got)
	}
	for i, b := range erp.bodies {
		if b["line"] != float64(i+1) || b["qty"] != float64(i+1) {
			t.Errorf("request %d body %v", i, b)
		}
		if want := r.ID + ":each[" + fmt.Sprint(i) + "].post"; erp.keys[i] != want {
			t.Errorf("request %d idempotency key %q, want %q", i, erp.keys[i], want)
		}
	}
	after := r.result("after")
	if after == nil || after.Output.(map[string]any)["count"] != 3.0 {
		t.Fatalf("after: %+v", after)
	}
	outs := after.Output.(map[string]any)["outs"].([]any)
	if got := outs[1].(map[string]any)["body"].(map[string]any)["id"]; got != "erp-2" {
		t.Fatalf("item 1's output: %v", outs[1])
	}
	each := r.result("each")
	if each.ItemCount == nil || *each.ItemCount != 3 || len(each.Output.([]any)) != 3 {
		t.Fatalf("loop checkpoint: %+v", each)
	}
	// History holds every item's steps, placed by loop and index.
	var seen []string
	for _, s := range r.Steps {
		if s.InLoop() {
			seen = append(seen, fmt.Sprintf("%s[%d].%s", s.Loop, *s.Iteration, s.ID))
		}
	}
	if got := strings.Join(seen, " "); got != "each[0].shape each[0].post each[1].shape each[1].post each[2].shape each[2].post" {
		t.Fatalf("history: %s", got)
	}
}

func TestLoopCollect(t *testing.T) {
	erp := newERPFake(t)
	te := startEngine(t, "", Config{})
	r := runLoop(t, te, loopFlowJSON(erp.srv.URL, `"collect": {"sku": "{{ steps.shape.output.sku }}", "erp": "{{ steps.post.output.body.id }}", "at": "{{ index }}"},`, ""),
		`{"lines": [{"sku": "a"}, {"sku": "b"}]}`)
	if r.Status != RunSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	out, _ := json.Marshal(r.result("each").Output)
	if string(out) != `[{"at":0,"erp":"erp-1","sku":"A"},{"at":1,"erp":"erp-2","sku":"B"}]` {
		t.Fatalf("collected %s", out)
	}
}

func TestLoopEmptyList(t *testing.T) {
	erp := newERPFake(t)
	te := startEngine(t, "", Config{})
	r := runLoop(t, te, loopFlowJSON(erp.srv.URL, "", ""), `{"lines": []}`)
	if r.Status != RunSucceeded || len(erp.skus()) != 0 || r.result("after").Output.(map[string]any)["count"] != 0.0 {
		t.Fatalf("run %s %v, ERP got %v", r.Status, r.Error, erp.skus())
	}
}

func TestLoopRuntimeErrors(t *testing.T) {
	erp := newERPFake(t)
	te := startEngine(t, "", Config{})
	tests := []struct {
		name, extra, body, want string
	}{
		{"not a list", "", `{"lines": {"sku": "a"}}`, `step "each" failed: steps[0].for_each: for_each must give a list, got an object`},
		{"missing", "", `{}`, `step "each" failed: steps[0].for_each: for_each must give a list, got null`},
		{"too many items", `"max_items": 2,`, `{"lines": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}`, `step "each" failed: the list is longer than max_items: 3 items, max_items is 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runLoop(t, te, loopFlowJSON(erp.srv.URL, tt.extra, ""), tt.body)
			if r.Status != RunFailed || r.Error != tt.want || r.ErrorStep != "each" {
				t.Fatalf("run %s, error %q, step %q; want %q", r.Status, r.Error, r.ErrorStep, tt.want)
			}
		})
	}
	if len(erp.skus()) != 0 {
		t.Fatalf("ERP got %v", erp.skus())
	}
}

// TestLoopItemFailure: an item whose step fails stops the loop (and the
// run) by default; with on_error continue on the inner step, the item's
// output is the error and the other items go on.
func TestLoopItemFailure(t *testing.T) {
	erp := newERPFake(t)
	erp.reject["B"] = true
	te := startEngine(t, "", Config{})
	body := `{"lines": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}`
	r := runLoop(t, te, loopFlowJSON(erp.srv.URL, "", ""), body)
	if r.Status != RunFailed || r.ErrorStep != "each" || !strings.Contains(r.Error, `item 1: step "post" failed`) {
		t.Fatalf("run %s: %q at %q", r.Status, r.Error, r.ErrorStep)
	}
	if got := strings.Join(erp.skus(), ","); got != "A,B" {
		t.Fatalf("ERP got %s (the loop must stop at the failed item)", got)
	}

	r = runLoop(t, te, loopFlowJSON(erp.srv.URL, "", `"on_error": "continue",`), body)
	if r.Status != RunSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	outs := r.result("each").Output.([]any)
	if len(outs) != 3 || !strings.Contains(fmt.Sprint(outs[1]), "422") {
		t.Fatalf("outputs %v", outs)
	}

}

func TestLoopRetryResumesAtFailedItem(t *testing.T) {
	erp := newERPFake(t)
	erp.reject["B"] = true
	te := startEngine(t, "", Config{})
	failed := runLoop(t, te, loopFlowJSON(erp.srv.URL, "", ""), `{"lines": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}`)
	if failed.Status != RunFailed {
		t.Fatalf("run %s", failed.Status)
	}
	erp.mu.Lock()
	erp.reject["B"] = false
	erp.mu.Unlock()
	nr, err := te.RetryRun(context.Background(), failed.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := te.waitFinal(t, nr.ID)
	if r.Status != RunSucceeded {
		t.Fatalf("retried run: %s", r.Error)
	}
	if got := strings.Join(erp.skus(), ","); got != "A,B,B,C" {
		t.Fatalf("ERP got %s: the retry must start at the failed item", got)
	}
	outs := r.result("each").Output.([]any)
	if len(outs) != 3 || outs[0].(map[string]any)["body"].(map[string]any)["id"] != "erp-1" {
		t.Fatalf("outputs after retry %v", outs)
	}
}

// TestLoopInnerRetryParks: an inner step's retryable failure parks the run
// like any step's; when it is due the loop resumes at that item.
func TestLoopInnerRetryParks(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		sku := fmt.Sprint(b["sku"])
		mu.Lock()
		calls[sku]++
		n := calls[sku]
		mu.Unlock()
		if sku == "B" && n == 1 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{})
	r := runLoop(t, te, loopFlowJSON(srv.URL, "", `"retry": {"attempts": 3, "backoff": "10ms"},`), `{"lines": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}`)
	if r.Status != RunSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["A"] != 1 || calls["B"] != 2 || calls["C"] != 1 {
		t.Fatalf("calls %v", calls)
	}
	for _, s := range r.Steps {
		if s.ID == "post" && *s.Iteration == 1 && s.Attempts != 2 {
			t.Fatalf("item 1's post: %+v", s)
		}
	}
}

// TestSwitchOutputBranchResult: steps after a switch read which branch ran
// and its last step's output.
func TestSwitchOutputBranchResult(t *testing.T) {
	te := startEngine(t, "", Config{})
	flow := `{"id": "sw", "name": "sw", "enabled": true, "trigger": {"type": "webhook", "path": "sw"},
	  "steps": [
	    {"id": "route", "switch": [
	      {"when": "trigger.body.n > 10", "steps": [{"id": "big", "use": "data.set", "with": {"size": "big"}}]},
	      {"default": true, "steps": [{"id": "small1", "use": "data.set", "with": {"size": "small"}},
	                                  {"id": "small2", "use": "data.set", "with": {"size": "{{ steps.small1.output.size }}!", "n": "{{ trigger.body.n }}"}}]}
	    ]},
	    {"id": "merge", "use": "data.set", "with": {"branch": "{{ steps.route.output.branch }}", "size": "{{ steps.route.output.result.size }}"}}
	  ]}`
	for _, tt := range []struct{ body, want string }{
		{`{"n": 50}`, `{"branch":0,"size":"big"}`},
		{`{"n": 5}`, `{"branch":1,"size":"small!"}`},
	} {
		r := runLoop(t, te, flow, tt.body)
		if r.Status != RunSucceeded {
			t.Fatalf("run: %s", r.Error)
		}
		got, _ := json.Marshal(r.result("merge").Output)
		if string(got) != tt.want {
			t.Errorf("%s: merge got %s, want %s", tt.body, got, tt.want)
		}
		sw, _ := json.Marshal(r.result("route").Output)
		if !strings.Contains(string(sw), `"branch":`) || !strings.Contains(string(sw), `"result":{`) {
			t.Errorf("switch recorded %s", sw)
		}
	}
}

// TestLoopConcurrency: with concurrency 4, up to four items wait on the
// remote at once (never more), every item is sent once with its own key,
// and the output keeps the list's order.
func TestLoopConcurrency(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	seen := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		seen[fmt.Sprint(b["sku"])] = r.Header.Get("Idempotency-Key")
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"sku": %q}`, b["sku"])
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{})
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf(`{"sku": "s%d"}`, i))
	}
	start := time.Now()
	r := runLoop(t, te, loopFlowJSON(srv.URL, `"concurrency": 4,`, ""), `{"lines": [`+strings.Join(lines, ",")+`]}`)
	took := time.Since(start)
	if r.Status != RunSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 4 || len(seen) != 12 {
		t.Fatalf("at most %d in flight (want 4), %d items sent (want 12)", most, len(seen))
	}
	for i := range 12 {
		if want := fmt.Sprintf("%s:each[%d].post", r.ID, i); seen[fmt.Sprintf("S%d", i)] != want {
			t.Errorf("item %d key %q, want %q", i, seen[fmt.Sprintf("S%d", i)], want)
		}
	}
	outs := r.result("each").Output.([]any)
	for i, o := range outs {
		if got := o.(map[string]any)["body"].(map[string]any)["sku"]; got != fmt.Sprintf("S%d", i) {
			t.Fatalf("output %d is %v: the order of the list is lost", i, got)
		}
	}
	// 12 items of 30 ms, 4 at a time: about 90 ms, not 360.
	if took > 300*time.Millisecond {
		t.Logf("took %s (a loaded machine?)", took)
	}
}

// TestLoopConcurrencyFailureStops: a failed item stops new items; the run
// fails naming it.
func TestLoopConcurrencyFailureStops(t *testing.T) {
	erp := newERPFake(t)
	erp.reject["S1"] = true
	te := startEngine(t, "", Config{})
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf(`{"sku": "s%d"}`, i))
	}
	r := runLoop(t, te, loopFlowJSON(erp.srv.URL, `"concurrency": 2,`, ""), `{"lines": [`+strings.Join(lines, ",")+`]}`)
	if r.Status != RunFailed || !strings.Contains(r.Error, `item 1: step "post" failed`) {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	if n := len(erp.skus()); n >= 20 {
		t.Fatalf("%d items sent: the failure did not stop the loop", n)
	}
}

// TestLoopConcurrencyRetryParks: items that must be retried park the run
// once every started item settled; it resumes and finishes, each item's
// remote call made once more at most.
func TestLoopConcurrencyRetryParks(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		sku := fmt.Sprint(b["sku"])
		mu.Lock()
		calls[sku]++
		n := calls[sku]
		mu.Unlock()
		if (sku == "S1" || sku == "S4") && n == 1 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{})
	var lines []string
	for i := range 6 {
		lines = append(lines, fmt.Sprintf(`{"sku": "s%d"}`, i))
	}
	r := runLoop(t, te, loopFlowJSON(srv.URL, `"concurrency": 3,`, `"retry": {"attempts": 3, "backoff": "20ms"},`), `{"lines": [`+strings.Join(lines, ",")+`]}`)
	if r.Status != RunSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 6 {
		sku, want := fmt.Sprintf("S%d", i), 1
		if i == 1 || i == 4 {
			want = 2
		}
		if calls[sku] != want {
			t.Errorf("%s called %d times, want %d (all %v)", sku, calls[sku], want, calls)
		}
	}
	if n := len(r.result("each").Output.([]any)); n != 6 {
		t.Fatalf("%d outputs", n)
	}
}

// TestReplayPlanListsLoopSteps: replaying a run warns about the steps
// inside loops that call services, too.
func TestReplayPlanListsLoopSteps(t *testing.T) {
	erp := newERPFake(t)
	te := startEngine(t, "", Config{})
	r := runLoop(t, te, loopFlowJSON(erp.srv.URL, "", ""), `{"lines": [{"sku": "a"}]}`)
	ext, err := te.ReplayPlan(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ext) != 1 || ext[0].ID != "post" || ext[0].Path != "steps[0].steps[1]" {
		t.Fatalf("replay plan %+v", ext)
	}
}
