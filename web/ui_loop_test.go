package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
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

// TestBuilderBuildsLoop adds a "Repeat for each item" step through the
// form, picks its list from the sample's lists (no expression typed), adds
// an inner step that reads item fields from Insert data, saves, and runs
// it: the flow holds the loop and each item reached the inner step.
func TestBuilderBuildsLoop(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	if !strings.Contains(page, `id="add-steps-loop"`) {
		t.Fatal("the palette lacks Repeat for each item")
	}
	v := formValues(t, page)
	v.Set("name", "Order lines")
	v.Set("trigger.path", "lines")
	v.Set("_test_payload", `{"order": "o-1", "line_items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}], "note": "x"}`)
	_, page = b.builder("/flows/new", v, "add:steps:loop")
	v = formValues(t, page)
	if v.Get("steps.0.kind") != "loop" || v.Get("steps.0.id") != "each_1" {
		t.Fatalf("loop not added: %v", v)
	}
	// The picker offers the sample's list, and only lists.
	if picker := between(page, `id="steps-0-for_each"`, "</select>"); !strings.Contains(picker, `<option value="trigger.body.line_items">trigger.body.line_items (2 items)</option>`) ||
		strings.Contains(picker, `<option value="trigger.body.note"`) {
		t.Fatalf("list picker: %s", between(page, `id="steps-0-for_each"`, "</select>"))
	}
	if strings.Contains(page, `id="add-steps-0-steps-loop"`) {
		t.Fatal("a loop's palette offers a loop inside it")
	}
	v.Set("steps.0.for_each", "trigger.body.line_items")
	_, page = b.builder("/flows/new", v, "add:steps.0.steps:data.set")
	v = formValues(t, page)
	if v.Get("steps.0.steps.0.kind") != "step" || v.Get("steps.0.for_each") != "trigger.body.line_items" {
		t.Fatalf("inner step not added: %v", v)
	}
	// Insert data shows the first line's fields as item.*, index, the
	// loop's output.
	for _, want := range []string{`data-ref="item.sku"`, `data-ref="item.qty"`, `data-ref="index"`, `data-ref="steps.each_1.output"`} {
		if !strings.Contains(page, want) {
			t.Errorf("Insert data lacks %s", want)
		}
	}
	// An inner field's live check tries it on the first item.
	if !strings.Contains(page, "list=trigger.body.line_items") {
		t.Error("inner fields' checks do not name the loop's list")
	}
	_, ans := b.post("/flows/check?kind=template&field=steps.0.steps.0.with.x&list=trigger.body.line_items",
		url.Values{"steps.0.steps.0.with.x": {"{{ item.sku }} x{{ item.qty }} #{{ index }}"}, "_test_payload": {v.Get("_test_payload")}}, "HX-Request", "true")
	if !strings.Contains(ans, "A-1 x2 #0") {
		t.Errorf("live check inside the loop: %s", ans)
	}
	_, ans = b.post("/flows/check?kind=template&field=steps.1.with.x",
		url.Values{"steps.1.with.x": {"{{ item.sku }}"}, "_test_payload": {v.Get("_test_payload")}}, "HX-Request", "true")
	if !strings.Contains(ans, "unknown name item") {
		t.Errorf("live check outside the loop accepts item: %s", ans)
	}
	v["steps.0.steps.0.with._any.k"] = []string{"sku", "line", ""}
	v["steps.0.steps.0.with._any.v"] = []string{"{{ item.sku }}", "{{ index + 1 }}", ""}
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	v = formValues(t, page)
	v["steps.1.with._any.k"] = []string{"lines", ""}
	v["steps.1.with._any.v"] = []string{"{{ steps.each_1.output }}", ""}
	// Test shows each item of the dry run under the loop.
	_, page = b.builder("/flows/new", v, "test")
	if !strings.Contains(page, `id="test-status"`) || !strings.Contains(page, `id="test-step-each_1-items-1-set_1"`) || strings.Contains(page, `id="test-step-set_1"`) {
		t.Errorf("test panel: %s", between(page, `id="test-result"`, "</section>"))
	}
	v = formValues(t, page)
	r, page := b.builder("/flows/new", v, "save")
	if r.StatusCode != 204 {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
	}
	a, err := f.eng.Flow("order-lines")
	if err != nil {
		t.Fatal(err)
	}
	fl := a.Flow()
	if fl.Steps[0].ForEach != "trigger.body.line_items" || len(fl.Steps[0].Steps) != 1 || fl.Steps[0].Steps[0].Use != "data.set" {
		t.Fatalf("saved %+v", fl.Steps[0])
	}
	id := hook(t, f, "lines", `{"line_items": [{"sku": "A-1"}, {"sku": "B-2"}, {"sku": "C-3"}]}`)
	run := waitRun(t, f.eng, id)
	got := fmt.Sprint(run.Steps[len(run.Steps)-1].Output)
	if run.Status != engine.RunSucceeded || got != "map[lines:[map[line:1 sku:A-1] map[line:2 sku:B-2] map[line:3 sku:C-3]]]" {
		t.Fatalf("run %s: %s", run.Status, got)
	}
	// The builder opens the saved loop again with its list picked.
	_, page = b.do("GET", "/flows/order-lines/edit", nil)
	if v := formValues(t, page); v.Get("steps.0.for_each") != "trigger.body.line_items" || !slices.Contains(v["steps.0.steps.0.with._any.v"], "{{ item.sku }}") {
		t.Fatalf("reopened: for_each %q, inner %v", v.Get("steps.0.for_each"), v["steps.0.steps.0.with._any.v"])
	}

	// What each item gives the output is named values, picked like a
	// request body's (no collect JSON typed): empty rows keep the default.
	v = formValues(t, page)
	if v.Get("steps.0.collect.mode") != views.JSONRows || !strings.Contains(page, `id="steps-0-collect-0-key"`) {
		t.Fatalf("collect is not edited as rows: mode %q", v.Get("steps.0.collect.mode"))
	}
	// Its rows are checked as the loop's first item sees them.
	if tag := between(page, `id="steps-0-collect-0-value"`, ">"); !strings.Contains(tag, "list=trigger.body.line_items") {
		t.Errorf("collect rows' live check does not name the loop's list: %s", tag)
	}
	v["steps.0.collect.rk"] = []string{"code", "qty", ""}
	v["steps.0.collect.rt"] = []string{views.RowText, views.RowNumber, views.RowAuto}
	v["steps.0.collect.rv"] = []string{"{{ item.sku }}/{{ index }}", "{{ item.qty }}", ""}
	if r, page := b.builder("/flows/order-lines/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save with collect: %d %s", r.StatusCode, errorSummary(page))
	}
	a, _ = f.eng.Flow("order-lines")
	if c, _ := json.Marshal(a.Flow().Steps[0].Collect); string(c) != `{"code":"{{ item.sku }}/{{ index }}","qty":"{{ float(item.qty) }}"}` {
		t.Fatalf("collect saved as %s", c)
	}
	run = waitRun(t, f.eng, hook(t, f, "lines", `{"line_items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": "3"}]}`))
	if got := fmt.Sprint(run.Steps[len(run.Steps)-1].Output); run.Status != engine.RunSucceeded || got != "map[lines:[map[code:A-1/0 qty:2] map[code:B-2/1 qty:3]]]" {
		t.Fatalf("run with collect %s: %s", run.Status, got)
	}
	_, page = b.do("GET", "/flows/order-lines/edit", nil)
	if v := formValues(t, page); !slices.Equal(v["steps.0.collect.rk"], []string{"code", "qty", ""}) {
		t.Fatalf("collect reopened as %v", v["steps.0.collect.rk"])
	}
}

