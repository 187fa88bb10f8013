package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// The first-time business user's journey (issue 11, "Done when"): every
// action goes through the browser as a person would make it, and the
// journey counts what a no-code builder must never ask for: a typed
// expression, typed JSON, a page reload to see data, a terminal command.

// journey drives the browser for the user and keeps the counts.
type journey struct {
	t *testing.T
	b *browser
	// actions counts clicks, choices and texts typed.
	actions int
	// typedExpr and typedJSON are texts the user had to type that are
	// code: an expression, a template, a cron line, JSON.
	typedExpr, typedJSON []string
	// reloads counts page loads the user needed to see new data (the
	// page's marker vanished between two actions on the same page).
	reloads int
	// terminal counts commands the user had to run outside the browser.
	terminal int
	// missing lists features the journey needs and did not find;
	// waiting lists what failed because of them (see finish).
	missing, waiting []string
	// phone lists the pages that scroll sideways at 390 px.
	phone []string
}

// needs records a problem that comes from a missing feature: with the
// feature present it fails the test, without it the test says so at the
// end (see finish).
func (j *journey) needs(feature string, format string, args ...any) {
	j.t.Helper()
	msg := fmt.Sprintf(format, args...)
	for _, m := range j.missing {
		if strings.HasPrefix(m, feature) {
			j.waiting = append(j.waiting, msg)
			return
		}
	}
	j.t.Error(msg)
}

// Features of issue 11 built beside this journey; missing entries start
// with these names.
const (
	featCondition = "condition builder"
	featSchedule  = "schedule picker"
	featRunNow    = "Run now"
)

var (
	// exprRE finds expression syntax in a typed text.
	exprRE = regexp.MustCompile(`\{\{|==|!=|>=|<=|&&|\|\||\b(trigger|steps|run|flow)\.[a-z_]`)
	// cronRE finds a cron line.
	cronRE = regexp.MustCompile(`^\s*(\S+\s+){4}\S+\s*$`)
)

// typ types plain text into a field; code is counted.
func (j *journey) typ(sel, text string) {
	j.t.Helper()
	j.actions++
	s := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "{{") || strings.HasPrefix(s, "["):
		j.typedJSON = append(j.typedJSON, text)
	case exprRE.MatchString(text) || cronRE.MatchString(text) && strings.ContainsAny(text, "*/"):
		j.typedExpr = append(j.typedExpr, text)
	}
	j.b.typeInto(sel, text)
}

// click clicks a button, link or field.
func (j *journey) click(sel string) {
	j.t.Helper()
	j.actions++
	j.b.click(sel)
}

// choose picks an option and tells the page (a change event, as a
// person's choice makes).
func (j *journey) choose(sel, value string) {
	j.t.Helper()
	j.actions++
	j.b.visible(sel)
	ok := brEval[bool](j.b, fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		if (![...el.options].some(o => o.value === %q)) return false;
		el.value = %q; el.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, value, value))
	if !ok {
		j.t.Fatalf("%s has no option %q", sel, value)
	}
}

// chip puts the cursor in a field and clicks a field of the sample under
// Insert data.
func (j *journey) chip(field, ref string) {
	j.t.Helper()
	j.click(field)
	j.click(fmt.Sprintf(`#refs button.ref[data-ref=%q]`, ref))
}

// mark sets a marker a page load would clear; stillSame counts a reload
// when it is gone.
func (j *journey) mark() { j.b.do(brMark("journey")) }

func (j *journey) stillSame(where string) {
	j.t.Helper()
	if !brEval[bool](j.b, `window.__switchyardMark === "journey"`) {
		j.reloads++
		j.t.Errorf("%s: the page was loaded again; the data must arrive without a reload", where)
		j.mark()
	}
}

// has reports whether an element exists now.
func (j *journey) has(sel string) bool {
	return brEval[bool](j.b, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
}

// fake is an httptest server standing in for a service; it records each
// request and answers with reply.
type fake struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []fakeReq
	reply string
}

