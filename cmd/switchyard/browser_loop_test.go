package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestBrowserLoopOverLineItems builds, in the browser, a flow that books
// each line item of an order in a fake ERP: the sample is captured with
// "Listen for test event", the loop's list is picked from the sample's
// lists, the inner HTTP step's body rows are filled from Insert data
// (item.sku, item.qty, the order's id), and what each item gives the
// loop's output is named values from Insert data too. Nothing typed is an
// expression or JSON. After saving, a real order with three lines
// arrives; the ERP must get one request per line, in order, then one
// summary of the lines as the loop collected them, and the run page
// shows each item.
func TestBrowserLoopOverLineItems(t *testing.T) {
	needChromium(t)
	erp := newFake(t, `{"booked":true}`)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	j := &journey{t: t, b: b}
	b.setUp(brUser, brPassword)

	j.click("#new-flow")
	b.visible("#builder")
	j.mark()
	j.typ("#name", "Order lines")
	j.typ("#trigger-path", "order-lines")
	j.click("#listen-start")
	b.visible("#listen-countdown")
	sample := `{"id": "o-100", "customer": "Ada", "line_items": [{"sku": "TEA-1", "qty": 2}, {"sku": "CUP-7", "qty": 1}]}`
	if code, body := postJSON(t, b.text("#sample-test-url"), sample); code != 200 {
		t.Fatalf("sample: %d %s", code, body)
	}
	b.visible("#listen-received")
	b.visible(`#refs button.ref[data-ref="trigger.body.customer"]`)

	// An order delivered twice is booked once: deduplicated by its id,
	// picked from the sample's values (ids first).
	j.choose("#trigger-dedupe", "trigger.body.id")
	b.settled()
	if got := b.value("#trigger-dedupe"); got != "trigger.body.id" {
		t.Fatalf("dedupe picked %q", got)
	}
	b.do(brEvalVoid(`document.querySelector('#trigger-dedupe').scrollIntoView({block: "center"})`))
	b.screenshot("dedupe-picked.png")

	// The loop, its list picked from the sample's lists.
	j.click("#add-steps-loop")
	b.visible("#steps-0-for_each")
	j.stillSame("adding a loop")
	b.settled()
	j.choose("#steps-0-for_each", "trigger.body.line_items")
	b.settled()
	// Insert data now offers the first line's fields.
	b.visible(`#refs button.ref[data-ref="item.sku"]`)
	b.visible(`#refs button.ref[data-ref="steps.each_1.output"]`)
	if got := b.value("#steps-0-for_each"); got != "trigger.body.line_items" {
		t.Fatalf("the list picked is %q", got)
	}

	// Inside it, an HTTP POST to the ERP, its body as rows from Insert data.
	j.addInBranch("steps-0-steps", "http-request", "#steps-0-steps-0-with-url")
	hp := "#steps-0-steps-0-with-"
	j.choose(hp+"method", "POST")
	j.typ(hp+"url", erp.srv.URL+"/order-lines")
	j.typ(hp+"body-0-key", "sku")
	j.chip(hp+"body-0-value", "item.sku")
	j.click(hp + "body-add")
	b.visible(hp + "body-1-key")
	j.typ(hp+"body-1-key", "qty")
	j.choose(hp+"body-1-type", "number")
	j.chip(hp+"body-1-value", "item.qty")
	j.click(hp + "body-add")
	b.visible(hp + "body-2-key")
	j.typ(hp+"body-2-key", "order")
	j.chip(hp+"body-2-value", "trigger.body.id")
	// What each item gives the loop's output, as rows from Insert data;
	// after the loop, one summary of every line to the ERP.
	j.typ("#steps-0-collect-0-key", "sku")
	j.chip("#steps-0-collect-0-value", "item.sku")
	j.click("#steps-0-collect-add")
	b.visible("#steps-0-collect-1-key")
	j.typ("#steps-0-collect-1-key", "qty")
	j.chip("#steps-0-collect-1-value", "item.qty")
	b.do(brEvalVoid(`document.querySelector('#steps-0-collect').scrollIntoView({block: "center"})`))
	b.screenshot("loop-output-per-item.png")
	j.click("#add-steps-http-request")
	b.visible("#steps-1-with-url")
	j.choose("#steps-1-with-method", "POST")
	j.typ("#steps-1-with-url", erp.srv.URL+"/summary")
	j.typ("#steps-1-with-body-0-key", "lines")
	j.chip("#steps-1-with-body-0-value", "steps.each_1.output")
	j.stillSame("building the loop")
	// The diagram draws the loop around its step.
	if got := b.text("#flow-picture"); !strings.Contains(got, "Repeat for each item") || !strings.Contains(got, "each item") {
		t.Errorf("the diagram does not show the loop: %q", clipText(got, 300))
	}

	j.click("#save-flow")
	b.visible("#flash")
	if loc := b.location(); !strings.HasSuffix(loc, "/flows/order-lines/edit?flash=saved") {
		t.Fatalf("after save at %s", loc)
	}
	if len(j.typedExpr) > 0 || len(j.typedJSON) > 0 {
		t.Errorf("the user had to type code: expressions %q, JSON %q", j.typedExpr, j.typedJSON)
	}
	if n := len(erp.all()); n != 0 {
		t.Fatalf("building the flow sent %d request(s) to the ERP", n)
	}

	run := in.hookJSON("order-lines", `{"id": "o-200", "line_items": [{"sku": "A-1", "qty": 3}, {"sku": "B-2", "qty": 1}, {"sku": "C-3", "qty": 12}]}`)
	if rd := in.waitRun(run); rd.Status != "succeeded" {
		t.Fatalf("run %s: %s %s", run, rd.Status, rd.Error)
	}
	var want []fakeReq
	for _, l := range []struct {
		sku string
		qty float64
	}{{"A-1", 3}, {"B-2", 1}, {"C-3", 12}} {
		want = append(want, fakeReq{Method: "POST", Path: "/order-lines", ContentType: "application/json",
			Body: map[string]any{"sku": l.sku, "qty": l.qty, "order": "o-200"}})
	}
	want = append(want, fakeReq{Method: "POST", Path: "/summary", ContentType: "application/json",
		Body: map[string]any{"lines": []any{map[string]any{"sku": "A-1", "qty": 3.0}, map[string]any{"sku": "B-2", "qty": 1.0},
			map[string]any{"sku": "C-3", "qty": 12.0}}}})
	if got := erp.all(); !sameJSON(got, want) {
		t.Fatalf("the ERP received %+v, want one request per line, in order: %+v", got, want)
	}

	// The same order again: answered as a duplicate, nothing booked.
	resp, body, err := in.hook("order-lines", "application/json", []byte(`{"id": "o-200", "line_items": [{"sku": "Z-9", "qty": 1}]}`))
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Switchyard-Duplicate") != "true" {
		t.Fatalf("the order again: %v %v %s", err, resp, body)
	}
	if got := erp.all(); len(got) != len(want) {
		t.Fatalf("a duplicate order reached the ERP: %d requests", len(got))
	}

	// The run page shows each item with its step.
	b.open("/runs/" + run)
	b.visible("#step-each_1-items")
	for i := range 3 {
		b.visible(fmt.Sprintf("#step-each_1-items-%d", i))
	}
	if got := b.text("#step-each_1-items-title"); !strings.Contains(got, "3 items") {
		t.Errorf("items heading %q", got)
	}
	b.noScriptRan("loop builder")
}
