package web

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// fragment posts the builder form to one of its fragment endpoints as
// htmx does and returns the fragment's form values and text.
func (b *browser) fragment(path string, v url.Values, op string) (url.Values, string) {
	b.t.Helper()
	v = cloneValues(v)
	if op != "" {
		v.Set("_op", op)
	} else {
		v.Del("_op")
	}
	r, body := b.do("POST", path, v, "HX-Request", "true", "X-CSRF-Token", b.csrf, "Sec-Fetch-Site", "same-origin")
	if r.StatusCode != 200 {
		b.t.Fatalf("%s: %d %.500s", path, r.StatusCode, body)
	}
	return formValues(b.t, `<form id="builder">`+body+`</form>`), body
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// merge puts a fragment's values in place of the form's values under
// prefix, as htmx's swap does.
func merge(form, frag url.Values, prefix string) url.Values {
	out := url.Values{}
	for k, vs := range form {
		if k != prefix && !strings.HasPrefix(k, prefix+".") {
			out[k] = vs
		}
	}
	for k, vs := range frag {
		out[k] = vs
	}
	return out
}

func errorAt(page, id string) string {
	m := regexp.MustCompile(`(?s)<div class="field-error" id="` + regexp.QuoteMeta(id) + `-error">(.*?)</div>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestConditionBuilder builds "score ≥ 70 and (plan is pro or team)" with
// the condition builder's buttons and fields, saves it, and reads it back
// into rows; a value that is not a number is an error on that value.
func TestConditionBuilder(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	v := formValues(t, page)
	v.Set("name", "Hot leads")
	v.Set("trigger.path", "leads")
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	v = formValues(t, page)
	v["steps.0.with._any.k"] = []string{"hot"}
	v["steps.0.with._any.v"] = []string{"true"}
	if v.Get("steps.0.if.mode") != "builder" || !strings.Contains(page, `id="steps-0-if-add-row"`) {
		t.Fatalf("a new step's condition: %v", v)
	}

	const cond = "/flows/condition?name=steps.0.if"
	fv, _ := b.fragment(cond, v, "cond:add:steps.0.if")
	v = merge(v, fv, "steps.0.if")
	v.Set("steps.0.if.r.0.field", "trigger.body.score")
	v.Set("steps.0.if.r.0.op", ">=")
	v.Set("steps.0.if.r.0.value", "seventy")
	// A value that is not a number shows beside the value as the user
	// leaves it, and blocks saving there.
	_, frag := b.fragment(cond, v, "")
	if e := errorAt(frag, "steps-0-if-r-0-value"); !strings.Contains(e, "must be a number") {
		t.Fatalf("live value error: %q in %.1500s", e, frag)
	}
	_, page = b.builder("/flows/new", v, "save")
	if e := errorAt(page, "steps-0-if-r-0-value"); !strings.Contains(e, "must be a number") {
		t.Fatalf("save value error: %q %s", e, errorSummary(page))
	}
	v.Set("steps.0.if.r.0.value", "70")

	fv, frag = b.fragment(cond, v, "cond:group:steps.0.if")
	if !strings.Contains(frag, `id="steps-0-if-r-1-join"`) || fv.Get("steps.0.if.r.1.join") != "any" || fv.Get("steps.0.if.r.1.r.1.kind") != "row" {
		t.Fatalf("group: %v", fv)
	}
	v = merge(v, fv, "steps.0.if")
	v.Set("steps.0.if.r.1.r.0.field", "trigger.body.plan")
	v.Set("steps.0.if.r.1.r.0.op", "is")
	v.Set("steps.0.if.r.1.r.0.value", "pro")
	v.Set("steps.0.if.r.1.r.1.field", "trigger.body.plan")
	v.Set("steps.0.if.r.1.r.1.op", "is")
	v.Set("steps.0.if.r.1.r.1.value", "team")
	// A third row added and left empty does not block saving.
	fv, _ = b.fragment(cond, v, "cond:add:steps.0.if.r.1")
	v = merge(v, fv, "steps.0.if")
	if v.Get("steps.0.if.r.1.r.2.kind") != "row" || v.Get("steps.0.if.r.1.r.1.value") != "team" {
		t.Fatalf("row added to the group: %v", v)
	}
	r, page := b.builder("/flows/new", v, "save")
	if r.StatusCode != 204 {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
	}
	const want = `check(trigger.body.score, ">=", 70) && (check(trigger.body.plan, "is", "pro") || check(trigger.body.plan, "is", "team"))`
	a, err := f.eng.Flow("hot-leads")
	if err != nil || a.Flow().Steps[0].If != want {
		t.Fatalf("saved if: %v %q", err, a.Flow().Steps[0].If)
	}

	// Before any event, fields are typed; once one arrived they are
	// picked from it, and each row shows its result against it.
	waitRun(t, f.eng, hook(t, f, "leads", `{"score": "85", "plan": "team", "email": "a@b.c"}`))
	_, page = b.do("GET", "/flows/hot-leads/edit", nil)
	v = formValues(t, page)
	if v.Get("steps.0.if.mode") != "builder" || v.Get("steps.0.if.r.0.field") != "trigger.body.score" || v.Get("steps.0.if.r.0.value") != "70" ||
		v.Get("steps.0.if.r.1.r.1.value") != "team" || v.Get("steps.0.if.r.1.join") != "any" {
		t.Fatalf("read back: %v", v)
	}
	if !strings.Contains(page, `<select id="steps-0-if-r-0-field"`) || !strings.Contains(page, `<option value="trigger.body.email"`) {
		t.Fatal("no field picker from the latest event")
	}
	if !strings.Contains(page, `id="steps-0-if-r-0-result"`) || !strings.Contains(page, "✓ true for the sample") {
		t.Fatalf("no live result per row: %.200s", page[strings.Index(page, `id="steps-0-if-cond"`):])
	}
	// Rows of a group show theirs too: plan is team, not pro.
	if m := regexp.MustCompile(`(?s)id="steps-0-if-r-1-r-(\d)-result"[^>]*>(.*?)</output>`).FindAllStringSubmatch(page, -1); len(m) != 2 ||
		!strings.Contains(m[0][2], "false for the sample") || !strings.Contains(m[1][2], "true for the sample") {
		t.Fatalf("group rows' results: %q", m)
	}
	v.Set("steps.0.if.r.0.field", "trigger.body.missing")
	_, frag = b.fragment("/flows/condition?flow=hot-leads&name=steps.0.if", v, "")
	if !strings.Contains(frag, "✗ false: missing is missing") {
		t.Fatalf("missing field: %s", frag)
	}
	// Unchanged, the form saves the same flow.
	v.Set("steps.0.if.r.0.field", "trigger.body.score")
	if r, body := b.builder("/flows/hot-leads/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("re-save: %d %s", r.StatusCode, errorSummary(body))
	}
	if a, _ := f.eng.Flow("hot-leads"); a.Flow().Steps[0].If != want || a.Record.Version != 1 {
		t.Fatalf("round trip: version %d, %q", a.Record.Version, a.Flow().Steps[0].If)
	}

	// Edit as expression and back; an expression the rows cannot show
	// stays in the editor with a note.
	fv, frag = b.fragment(cond, v, "cond:expr:steps.0.if")
	if fv.Get("steps.0.if.mode") != "expr" || fv.Get("steps.0.if") != want || !strings.Contains(frag, `id="steps-0-if-use-builder"`) {
		t.Fatalf("to expression: %v", fv)
	}
	v = merge(v, fv, "steps.0.if")
	v.Set("steps.0.if", `trigger.body.score > 70 || check(trigger.body.vip, "exists")`)
	fv, frag = b.fragment(cond, v, "cond:build:steps.0.if")
	if fv.Get("steps.0.if.mode") != "expr" || !strings.Contains(frag, "stays an expression") {
		t.Fatalf("not simple: %v %s", fv, frag)
	}
	if r, body := b.builder("/flows/hot-leads/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save expression: %d %s", r.StatusCode, errorSummary(body))
	}
	_, page = b.do("GET", "/flows/hot-leads/edit", nil)
	if v := formValues(t, page); v.Get("steps.0.if.mode") != "expr" || !strings.Contains(v.Get("steps.0.if"), "score > 70") {
		t.Fatalf("a stored expression opens in the editor: %v", v)
	}

	// Removing every row removes the condition.
	v.Set("steps.0.if.mode", "builder")
	v.Del("steps.0.if")
	if r, body := b.builder("/flows/hot-leads/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save without rows: %d %s", r.StatusCode, errorSummary(body))
	}
	if a, _ := f.eng.Flow("hot-leads"); a.Flow().Steps[0].If != "" {
		t.Fatalf("no rows, yet if %q", a.Flow().Steps[0].If)
	}
}

// TestConditionBuilderSwitch: a switch's branch condition is built the
// same way, and without rows it is required.
func TestConditionBuilderSwitch(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	v := formValues(t, page)
	v.Set("name", "Route")
	v.Set("trigger.path", "route")
	_, page = b.builder("/flows/new", v, "add:steps:switch")
	_, page = b.builder("/flows/new", formValues(t, page), "add:steps.0.switch.0.steps:data.set")
	v = formValues(t, page)
	v["steps.0.switch.0.steps.0.with._any.k"] = []string{"x"}
	v["steps.0.switch.0.steps.0.with._any.v"] = []string{"1"}
	if v.Get("steps.0.switch.0.when.mode") != "builder" || v.Get("steps.0.switch.0.when.r.0.kind") != "row" {
		t.Fatalf("a new branch starts with one row: %v", v)
	}
	r, page := b.builder("/flows/new", v, "save")
	if r.StatusCode != 200 || !strings.Contains(errorAt(page, "steps-0-switch-0-when"), "required") {
		t.Fatalf("empty branch condition: %d %s", r.StatusCode, errorSummary(page))
	}
	v.Set("steps.0.switch.0.when.r.0.field", "trigger.body.country")
	v.Set("steps.0.switch.0.when.r.0.op", "is one of")
	v.Set("steps.0.switch.0.when.r.0.value", "DE, AT, CH")
	if r, page := b.builder("/flows/new", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
	}
	a, _ := f.eng.Flow("route")
	if got := a.Flow().Steps[0].Switch[0].When; got != `check(trigger.body.country, "is one of", ["DE", "AT", "CH"])` {
		t.Fatalf("when: %q", got)
	}
	// The run page says why a condition was false in plain words.
	id := hook(t, f, "route", `{"name": "no country"}`)
	run := waitRun(t, f.eng, id)
	if run.Status != engine.RunSucceeded || len(run.Steps) == 0 || len(run.Steps[0].Conditions) != 1 || run.Steps[0].Conditions[0].Why[0] != "country is missing" {
		t.Fatalf("run: %+v", run)
	}
	if _, page := b.do("GET", "/runs/"+id, nil); !strings.Contains(page, `<span class="cond-why">country is missing</span>`) {
		t.Fatal("the run page does not say why")
	}
}

// TestSchedulePicker: a weekday schedule at 09:00 in a chosen zone is
// picked, previewed (five times, in that zone) and saved as cron; a bad
// zone is an error on the zone's field only.
func TestSchedulePicker(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	v := formValues(t, page)
	v.Set("name", "Morning report")
	v.Set("trigger.type", "schedule")
	_, page = b.builder("/flows/new", v, "refresh")
	v = formValues(t, page)
	if v.Get("trigger.schedule.mode") != "daily" || v.Get("trigger.schedule.time") != "09:00" || !strings.Contains(page, `data-browser-zone`) {
		t.Fatalf("a new schedule: %v", v)
	}
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	v = formValues(t, page)
	v["steps.0.with._any.k"] = []string{"x"}
	v["steps.0.with._any.v"] = []string{"1"}

	v.Set("trigger.schedule.mode", "weekdays")
	v.Set("trigger.schedule.time", "09:00")
	v.Set("trigger.timezone", "America/New_York")
	fv, frag := b.fragment("/flows/schedule", v, "")
	if fv.Get("trigger.cron") != "0 9 * * 1-5" {
		t.Fatalf("cron: %v", fv)
	}
	times := regexp.MustCompile(`<time datetime="([^"]+)">([^<]+)</time>`).FindAllStringSubmatch(frag, -1)
	if len(times) != 5 || !strings.Contains(frag, "Next runs (America/New_York)") {
		t.Fatalf("preview: %s", frag)
	}
	ny, _ := time.LoadLocation("America/New_York")
	for _, m := range times {
		at, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			t.Fatal(err)
		}
		at = at.In(ny)
		if at.Hour() != 9 || at.Minute() != 0 || at.Weekday() == time.Saturday || at.Weekday() == time.Sunday || !strings.Contains(m[2], "09:00 E") {
			t.Errorf("fire time %s (%s)", at, m[2])
		}
	}

	// Errors land on their own fields, live and on save.
	v.Set("trigger.timezone", "Mars/Olympus")
	_, frag = b.fragment("/flows/schedule", v, "")
	if !strings.Contains(errorAt(frag, "trigger-timezone"), "unknown time zone") || errorAt(frag, "trigger-cron") != "" || strings.Contains(frag, "<time") {
		t.Fatalf("bad zone: %s", frag)
	}
	_, page = b.builder("/flows/new", v, "save")
	if !strings.Contains(errorAt(page, "trigger-timezone"), "unknown time zone") || strings.Contains(page, `id="trigger-cron-error"><p>`) || strings.Contains(errorSummary(page), "trigger.cron") {
		t.Fatalf("bad zone on save: %s", errorSummary(page))
	}
	v.Set("trigger.timezone", "America/New_York")
	v.Set("trigger.schedule.time", "25:00")
	_, frag = b.fragment("/flows/schedule", v, "")
	if !strings.Contains(errorAt(frag, "trigger-schedule-time"), "enter a time") {
		t.Fatalf("bad time: %s", frag)
	}
	v.Set("trigger.schedule.time", "09:00")
	if r, page := b.builder("/flows/new", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
	}
	a, _ := f.eng.Flow("morning-report")
	if tr := a.Flow().Trigger; tr.Cron != "0 9 * * 1-5" || tr.Timezone != "America/New_York" {
		t.Fatalf("saved trigger: %+v", tr)
	}
	_, page = b.do("GET", "/flows/morning-report/edit", nil)
	if v := formValues(t, page); v.Get("trigger.schedule.mode") != "weekdays" || v.Get("trigger.schedule.time") != "09:00" || strings.Contains(page, "data-browser-zone") {
		t.Fatalf("read back: %v", v)
	}

	// Weekly on chosen days, and the advanced cron mode, which keeps
	// what the picker wrote.
	v.Set("trigger.schedule.mode", "weekly")
	fv, _ = b.fragment("/flows/schedule", v, "")
	v = merge(v, fv, "trigger.schedule")
	v["trigger.schedule.days"] = []string{"1", "3", "0"}
	fv, _ = b.fragment("/flows/schedule", v, "")
	if fv.Get("trigger.cron") != "0 9 * * 1,3,0" {
		t.Fatalf("weekly: %v", fv)
	}
	v = merge(v, fv, "trigger.schedule")
	v.Set("trigger.cron", fv.Get("trigger.cron"))
	v.Set("trigger.schedule.mode", "cron")
	fv, frag = b.fragment("/flows/schedule", v, "")
	if fv.Get("trigger.cron") != "0 9 * * 1,3,0" || !strings.Contains(frag, `id="trigger-cron"`) {
		t.Fatalf("to cron: %v", fv)
	}
	v.Set("trigger.cron", "*/0 * * *")
	_, frag = b.fragment("/flows/schedule", v, "")
	if errorAt(frag, "trigger-cron") == "" || errorAt(frag, "trigger-timezone") != "" {
		t.Fatalf("bad cron: %s", frag)
	}
}