type fakeReq struct {
	Method, Path, Auth, ContentType string
	Body                            map[string]any
}

func newFake(t *testing.T, reply string) *fake {
	f := &fake{reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			body = map[string]any{"unparsed": string(data)}
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, fakeReq{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Body: body})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, f.reply)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) all() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

// sameJSON reports whether two values encode to the same JSON.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// sameSet reports whether a and b hold the same requests in any order.
func sameSet(a, b []fakeReq) bool {
	key := func(rs []fakeReq) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			x, _ := json.Marshal(r)
			out[i] = string(x)
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// postJSON is the chatbot: it posts a JSON body and returns the status.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// journeyShots is where the journey's screenshots are checked in.
var journeyShots = filepath.Join("..", "..", "docs", "screenshots")

func TestBrowserFirstTimeUserJourney(t *testing.T) {
	needChromium(t)
	hubspot := newFake(t, `{"status":"COMPLETE","results":[{"id":"5101","properties":{"email":"ada@example.com"},"new":true}]}`)
	slack := newFake(t, `{"ok":true,"channel":"C0SALES","ts":"1733131200.000100"}`)
	erp := newFake(t, `{"accepted":true}`)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	j := &journey{t: t, b: b}

	// 1. The account.
	j.actions += 4 // name, password twice, the button (setUp types and clicks them)
	b.setUp(brUser, brPassword)

	// 2. The flow, from an empty builder.
	j.click("#new-flow")
	b.visible("#builder")
	j.mark()
	j.typ("#name", "Chatbot leads")
	j.typ("#trigger-path", "chatbot-lead")

	// 3. The sample: listen, and let the chatbot send a lead to the test
	// URL while the countdown runs.
	j.click("#listen-start")
	b.visible("#listen-countdown")
	testURL := b.text("#sample-test-url")
	if testURL != in.url("/hooks-test/chatbot-lead") {
		t.Fatalf("test URL shown: %q", testURL)
	}
	b.do(brEvalVoid(`document.activeElement.blur(); document.getElementById("trigger").scrollIntoView()`))
	j.screenshot("journey-1-listening.png")
	lead := `{"name": "Ada Lovelace", "email": "ada@example.com", "company": "Analytical Engines", "score": 92, "message": "Can we get a demo?"}`
	if code, body := postJSON(t, testURL, lead); code != 200 {
		t.Fatalf("the chatbot's test lead: %d %s", code, body)
	}
	b.visible("#listen-received")
	b.visible(`#refs button.ref[data-ref="trigger.body.email"]`)
	j.stillSame("capturing the sample")
	if got := b.value("#test-payload"); !strings.Contains(got, `"company": "Analytical Engines"`) {
		t.Errorf("the sample did not fill Test: %q", got)
	}
	if runs := in.allRuns(""); len(runs) != 0 {
		t.Errorf("the test event started %d run(s)", len(runs))
	}
	b.do(brEvalVoid(`document.getElementById("trigger").scrollIntoView()`))
	j.screenshot("journey-2-sample.png")

	// 4. "Only hot leads": a switch whose first branch holds score ≥ 70.
	j.click("#add-steps-switch")
	b.visible("#steps-0-switch-0-when-cond")
	j.stillSame("adding a switch")
	const branch = "steps-0-switch-0-steps"
	if j.has("#steps-0-switch-0-when-cond") {
		// The condition builder (issue 11 point 3) is driven by the ids
		// its author documents; see docs/ui.md.
		j.conditionBuilder("steps-0-switch-0-when", "trigger.body.score", ">=", "70")
	} else {
		j.missing = append(j.missing, featCondition+" (issue 11 point 3): the branch condition had to be typed, and it cannot compare \"85\" with 70")
		j.typ("#steps-0-switch-0-when", "trigger.body.score >= 70")
	}

	// 5. HubSpot upsert in the branch, fields from the sample; its
	// connection made without leaving the step.
	j.addInBranch(branch, "hubspot-upsert_contact", "#"+branch+"-0-with-email")
	hs := "#" + branch + "-0-with-"
	j.newConnection(branch+"-0-with-connection", "hubspot", "HubSpot main", "pat-na1-journey", hubspot.srv.URL, "hubspot_main")
	j.chip(hs+"email", "trigger.body.email")
	j.typ(hs+"properties-k-0", "firstname")
	j.chip(hs+"properties-v-0", "trigger.body.name")
	j.click(hs + "properties-add")
	b.visible(hs + "properties-k-1")
	j.typ(hs+"properties-k-1", "company")
	j.chip(hs+"properties-v-1", "trigger.body.company")

	// 6. A Slack message: plain words with fields in between.
	j.addInBranch(branch, "slack-post_message", "#"+branch+"-1-with-channel")
	sl := "#" + branch + "-1-with-"
	j.newConnection(branch+"-1-with-connection", "slack", "Slack main", "xoxb-journey", slack.srv.URL, "slack_main")
	j.typ(sl+"channel", "#sales")
	j.typ(sl+"text", "Hot lead: ")
	j.chip(sl+"text", "trigger.body.name")
	j.typ(sl+"text", " from ")
	j.chip(sl+"text", "trigger.body.company")
	j.typ(sl+"text", ", score ")
	j.chip(sl+"text", "trigger.body.score")

	// 7. An HTTP POST to the ERP, its body as rows with a type each.
	j.addInBranch(branch, "http-request", "#"+branch+"-2-with-url")
	hp := "#" + branch + "-2-with-"
	j.choose(hp+"method", "POST")
	j.typ(hp+"url", erp.srv.URL+"/leads")
	j.typ(hp+"body-0-key", "email")
	j.chip(hp+"body-0-value", "trigger.body.email")
	j.click(hp + "body-add")
	b.visible(hp + "body-1-key")
	j.typ(hp+"body-1-key", "score")
	j.choose(hp+"body-1-type", "number")
	j.chip(hp+"body-1-value", "trigger.body.score")
	j.click(hp + "body-add")
	b.visible(hp + "body-2-key")
	j.typ(hp+"body-2-key", "source")
	j.typ(hp+"body-2-value", "chatbot")
	j.stillSame("building the steps")
	b.do(brEvalVoid(`document.activeElement.blur(); window.scrollTo(0, document.getElementById("` + branch + `-2-with-body").getBoundingClientRect().top + window.scrollY - 180)`))
	j.screenshot("journey-3-body.png")

	// 8. Test against the sample: dry, nothing leaves.
	j.click("#test-run")
	b.visible("#test-status")
	b.waitText("#test-status", "succeeded")
	j.stillSame("testing")
	if n := len(hubspot.all()) + len(slack.all()) + len(erp.all()); n != 0 {
		t.Fatalf("the test sent %d request(s) out", n)
	}
	b.do(brEvalVoid(`document.getElementById("test-panel").scrollIntoView()`))
	j.screenshot("journey-4-test.png")

	// 9. Save.
	j.click("#save-flow")
	b.visible("#flash")
	if loc := b.location(); !strings.HasSuffix(loc, "/flows/chatbot-leads/edit?flash=saved") {
		t.Fatalf("after save at %s", loc)
	}
	// The saved flow's builder keeps the sample, although no event has
	// reached the flow yet.
	b.visible(`#refs button.ref[data-ref="trigger.body.company"]`)

	// 10. The chatbot sends three leads to the real URL.
	hot := in.hookJSON("chatbot-lead", lead)
	cold := in.hookJSON("chatbot-lead", `{"name": "Bob", "email": "bob@example.com", "company": "Tea Ltd", "score": 30}`)
	text := in.hookJSON("chatbot-lead", `{"name": "Cy Young", "email": "cy@example.com", "company": "Mound Inc", "score": "85"}`)
	for _, id := range []string{hot, cold} {
		if rd := in.waitRun(id); rd.Status != "succeeded" {
			t.Errorf("run %s: %s", id, rd.Status)
		}
	}
	if rd := in.waitRun(text); rd.Status != "succeeded" {
		j.needs(featCondition, `the lead with "score": "85" (run %s): %s`, text, rd.Status)
	}
	upsert := func(email, name, company string) fakeReq {
		return fakeReq{Method: "POST", Path: "/crm/v3/objects/contacts/batch/upsert", Auth: "Bearer pat-na1-journey", ContentType: "application/json",
			Body: map[string]any{"inputs": []any{map[string]any{"idProperty": "email", "id": email,
				"properties": map[string]any{"email": email, "firstname": name, "company": company}}}}}
	}
	post := func(text string) fakeReq {
		return fakeReq{Method: "POST", Path: "/chat.postMessage", Auth: "Bearer xoxb-journey", ContentType: "application/json; charset=utf-8",
			Body: map[string]any{"channel": "#sales", "text": text}}
	}
	erpReq := func(email string, score float64) fakeReq {
		return fakeReq{Method: "POST", Path: "/leads", ContentType: "application/json",
			Body: map[string]any{"email": email, "score": score, "source": "chatbot"}}
	}
	for _, c := range []struct {
		name string
		f    *fake
		want []fakeReq
	}{
		{"HubSpot", hubspot, []fakeReq{upsert("ada@example.com", "Ada Lovelace", "Analytical Engines"), upsert("cy@example.com", "Cy Young", "Mound Inc")}},
		{"Slack", slack, []fakeReq{post("Hot lead: Ada Lovelace from Analytical Engines, score 92"), post("Hot lead: Cy Young from Mound Inc, score 85")}},
		{"ERP", erp, []fakeReq{erpReq("ada@example.com", 92), erpReq("cy@example.com", 85)}},
	} {
		got := c.f.all()
		// The leads run concurrently: their requests may arrive in
		// either order.
		if sameJSON(got, c.want) || sameSet(got, c.want) {
			continue
		}
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(c.want, "", "  ")
		if len(got) == 1 && sameJSON(got, c.want[:1]) {
			// The hot lead went through; only the "85" lead did not.
			j.needs(featCondition, "%s received only the hot lead, not the one with \"score\": \"85\"", c.name)
			continue
		}
		t.Errorf("%s received:\n%s\nwant:\n%s", c.name, g, w)
	}

	// Back in the builder, any of the latest events can be the sample.
	j.click(`nav a[href="/flows"]`)
	j.click("#edit-chatbot-leads")
	b.visible("#sample-run")
	j.mark()
	j.choose("#sample-run", cold)
	b.waitText("#refs-from", cold)
	if got := b.value("#test-payload"); !strings.Contains(got, "Tea Ltd") {
		t.Errorf("picking the cold lead's event did not fill Test: %q", got)
	}
	j.stillSame("picking an earlier event")

	// 11. A weekday 09:00 schedule in a chosen zone.
	j.click(`nav a[href="/flows"]`)
	j.click("#new-flow")
	b.visible("#builder")
	j.typ("#name", "Morning summary")
	j.choose("#trigger-type", "schedule")
	b.visible("#trigger-timezone")
	if j.has("#schedule-picker") {
		j.schedulePicker()
	} else {
		j.missing = append(j.missing, featSchedule+" (issue 11 point 4): the cron line and the zone had to be typed")
		j.typ("#trigger-cron", "0 9 * * 1-5")
		j.typ("#trigger-timezone", "Europe/Berlin")
	}
	j.click("#add-steps-data-set")
	b.visible("#steps-0-with-_any-k-0")
	j.typ("#steps-0-with-_any-k-0", "greeting")
	j.typ("#steps-0-with-_any-v-0", "Good morning")
	j.click("#save-flow")
	b.visible("#flash")
	var sched struct {
		Flow struct {
			Trigger struct{ Type, Cron, Timezone string } `json:"trigger"`
		} `json:"flow"`
	}
	if err := json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/morning-summary", nil), &sched); err != nil {
		t.Fatal(err)
	}
	if tr := sched.Flow.Trigger; tr.Type != "schedule" || tr.Cron != "0 9 * * 1-5" || tr.Timezone != "Europe/Berlin" {
		t.Errorf("schedule saved as %+v", tr)
	}

	// 12. "Run now" on a manual flow.
	j.click(`nav a[href="/flows"]`)
	j.click("#new-flow")
	b.visible("#builder")
	j.typ("#name", "Say hello")
	j.choose("#trigger-type", "manual")
	b.gone("#trigger-path")
	// A click while the trigger's part of the page is being swapped is
	// lost (on a loaded machine the swap takes a while): wait for it.
	b.settled()
	j.click("#add-steps-data-set")
	b.visible("#steps-0-with-_any-k-0")
	j.typ("#steps-0-with-_any-k-0", "hello")
	j.typ("#steps-0-with-_any-v-0", "world")
	j.click("#save-flow")
	b.visible("#flash")
	if j.has("#run-now") {
		j.mark()
		j.click("#run-now")
		b.visible("#run-now-result .run-now-link")
		j.stillSame("Run now")
		id := brEval[string](b, `document.querySelector("#run-now-result .run-now-link").dataset.runId`)
		if rd := in.waitRun(id); rd.Status != "succeeded" {
			t.Errorf("the manual run %s: %s", id, rd.Status)
		}
		if runs := in.allRuns("&flow=say-hello"); len(runs) != 1 {
			t.Errorf("Run now started %d run(s)", len(runs))
		}
	} else {
		j.missing = append(j.missing, featRunNow+" (issue 11 point 5): a manual flow cannot be started from the UI")
	}

	// 13. At 390 px nothing scrolls sideways.
	b.do(chromedp.EmulateViewport(390, 844))
	for _, page := range []struct{ path, ready, shot string }{
		{"/flows", "#flows-table", "phone-flows.png"},
		{"/flows/chatbot-leads/edit", "#builder", "phone-builder.png"},
		{"/connections", "#connections-table", "phone-connections.png"},
		{"/runs", "#runs-table", "phone-runs.png"},
	} {
		b.open(page.path)
		b.visible(page.ready)
		over := brEval[string](b, `(() => {
			const w = document.documentElement.clientWidth;
			if (document.documentElement.scrollWidth <= w) return "";
			const wide = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > w + 1)
				.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""));
			return document.documentElement.scrollWidth + " > " + w + ": " + wide.join(", ");
		})()`)
		if over != "" {
			j.phone = append(j.phone, fmt.Sprintf("%s at 390 px scrolls sideways: %s", page.path, over))
		}
		j.screenshot(page.shot)
	}
	b.do(chromedp.EmulateViewport(brWidth, brHeight))
	b.noScriptRan("the journey")

	j.finish()
}

