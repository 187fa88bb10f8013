package web

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// TestBuilderDedupePicker: "Deduplicate by" offers the sample's single
// values, ids first, and nothing inside a list; a picked one is saved as
// its path and a second delivery with the same value runs nothing; "Don't
// deduplicate" saves none; another value is an expression, shown open.
func TestBuilderDedupePicker(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	v := formValues(t, page)
	if v.Get("trigger.dedupe") != views.DedupeNone || !strings.Contains(page, "Don&#39;t deduplicate") {
		t.Fatalf("a new webhook's dedupe: %q", v.Get("trigger.dedupe"))
	}
	v.Set("name", "Orders")
	v.Set("trigger.path", "orders")
	v.Set("_test_payload", `{"note": "x", "event_id": "ev_1", "lines": [{"id": "l1"}], "customer": {"id": 7}}`)
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	picker := between(page, `id="trigger-dedupe"`, "</select>")
	ids, note := strings.Index(picker, `value="trigger.body.event_id"`), strings.Index(picker, `value="trigger.body.note"`)
	if ids < 0 || note < 0 || ids > note || !strings.Contains(picker, `value="trigger.body.customer.id"`) || strings.Contains(picker, "lines") {
		t.Fatalf("dedupe options: %s", picker)
	}
	v = formValues(t, page)
	if v.Has("trigger.dedupe_window") {
		t.Fatal("\"Remember duplicates for\" is shown with nothing to deduplicate by")
	}
	v["steps.0.with._any.k"] = []string{"seen", ""}
	v["steps.0.with._any.v"] = []string{"true", ""}
	v.Set("trigger.dedupe", "trigger.body.event_id")
	// Picking a value brings how long it is remembered, beside it.
	_, page = b.builder("/flows/new", v, "refresh")
	v = formValues(t, page)
	if v.Get("trigger.dedupe_window.unit") != "d" || !strings.Contains(page, `id="trigger-dedupe_window"`) {
		t.Fatalf("the window does not come with the pick: %q", v.Get("trigger.dedupe_window.unit"))
	}
	v.Set("trigger.dedupe_window", "2")
	if r, page := b.builder("/flows/new", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
	}
	if a, _ := f.eng.Flow("orders"); a.Flow().Trigger.Dedupe != "trigger.body.event_id" || a.Flow().Trigger.DedupeWindow.Std() != 48*time.Hour {
		t.Fatalf("saved dedupe %q for %v", a.Flow().Trigger.Dedupe, a.Flow().Trigger.DedupeWindow)
	}
	hook(t, f, "orders", `{"event_id": "ev_9"}`)
	if r, body := f.do(t, "POST", "/hooks/orders", "application/json", `{"event_id": "ev_9", "note": "again"}`); r.StatusCode != 200 || r.Header.Get("Switchyard-Duplicate") != "true" {
		t.Fatalf("the same event id again: %d %s", r.StatusCode, body)
	}

	// Reopened (no sample offers it now), the pick shows as the expression.
	_, page = b.do("GET", "/flows/orders/edit", nil)
	v = formValues(t, page)
	if v.Get("trigger.dedupe") != "trigger.body.event_id" && (v.Get("trigger.dedupe") != views.ListExpression || v.Get("trigger.dedupe_expr") != "trigger.body.event_id") {
		t.Fatalf("reopened: %q %q", v.Get("trigger.dedupe"), v.Get("trigger.dedupe_expr"))
	}
	if r, page := b.builder("/flows/orders/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("re-save: %d %s", r.StatusCode, errorSummary(page))
	}
	if a, _ := f.eng.Flow("orders"); a.Flow().Trigger.Dedupe != "trigger.body.event_id" || a.Record.Version != 1 {
		t.Fatalf("round trip: %q, version %d", a.Flow().Trigger.Dedupe, a.Record.Version)
	}

	v.Set("trigger.dedupe", views.ListExpression)
	v.Set("trigger.dedupe_expr", "trigger.body.event_id + '/' + trigger.body.note")
	if r, page := b.builder("/flows/orders/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save expression: %d %s", r.StatusCode, errorSummary(page))
	}
	if a, _ := f.eng.Flow("orders"); a.Flow().Trigger.Dedupe != "trigger.body.event_id + '/' + trigger.body.note" {
		t.Fatalf("expression saved as %q", a.Flow().Trigger.Dedupe)
	}
	_, page = b.do("GET", "/flows/orders/edit", nil)
	if !strings.Contains(page, `<details class="more" open><summary>Or write it as an expression</summary>`) {
		t.Error("an expression's details are not open")
	}
	v = formValues(t, page)
	v.Set("trigger.dedupe", views.DedupeNone)
	// "Don't deduplicate" takes the window away with it, instead of the
	// save refusing a window "only allowed with dedupe".
	_, page = b.builder("/flows/orders/edit", v, "refresh")
	v = formValues(t, page)
	if v.Has("trigger.dedupe_window") {
		t.Fatal("the window stays after \"Don't deduplicate\"")
	}
	if r, page := b.builder("/flows/orders/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save none: %d %s", r.StatusCode, errorSummary(page))
	}
	if a, _ := f.eng.Flow("orders"); a.Flow().Trigger.Dedupe != "" || a.Flow().Trigger.DedupeWindow != 0 {
		t.Fatalf("none saved as %q for %v", a.Flow().Trigger.Dedupe, a.Flow().Trigger.DedupeWindow)
	}

	// With GitHub's signature check, "none" is GitHub's delivery id.
	fl := &flows.Flow{Trigger: flows.Trigger{Verify: &flows.Verify{Scheme: flows.VerifyGitHub}}}
	if got := views.DedupeNoneLabelFor(fl.Trigger); !strings.Contains(got, "delivery id") {
		t.Errorf("none with GitHub: %q", got)
	}
}