func TestSchedStateRoundTrip(t *testing.T) {
	for _, c := range []string{"* * * * *", "*/15 * * * *", "5 * * * *", "30 7 * * *", "0 9 * * 1-5", "15 18 * * 1,3,5,0", "0 6 31 * *", "@every 5m", "0 9 * * 0,1", "0 0 1 1 *"} {
		st := views.SchedStateOf(c)
		got, err := st.BuildCron()
		if err != nil || got != c {
			t.Errorf("%q: mode %s, back %q %v", c, st.Mode, got, err)
		}
	}
	if st := views.SchedStateOf("0 9 * * 0,1"); st.Mode != "cron" {
		t.Errorf("Sunday first is not what the picker writes: %s", st.Mode)
	}
	if err := flows.CheckExpr(`check(trigger.body.x, "exists")`, flows.KindCondition); err != nil {
		t.Fatal(err)
	}
}

// TestBuilderFragmentsRefuseCrossSite: the fragments try conditions on the
// latest event, so another site's page cannot have them answered.
func TestBuilderFragmentsRefuseCrossSite(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := url.Values{"steps.0.if.mode": {"builder"}, "trigger.schedule.mode": {"daily"}}
	for _, path := range []string{"/flows/condition?name=steps.0.if", "/flows/schedule"} {
		if r, _ := b.do("POST", path, v, "HX-Request", "true", "X-CSRF-Token", b.csrf, "Sec-Fetch-Site", "cross-site"); r.StatusCode != 403 {
			t.Errorf("%s cross-site: %d", path, r.StatusCode)
		}
		if r, _ := b.do("POST", path, v, "HX-Request", "true", "Sec-Fetch-Site", "same-origin"); r.StatusCode != 403 {
			t.Errorf("%s without CSRF token: %d", path, r.StatusCode)
		}
	}
}