// between returns the text of s from the first start to the next end.
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}

// TestBuilderLoopConditionAndSwitchRefs: a built condition of a loop's
// inner step picks item fields and is tried on the first item; a step
// outside the loop is not offered item fields; Insert data lists a
// switch's branch and result for the steps after it.
func TestBuilderLoopConditionAndSwitchRefs(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "lc", "name": "lc", "enabled": true, "trigger": {"type": "webhook", "path": "lc"},
	  "steps": [
	    {"id": "each", "for_each": "trigger.body.lines", "steps": [
	      {"id": "big", "if": "check(item.qty, \">\", 1)", "use": "data.set", "with": {"sku": "{{ item.sku }}"}}]},
	    {"id": "route", "switch": [{"when": "trigger.body.vip == true", "steps": [{"id": "vip", "use": "data.set", "with": {"v": 1}}]}]},
	    {"id": "merge", "if": "check(trigger.body.id, \"exists\")", "use": "data.set", "with": {"b": "{{ steps.route.output.branch }}"}}]}`)
	id := hook(t, f, "lc", `{"id": "o-1", "vip": true, "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}`)
	if r := waitRun(t, f.eng, id); r.Status != engine.RunSucceeded {
		t.Fatalf("run: %s", r.Error)
	}
	_, page := b.do("GET", "/flows/lc/edit", nil)
	inner := between(page, `id="steps-0-steps-0-if-r-0"`, "</li>")
	if !strings.Contains(inner, `<option value="item.qty" selected`) || !strings.Contains(inner, "✓") {
		t.Errorf("the inner condition row: %s", inner)
	}
	outer := between(page, `id="steps-2-if-r-0"`, "</li>")
	if outer == "" || strings.Contains(outer, `value="item.qty"`) || strings.Contains(outer, `value="index"`) {
		t.Errorf("the outer condition row offers item fields: %s", outer)
	}
	for _, want := range []string{`data-ref="steps.route.output.branch"`, `data-ref="steps.route.output.result"`, `data-ref="steps.each.output"`, `data-ref="item.sku"`} {
		if !strings.Contains(page, want) {
			t.Errorf("Insert data lacks %s", want)
		}
	}
	// The latest run's later items do not repeat under Insert data.
	if n := strings.Count(page, `data-ref="steps.big.output.sku"`); n != 1 {
		t.Errorf("steps.big.output.sku listed %d times", n)
	}
}

// TestMoveStepIntoAndOutOfLoop: steps move into a loop's steps and out of
// them like into and out of a branch.
func TestMoveStepIntoAndOutOfLoop(t *testing.T) {
	base := func() *flows.Flow {
		return &flows.Flow{Steps: []flows.Step{{ID: "a"}, {ID: "each", ForEach: "trigger.body.xs", Steps: []flows.Step{{ID: "x"}}}, {ID: "c"}}}
	}
	loopShape := func(f *flows.Flow) string {
		var parts []string
		for _, s := range f.Steps {
			p := s.ID
			if s.IsLoop() {
				var in []string
				for _, x := range s.Steps {
					in = append(in, x.ID)
				}
				p += "{" + strings.Join(in, " ") + "}"
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct{ op, want string }{
		{"steps.0:steps.1.steps", "each{x a} c"},
		{"steps.2:before:steps.1.steps.0", "a each{c x}"},
		{"steps.1.steps.0:after:steps.2", "a each{} c x"},
		{"steps.1:steps.1.steps", "a each{x} c"},
	} {
		f := base()
		moveStep(f, tc.op)
		if got := loopShape(f); got != tc.want {
			t.Errorf("move %s: %s, want %s", tc.op, got, tc.want)
		}
	}
}
