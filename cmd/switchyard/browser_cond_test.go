package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// exprMode opens the condition named by its element id (steps-0-if) in
// the expression editor, when it shows rows.
func (b *browser) exprMode(id string) {
	b.t.Helper()
	b.visible("#" + id + "-cond")
	if brEval[bool](b, fmt.Sprintf(`!!document.getElementById(%q)`, id+"-edit-expr")) {
		b.click("#" + id + "-edit-expr")
	}
	b.visible("#" + id)
}

// pick chooses an option of a select the way a person does: the page
// gets the change event (chromedp's SetValue sends input and change) and
// answers it before the next step.
func (b *browser) pick(sel, value string) {
	b.t.Helper()
	b.settled()
	brRun(b, "choose "+value+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
	b.settled()
	if got := b.value(sel); got != value {
		b.t.Fatalf("%s: chose %q, has %q", sel, value, got)
	}
}

// stepFocused waits until the page has focused a step just added (see
// focusNewStep in pictures.js), so typing goes where the test means.
func (b *browser) stepFocused() {
	b.t.Helper()
	brRun(b, "wait for the new step's focus", chromedp.Poll[bool](`document.getElementById("builder-focus") === null`,
		chromedp.WithPollingInterval(20*time.Millisecond)))
}

// TestBrowserConditionAndSchedule builds "score ≥ 70" with the condition
// builder by clicking (fields picked from the latest event), saves it, and
// runs it: "85" as text passes, a lead without a score is held back with
// "score is missing" on the run page. Then it picks a weekday 09:00
// schedule in a chosen zone and sees the next runs in that zone.
func TestBrowserConditionAndSchedule(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) { return 200, `{"ok":true}` })
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	b.open("/flows/new")
	b.visible("#builder")
	b.typeInto("#name", "Hot leads")
	b.typeInto("#trigger-path", "hot-leads")
	b.click("#add-steps-http-request")
	b.visible("#steps-0-with-url")
	b.settled()
	b.stepFocused()
	b.choose("#steps-0-with-method", "POST")
	b.typeInto("#steps-0-with-url", rec.url+"/hot")
	b.click("#save-flow")
	b.visible("#flash")
	// The first lead arrives: its fields become pickable.
	in.waitRun(in.hookJSON("hot-leads", `{"score": "85", "email": "ada@example.com", "plan": "pro"}`))

	b.open("/flows/hot-leads/edit")
	b.visible("#steps-0-if-cond")
	b.click("#steps-0-if-add-row")
	b.visible("#steps-0-if-r-0-field")
	b.pick("#steps-0-if-r-0-field", "trigger.body.score")
	b.waitText("#steps-0-if-cond", "Pick a test")
	b.pick("#steps-0-if-r-0-op", ">=")
	b.visible("#steps-0-if-r-0-value")
	b.typeInto("#steps-0-if-r-0-value", "70")
	b.do(brEvalVoid(`document.getElementById("steps-0-if-r-0-value").blur()`))
	b.settled()
	// The row says what it makes of the latest lead.
	b.waitText("#steps-0-if-r-0-result", "true for the sample")
	// A group of "any of" rows, one of them about a field the lead lacks.
	b.click("#steps-0-if-add-group")
	b.visible("#steps-0-if-r-1-r-1-field")
	b.pick("#steps-0-if-r-1-r-0-field", "trigger.body.plan")
	// The operator is chosen and the value typed before the page has
	// answered the operator's change: what was typed is kept.
	b.do(brEvalVoid(`(() => {
		const op = document.getElementById("steps-0-if-r-1-r-0-op");
		op.value = "is one of";
		op.dispatchEvent(new Event("change", {bubbles: true}));
		document.getElementById("steps-0-if-r-1-r-0-value").value = "pro, team";
	})()`))
	b.settled()
	b.waitText("#steps-0-if-r-1-r-0-result", "true for the sample")
	if got := b.value("#steps-0-if-r-1-r-0-value"); got != "pro, team" {
		t.Errorf("the value typed while the page answered: %q", got)
	}
	b.pick("#steps-0-if-r-1-r-1-field", "trigger.body.email")
	b.pick("#steps-0-if-r-1-r-1-op", "ends with")
	b.typeInto("#steps-0-if-r-1-r-1-value", "@example.com")
	b.do(brEvalVoid(`document.getElementById("steps-0-if-r-1-r-1-value").blur()`))
	b.settled()
	b.waitText("#steps-0-if-r-1-result", "true for the sample")
	b.do(brEvalVoid(`document.activeElement.blur(); window.scrollTo(0, document.getElementById("steps-0").getBoundingClientRect().top + window.scrollY - 24)`))
	b.screenshot("condition-builder.png")
	// The group goes again: the flow keeps the one row.
	b.click("#steps-0-if-r-1-remove")
	b.gone("#steps-0-if-r-1-join")
	b.click("#save-flow")
	b.visible("#flash")

	var saved struct {
		Flow struct {
			Trigger struct{ Cron, Timezone string } `json:"trigger"`
			Steps   []struct {
				ID string `json:"id"`
				If string `json:"if"`
			} `json:"steps"`
		} `json:"flow"`
	}
	raw := in.mustAPI(200, "GET", "/api/flows/hot-leads", nil)
	if err := json.Unmarshal(raw, &saved); err != nil || len(saved.Flow.Steps) != 1 || saved.Flow.Steps[0].If != `check(trigger.body.score, ">=", 70)` {
		t.Fatalf("saved flow: %s (%v)", raw, err)
	}
	stepID := saved.Flow.Steps[0].ID

	before := len(rec.all())
	if rd := in.waitRun(in.hookJSON("hot-leads", `{"score": "85", "email": "hot@example.com"}`)); rd.Status != "succeeded" {
		t.Fatalf("hot lead: %+v", rd)
	}
	if n := len(rec.all()); n != before+1 {
		t.Fatalf("the hot lead did not reach the downstream: %d requests", n-before)
	}
	cold := in.hookJSON("hot-leads", `{"email": "cold@example.com"}`)
	if rd := in.waitRun(cold); rd.Status != "succeeded" {
		t.Fatalf("a lead without a score fails the run: %+v", rd)
	}
	if n := len(rec.all()); n != before+1 {
		t.Fatal("a lead without a score reached the downstream")
	}
	b.open("/runs/" + cold)
	b.waitText("#step-"+stepID+"-status", "skipped")
	if got := b.text("#step-" + stepID + "-conditions"); !strings.Contains(got, "score is missing") {
		t.Errorf("the run page says %q", got)
	}

	// A weekday 09:00 schedule in Berlin, picked.
	b.open("/flows/new")
	b.visible("#builder")
	b.typeInto("#name", "Morning report")
	b.pick("#trigger-type", "schedule")
	b.visible("#trigger-schedule-mode")
	// A new schedule starts in the browser's zone.
	browserZone := brEval[string](b, `Intl.DateTimeFormat().resolvedOptions().timeZone`)
	b.waitText("#schedule-preview", "Next runs ("+browserZone+")")
	if got := b.value("#trigger-timezone"); got != browserZone {
		t.Errorf("time zone starts as %q, the browser's is %q", got, browserZone)
	}
	b.pick("#trigger-schedule-mode", "weekdays")
	b.visible("#trigger-schedule-time")
	b.do(chromedp.Clear(chromedp.CSS("#trigger-timezone")))
	b.typeInto("#trigger-timezone", "Europe/Berlin")
	b.waitText("#schedule-preview", "Next runs (Europe/Berlin)")
	next := b.text("#schedule-next")
	if strings.Count(next, "09:00 CET")+strings.Count(next, "09:00 CEST") != 5 || strings.Contains(next, "Sat") || strings.Contains(next, "Sun") {
		t.Errorf("next runs: %q", next)
	}
	b.do(brEvalVoid(`document.activeElement.blur(); window.scrollTo(0, document.getElementById("trigger").getBoundingClientRect().top + window.scrollY - 24)`))
	b.screenshot("schedule-picker.png")
	b.click("#add-steps-http-request")
	b.visible("#steps-0-with-url")
	b.settled()
	b.stepFocused()
	b.typeInto("#steps-0-with-url", rec.url+"/report")
	b.click("#save-flow")
	b.visible("#flash")
	raw = in.mustAPI(200, "GET", "/api/flows/morning-report", nil)
	if err := json.Unmarshal(raw, &saved); err != nil || saved.Flow.Trigger.Cron != "0 9 * * 1-5" || saved.Flow.Trigger.Timezone != "Europe/Berlin" {
		t.Fatalf("saved schedule: %s (%v)", raw, err)
	}
	b.noScriptRan("condition and schedule")
}