// finish writes the counts down and fails on any code the user had to
// write. While features of issue 11 built beside this journey are
// missing, the journey cannot be finished without code: the test then
// says exactly what is missing and what failed for it, and skips
// (everything that does not depend on them was asserted above).
func (j *journey) finish() {
	t := j.t
	t.Helper()
	t.Logf("journey: %d actions; typed expressions %d %q, typed JSON %d %q, reloads %d, terminal commands %d",
		j.actions, len(j.typedExpr), j.typedExpr, len(j.typedJSON), j.typedJSON, j.reloads, j.terminal)
	if len(j.typedJSON) > 0 || j.reloads > 0 || j.terminal > 0 {
		t.Errorf("the journey needed typed JSON %q, %d reload(s), %d terminal command(s)", j.typedJSON, j.reloads, j.terminal)
	}
	if len(j.missing) > 0 {
		t.Skipf("the journey is not code-free yet; missing: %q; failing for it: %q; typed expressions: %q; pages scrolling sideways at 390 px: %q",
			j.missing, j.waiting, j.typedExpr, j.phone)
	}
	if len(j.typedExpr) > 0 {
		t.Errorf("the journey needed typed expressions %q", j.typedExpr)
	}
	for _, p := range j.phone {
		t.Error(p)
	}
}

