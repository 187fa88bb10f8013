package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestUIRunPageLoopItems: a run page shows a loop's items 50 a page, each
// with its inner steps, links to the next and previous pages, and draws
// the loop in the run's diagram.
func TestUIRunPageLoopItems(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "lp", "name": "lp", "enabled": true, "trigger": {"type": "webhook", "path": "lp"},
	  "steps": [{"id": "each", "for_each": "trigger.body.xs", "steps": [
	    {"id": "label", "use": "data.set", "with": {"v": "sku-{{ item.n }}"}}]}]}`)
	var xs []string
	for i := range 120 {
		xs = append(xs, fmt.Sprintf(`{"n": %d}`, i))
	}
	id := hook(t, f, "lp", `{"xs": [`+strings.Join(xs, ",")+`]}`)
	if r := waitRun(t, f.eng, id); r.Status != engine.RunSucceeded {
		t.Fatalf("run: %s", r.Error)
	}
	_, page := b.do("GET", "/runs/"+id, nil)
	for _, want := range []string{`id="step-each-items"`, "items 1–50 of 120", `id="step-each-items-0"`, `id="step-each-items-49"`,
		`id="step-each-items-0-label-output"`, "sku-49", `id="step-each-items-next"`, "↻ 120 items", "Repeat for each item"} {
		if !strings.Contains(page, want) {
			t.Errorf("first page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="step-each-items-50"`) {
		t.Error("first page shows item 50")
	}
	r, page := b.do("GET", "/runs/"+id+"?loop=each&page=3", nil)
	if r.StatusCode != 200 {
		t.Fatalf("page 3: %d", r.StatusCode)
	}
	for _, want := range []string{"items 101–120 of 120", `id="step-each-items-119"`, "sku-119", `id="step-each-items-prev"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page 3 lacks %q", want)
		}
	}
	if strings.Contains(page, `id="step-each-items-next"`) || strings.Contains(page, `id="step-each-items-99"`) {
		t.Error("page 3 shows a next link or an item of page 2")
	}
	if r, _ := b.do("GET", "/runs/"+id+"?loop=each&page=zero", nil); r.StatusCode != 400 {
		t.Errorf("bad page: %d", r.StatusCode)
	}
}