// TestConditionRowsFollowTheirStep: rows being edited stay with their
// condition while steps are added, and an operation that moves steps
// reads the conditions again from the flow instead of leaving rows under
// the wrong step.
func TestConditionRowsFollowTheirStep(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	v := formValues(t, page)
	v.Set("name", "Two")
	v.Set("trigger.path", "two")
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	_, page = b.builder("/flows/new", formValues(t, page), "add:steps:data.set")
	v = formValues(t, page)
	fv, _ := b.fragment("/flows/condition?name=steps.0.if", v, "cond:add:steps.0.if")
	v = merge(v, fv, "steps.0.if")
	v.Set("steps.0.if.r.0.field", "trigger.body.a")
	// An unfinished row survives adding a step (no operator chosen yet).
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	v = formValues(t, page)
	if v.Get("steps.0.if.r.0.field") != "trigger.body.a" || v.Get("steps.1.if.r.0.kind") != "" {
		t.Fatalf("after adding a step: %v", v)
	}
	v.Set("steps.0.if.r.0.op", "exists")
	// Moving the first step down takes its finished condition along.
	_, page = b.builder("/flows/new", v, "down:steps.0")
	v = formValues(t, page)
	if v.Get("steps.1.if.r.0.field") != "trigger.body.a" || v.Get("steps.1.if.r.0.op") != "exists" || v.Get("steps.0.if.r.0.kind") != "" {
		t.Fatalf("after moving: %v", v)
	}
}