// newConnection creates a connection from inside a step with the
// "+ New connection" dialog and checks the step's field selects it.
func (j *journey) newConnection(selectID, typ, label, token, base, wantName string) {
	j.t.Helper()
	j.actions++
	j.b.clickFor("#"+selectID+"-new-connection", "#connection-dialog")
	if got := j.b.value("#cd-type"); got != typ {
		j.t.Fatalf("the dialog offers type %q, want %q", got, typ)
	}
	j.typ("#cd-label", label)
	j.typ("#cd-"+typ+"-token", token)
	// The fake server stands in for the service (an advanced field a
	// real user leaves empty), under the folded "Advanced": open it, as
	// a click on it does.
	j.actions++
	j.b.do(brEvalVoid(fmt.Sprintf(`(() => { const d = document.getElementById(%q).closest("details"); if (d) d.open = true; })()`, "cd-"+typ+"-base_url")))
	j.typ("#cd-"+typ+"-base_url", base)
	j.click("#cd-save")
	j.b.gone("#connection-dialog[open]")
	if got := j.b.value("#" + selectID); got != wantName {
		j.t.Fatalf("after saving the dialog the step's connection is %q, want %q", got, wantName)
	}
}

// addInBranch opens the branch's "Add a step here" and adds a step,
// waiting for one of its fields.
func (j *journey) addInBranch(branch, connector, ready string) {
	j.t.Helper()
	if !brEval[bool](j.b, fmt.Sprintf(`document.getElementById(%q).closest("details").open`, "add-"+branch)) {
		j.click("#add-" + branch)
	}
	// Bring the palette to the middle of the screen first: a click near
	// an edge can land on what the page scrolled there meanwhile.
	j.b.do(brEvalVoid(fmt.Sprintf(`document.getElementById(%q).scrollIntoView({block: "center"})`, "add-"+branch+"-"+connector)))
	j.click("#add-" + branch + "-" + connector)
	j.b.visible(ready)
	j.stillSame("adding " + connector)
}

