package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestLoopPagesAPI runs a 120-item loop and reads its history: the run
// detail holds the first 50 items, GET /api/runs/{id}/loops/{step} every
// item a page at a time; bad pages and steps get problem answers.
func TestLoopPagesAPI(t *testing.T) {
	f := newFixture(t, engine.Config{})
	flow := `{"id": "lp", "name": "lp", "enabled": true, "trigger": {"type": "webhook", "path": "lp"},
	  "steps": [{"id": "each", "for_each": "trigger.body.xs", "steps": [
	    {"id": "double", "use": "data.set", "with": {"v": "{{ item.n * 2 }}"}}]},
	    {"id": "after", "use": "data.set", "with": {"n": "{{ len(steps.each.output) }}"}}]}`
	if r, b := f.do(t, "POST", "/api/flows", "application/json", flow); r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, b)
	}
	var xs []string
	for i := range 120 {
		xs = append(xs, fmt.Sprintf(`{"n": %d}`, i))
	}
	r, b := f.do(t, "POST", "/hooks/lp", "application/json", `{"xs": [`+strings.Join(xs, ",")+`]}`)
	if r.StatusCode != 202 {
		t.Fatalf("hook: %d %s", r.StatusCode, b)
	}
	var acc struct {
		RunID string `json:"run_id"`
	}
	json.Unmarshal([]byte(b), &acc)
	run := waitRun(t, f.eng, acc.RunID)
	if run.Status != engine.RunSucceeded {
		t.Fatalf("run: %s", run.Error)
	}

	_, b = f.do(t, "GET", "/api/runs/"+acc.RunID, "", "")
	var detail struct {
		Steps []engine.StepResult `json:"steps"`
	}
	json.Unmarshal([]byte(b), &detail)
	inner := 0
	for _, s := range detail.Steps {
		if s.InLoop() {
			inner++
		}
	}
	if inner != 50 || len(detail.Steps) != 52 {
		t.Fatalf("run detail holds %d inner steps of %d steps, want the first page (50) and the 2 outer ones", inner, len(detail.Steps))
	}

	var all []int
	for page := 1; page <= 3; page++ {
		r, b := f.do(t, "GET", fmt.Sprintf("/api/runs/%s/loops/each?page=%d", acc.RunID, page), "", "")
		if r.StatusCode != 200 {
			t.Fatalf("page %d: %d %s", page, r.StatusCode, b)
		}
		var p engine.LoopPage
		if err := json.Unmarshal([]byte(b), &p); err != nil {
			t.Fatal(err)
		}
		if p.ItemCount != 120 || p.Pages != 3 || p.PerPage != 50 || p.Page != page {
			t.Fatalf("page %d header %+v", page, p)
		}
		for _, it := range p.Items {
			if it.Status != engine.StepSucceeded || len(it.Steps) != 1 {
				t.Fatalf("item %+v", it)
			}
			if got := it.Steps[0].Output.(map[string]any)["v"]; got != float64(2*it.Index) {
				t.Fatalf("item %d output %v", it.Index, got)
			}
			all = append(all, it.Index)
		}
	}
	if len(all) != 120 || all[0] != 0 || all[119] != 119 {
		t.Fatalf("pages held items %v", all)
	}

	for _, tt := range []struct {
		path string
		want int
		msg  string
	}{
		{"/loops/each?page=0", 400, "page: must be a whole number from 1"},
		{"/loops/each?page=x", 400, "page: must be a whole number from 1"},
		{"/loops/after", 404, `no loop step \"after\"`},
		{"/loops/nope", 404, `no loop step \"nope\"`},
	} {
		r, b := f.do(t, "GET", "/api/runs/"+acc.RunID+tt.path, "", "")
		if r.StatusCode != tt.want || !strings.Contains(b, tt.msg) || !strings.Contains(r.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("%s: %d %s %s", tt.path, r.StatusCode, r.Header.Get("Content-Type"), b)
		}
	}
	if r, b := f.do(t, "GET", "/api/runs/"+acc.RunID+"/loops/each?page=9", "", ""); r.StatusCode != 200 || !strings.Contains(b, `"items":[]`) {
		t.Errorf("page past the last: %d %s", r.StatusCode, b)
	}
}

// TestSyncAnswerOfALoop: a sync webhook whose flow ends with a loop
// answers with the loop's output, the list of its items' outputs.
func TestSyncAnswerOfALoop(t *testing.T) {
	f := newFixture(t, engine.Config{})
	createFlow(t, f, `{"id": "sl", "name": "sl", "enabled": true, "trigger": {"type": "webhook", "path": "sl", "respond": "sync"},
	  "steps": [{"id": "each", "for_each": "trigger.body.xs", "steps": [
	    {"id": "sq", "use": "data.set", "with": {"n": "{{ item.n * item.n }}"}}]}]}`)
	r, b := f.do(t, "POST", "/hooks/sl", "application/json", `{"xs": [{"n": 2}, {"n": 3}]}`)
	if r.StatusCode != 200 || b != `[{"n":4},{"n":9}]` {
		t.Fatalf("sync answer: %d %s", r.StatusCode, b)
	}
}