// conditionBuilder fills one row of the condition builder.
// A new branch's condition has one empty row (ids of docs/ui.md); each
// choice is answered by the page before the next.
func (j *journey) conditionBuilder(id, field, op, value string) {
	j.t.Helper()
	j.b.settled()
	j.choose("#"+id+"-r-0-field", field)
	j.b.settled()
	j.choose("#"+id+"-r-0-op", op)
	j.b.settled()
	j.typ("#"+id+"-r-0-value", value)
	j.b.do(brEvalVoid(fmt.Sprintf(`document.getElementById(%q).blur()`, id+"-r-0-value")))
	j.b.settled()
	j.b.waitText("#"+id+"-r-0-result", "true for the sample")
}

// schedulePicker picks "on weekdays at 09:00" in Europe/Berlin: the time
// starts at 09:00, the zone at the browser's, replaced by typing a city.
func (j *journey) schedulePicker() {
	j.t.Helper()
	j.b.settled()
	j.choose("#trigger-schedule-mode", "weekdays")
	j.b.settled()
	if got := j.b.value("#trigger-schedule-time"); got != "09:00" {
		j.t.Errorf("the time starts as %q", got)
	}
	j.b.do(chromedp.Clear(chromedp.CSS("#trigger-timezone")))
	j.typ("#trigger-timezone", "Europe/Berlin")
	j.b.waitText("#schedule-preview", "Next runs (Europe/Berlin)")
	j.b.settled()
}

// screenshot saves what the browser shows into docs/screenshots/ (the
// checked-in set) when SWITCHYARD_SHOTS is set, else into current/.
func (j *journey) screenshot(name string) {
	j.t.Helper()
	path := j.b.screenshot(name)
	if os.Getenv("SWITCHYARD_SHOTS") == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(journeyShots, name), data, 0o644)
	}
	if err != nil {
		j.t.Fatal(err)
	}
}
