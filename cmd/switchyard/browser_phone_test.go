package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// A realistic flow for layout tests: a long name, a long URL, a switch
// with branches, a step after it.
func phoneFlow(recURL string) string {
	return fmt.Sprintf(`{"id": "chatbot-leads-to-hubspot-and-the-sales-channel-with-a-long-id", "enabled": true,
	  "name": "Chatbot leads from the website's pricing page to HubSpot and the sales channel on Slack",
	  "description": "Qualified chatbot leads become HubSpot contacts; hot ones are announced.",
	  "trigger": {"type": "webhook", "path": "chatbot/leads/from-the-pricing-page-of-the-website-and-the-landing-pages", "dedupe": "trigger.body.conversation_id"},
	  "steps": [
	    {"id": "normalise", "name": "Clean up the lead's e-mail address and company name", "use": "data.set",
	     "with": {"email": "{{ lower(trigger.body.email) }}", "company": "{{ trigger.body.company ?? '' }}"}},
	    {"id": "route", "name": "How hot is the lead?", "switch": [
	      {"when": "trigger.body.score >= 70", "steps": [
	        {"id": "crm", "name": "Send the hot lead to the CRM intake endpoint", "use": "http.request",
	         "with": {"method": "POST", "url": %q, "body": {"email": "{{ steps.normalise.output.email }}", "score": "{{ trigger.body.score }}"}}},
	        {"id": "hot_note", "use": "data.set", "with": {"note": "hot"}}]},
	      {"when": "trigger.body.score >= 30", "steps": [{"id": "warm_note", "name": "Mark it warm for the nurture sequence", "use": "data.set", "with": {"note": "warm"}}]},
	      {"default": true, "steps": [{"id": "cold_note", "use": "data.set", "with": {"note": "cold"}}]}
	    ]},
	    {"id": "wrap_up", "name": "Wrap up", "use": "data.set", "with": {"done": true}}
	  ]}`, recURL+"/crm/intake/v3/leads/from-chatbot/"+strings.Repeat("segment-", 12)+"end?source=pricing-page&campaign=spring")
}

// bigLead is a payload with long unbroken values and many fields.
func bigLead() string {
	var b strings.Builder
	b.WriteString(`{"email": "Someone.With.A.Very.Long.Name.Indeed@an-extremely-long-company-domain-name.example.com", "score": 85, "company": "ACME",`)
	b.WriteString(`"conversation_id": "conv_` + strings.Repeat("x", 120) + `", "transcript": [`)
	for i := range 60 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"turn": %d, "text": "%s"}`, i, strings.Repeat("word", 40))
	}
	b.WriteString(`]}`)
	return b.String()
}

// overflow reports how far the page scrolls sideways (scrollWidth beyond
// innerWidth) and the widest elements that stick out, for the message.
const overflowJS = `(() => {
  const w = window.innerWidth, sw = document.scrollingElement.scrollWidth;
  const out = [];
  if (sw > w) {
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.right > w + 1 && r.width > 0) {
        // Name the outermost element that sticks out, not its children.
        const pr = el.parentElement.getBoundingClientRect();
        if (el.parentElement === document.body || pr.right <= w + 1) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && el.className.baseVal === undefined ? "." + String(el.className).split(" ").join(".") : "") + " right=" + Math.round(r.right));
      }
      if (out.length >= 8) break;
    }
  }
  return JSON.stringify({w, sw, out});
})()`

// phoneNavCurrentInView reports whether the navigation's current link lies
// wholly inside the navigation's visible box.
const phoneNavCurrentInView = `(() => {
  const nav = document.querySelector(".topbar nav"), cur = nav.querySelector('[aria-current="page"]');
  const n = nav.getBoundingClientRect(), c = cur.getBoundingClientRect();
  return c.left >= n.left - 1 && c.right <= n.right + 1;
})()`

// TestBrowserPhoneNoSideScroll: at 390 px wide no page scrolls sideways,
// with a flow of long names and URLs and a run with a big payload; on the
// flows list the enabled switch and the actions are on screen. It also
// saves the screenshots of the diagram at desktop and phone widths.
func TestBrowserPhoneNoSideScroll(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		return 200, `{"id":"contact-1","status":"created"}`
	})
	in.mustAPI(201, "POST", "/api/flows", phoneFlow(rec.url))
	id := "chatbot-leads-to-hubspot-and-the-sales-channel-with-a-long-id"
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "hubspot-main-account-for-the-sales-team-in-europe", "type": "http_bearer",
		"values": map[string]string{"token": "pat-eu1-" + strings.Repeat("0123456789", 6)}})
	// A flow that refused a request: its page shows the refusals table.
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "inbound_token", "type": "secret", "values": map[string]string{"value": "s3cret"}})
	in.mustAPI(201, "POST", "/api/flows", `{"id": "guarded-inbound-webhook-with-a-long-name", "name": "Guarded", "enabled": true,
	  "trigger": {"type": "webhook", "path": "guarded", "verify": {"scheme": "token", "secret": "inbound_token", "header": "X-Token"}},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)
	if resp, _, err := in.hook("guarded", "application/json", []byte(`{"a":"`+strings.Repeat("y", 300)+`"}`)); err != nil || resp.StatusCode != 401 {
		t.Fatalf("unsigned request to the guarded flow: %v %v", resp, err)
	}
	run := in.hookJSON("chatbot/leads/from-the-pricing-page-of-the-website-and-the-landing-pages", bigLead())
	if rd := in.waitRun(run); rd.Status != "succeeded" {
		t.Fatalf("run %s: %s", run, rd.Status)
	}

	// A long key and value in the flow's data store namespace.
	in.mustAPI(200, "PUT", "/api/store/"+id+"/conversation%3A"+strings.Repeat("0123456789", 8), map[string]any{
		"value": map[string]any{"last_message": strings.Repeat("a long message without spaces ", 3) + strings.Repeat("x", 120), "count": 3}})
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	// Desktop pictures of the diagram.
	b.open("/flows/" + id + "/edit")
	b.visible("#flow-diagram")
	b.screenshot("builder-diagram.png")
	// A box is a link to its step's form.
	b.click("#flow-diagram-1-b0-0")
	if loc := b.location(); !strings.HasSuffix(loc, "#steps-1-switch-0-steps-0") {
		t.Errorf("clicking the first box of branch 1 went to %s", loc)
	}
	if !brEval[bool](b, `(() => { const r = document.getElementById("steps-1-switch-0-steps-0").getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; })()`) {
		t.Error("the step's form is not in view after clicking its box")
	}
	b.do(brEvalVoid(`window.scrollTo(0, document.getElementById("steps-1").getBoundingClientRect().top + window.scrollY - 16)`))
	b.screenshot("builder-steps.png")
	b.open("/runs/" + run)
	b.visible("#run-diagram")
	b.screenshot("run-diagram.png")

	b.do(chromedp.EmulateViewport(390, 844))
	pages := []struct{ path, ready string }{
		{"/flows", "#flows-table"},
		{"/flows/new", "#builder"},
		{"/flows/" + id + "/edit", "#flow-diagram"},
		{"/flows/guarded-inbound-webhook-with-a-long-name/edit", "#refusals-table"},
		{"/connections", "#main"},
		{"/tokens", "#main"},
		{"/connections?type=hubspot", "#main"},
		{"/flows/" + id + "/delete", "#confirm-delete"},
		{"/runs", "#runs-table"},
		{"/runs/" + run, "#run-diagram"},
		{"/store", "#store-namespaces"},
		{"/store/" + id, "#store-entries"},
	}
	for _, pg := range pages {
		b.open(pg.path)
		b.visible(pg.ready)
		got := brEval[string](b, overflowJS)
		if !strings.Contains(got, `"out":[]`) || !phoneFits(got) {
			t.Errorf("%s scrolls sideways at 390 px: %s", pg.path, got)
		}
	}

	// The flows list: the switch and every action are on screen.
	b.open("/flows")
	for _, sel := range []string{"#toggle-" + id, "#edit-" + id, "#duplicate-" + id, "#delete-" + id} {
		right := brEval[float64](b, fmt.Sprintf(`document.querySelector(%q).getBoundingClientRect().right`, sel))
		if right > 390 {
			t.Errorf("%s ends at %.0f px, off a 390 px screen", sel, right)
		}
	}
	b.screenshot("phone-flows.png")

	// The navigation is one row that scrolls sideways, under the brand and
	// the user; on a page far along it the current link is in view, and
	// every link can be reached.
	for _, path := range []string{"/flows", "/settings"} {
		b.open(path)
		b.visible("#main")
		if h := brEval[float64](b, `document.querySelector(".topbar").getBoundingClientRect().height`); h > 110 {
			t.Errorf("%s at 390 px: the top bar is %.0f px tall, want one row of links under the brand (≤ 110)", path, h)
		}
		if !brEval[bool](b, phoneNavCurrentInView) {
			t.Errorf("%s at 390 px: the current page's link is scrolled out of the navigation", path)
		}
	}
	b.screenshot("phone-settings.png")
	b.click(`.topbar nav a[href="/refused"]`)
	b.visible("#main")
	if loc := b.location(); !strings.HasSuffix(loc, "/refused") {
		t.Errorf("the Refused link in the phone navigation went to %s", loc)
	}
	b.open("/flows/new")
	b.visible("#templates")
	b.screenshot("phone-gallery.png")
	b.open("/flows/" + id + "/edit")
	b.visible("#flow-diagram")
	b.screenshot("phone-builder.png")
	b.do(brEvalVoid(`window.scrollTo(0, document.getElementById("steps-1").getBoundingClientRect().top + window.scrollY - 16)`))
	b.screenshot("phone-builder-steps.png")
	b.open("/runs/" + run)
	b.visible("#run-diagram")
	b.screenshot("phone-run.png")
	b.open("/runs")
	b.visible("#runs-table")
	b.screenshot("phone-runs.png")
	// On a phone a row is a card whose cells carry their column's name:
	// every named column's, and the right one (the runs' labels once sat
	// one cell off after the checkbox column came first).
	for _, table := range []string{"/runs #runs-table", "/flows #flows-table"} {
		path, sel, _ := strings.Cut(table, " ")
		b.open(path)
		b.visible(sel)
		if bad := brEval[[]string](b, fmt.Sprintf(phoneLabelsJS, sel)); len(bad) > 0 {
			t.Errorf("%s at 390 px: cells labelled wrong: %v", table, bad)
		}
	}

	// Times read in the browser's zone, with the zone written and UTC on
	// hover.
	brRun(b, "time zone", func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
		return chromedp.Void{}, err
	})
	b.open("/runs")
	b.visible("#run-" + run + " time")
	shown := b.text("#run-" + run + " time")
	hover := brEval[string](b, fmt.Sprintf(`document.querySelector("#run-%s time").title`, run))
	if !strings.Contains(shown, "GMT+9") && !strings.Contains(shown, "JST") {
		t.Errorf("run time shown as %q, want Tokyo time with its zone", shown)
	}
	if !strings.HasSuffix(hover, " UTC") {
		t.Errorf("run time's hover text %q, want the UTC time", hover)
	}
	b.noScriptRan("phone pages")
}

// phoneFits reads overflowJS's answer: scrollWidth within innerWidth.
func phoneFits(js string) bool {
	var w, sw int
	if _, err := fmt.Sscanf(js, `{"w":%d,"sw":%d`, &w, &sw); err != nil {
		return false
	}
	return sw <= w
}

// TestBrowserTemplateGallery: "New flow" offers templates; choosing one
// opens it in the builder, unsaved, with its connection settings marked;
// choosing the connections and saving stores it.
func TestBrowserTemplateGallery(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "sales_hubspot", "type": "hubspot", "values": map[string]string{"token": "pat-eu1-test"}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "sales_slack", "type": "slack", "values": map[string]string{"token": "xoxb-test"}})
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	b.click("#new-flow")
	b.visible("#templates")
	b.screenshot("gallery.png")
	b.click("#use-template-chatbot-lead-to-hubspot-slack")
	b.visible("#to-fill")
	if got := b.value("#name"); got != "Chatbot lead to HubSpot and Slack" {
		t.Errorf("template name %q", got)
	}
	// The HubSpot connection is marked (its template name does not
	// exist here); the Slack one is named like ours, so it is kept.
	if !brEval[bool](b, `document.getElementById("steps-0-with-connection").closest(".field").classList.contains("to-fill-field")`) {
		t.Error("the HubSpot connection field is not marked to fill in")
	}
	if got := b.value("#steps-1-with-connection"); got != "sales_slack" {
		t.Errorf("the Slack connection the user has: %q", got)
	}
	b.click("#to-fill a")
	b.screenshot("template-to-fill.png")
	b.choose("#steps-0-with-connection", "sales_hubspot")
	b.click("#save-flow")
	b.visible("#flash")
	if loc := b.location(); !strings.HasSuffix(loc, "/flows/chatbot-lead-to-hubspot-and-slack/edit?flash=saved") {
		t.Errorf("after save at %s", loc)
	}
	b.noScriptRan("template gallery")
}

// TestBrowserBuilderMechanics: the flow id follows the name; a new step
// is scrolled to with its first field focused; "Add a step here" stays
// open; steps move into a branch with "Move to…" and out of it by drag;
// leaving with unsaved changes asks first, and not after Save.
func TestBrowserBuilderMechanics(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	b.click("#new-flow")
	b.visible("#builder")
	b.do(brMark("no-post"))
	b.typeInto("#name", "Lead router")
	if got := b.value("#id"); got != "lead-router" {
		t.Errorf("id while typing the name: %q", got)
	}
	if !brEval[bool](b, `window.__switchyardMark === "no-post"`) {
		t.Error("the page reloaded while typing the name")
	}
	b.typeInto("#trigger-path", "leads")

	b.click("#add-steps-http-request")
	b.visible("#steps-0-with-url")
	waitFor(t, func() bool { return brEval[string](b, `document.activeElement.id`) != "add-steps-http-request" })
	if focused := brEval[string](b, `document.activeElement.id`); focused != "steps-0-with-method" {
		t.Errorf("after adding a step the focus is on %q, not its first setting", focused)
	}
	b.click("#add-steps-switch")
	b.visible("#steps-1-switch-0-when-cond")
	// (The page scrolls once htmx has settled the swap.)
	waitFor(t, func() bool {
		return brEval[bool](b, `(() => { const r = document.getElementById("steps-1").getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; })()`)
	})
	b.click("#add-steps-1-switch-0-steps")
	b.click("#add-steps-1-switch-0-steps-data-set")
	b.visible("#steps-1-switch-0-steps-0-id")
	waitFor(t, func() bool {
		return brEval[bool](b, `document.getElementById("add-steps-1-switch-0-steps").parentElement.open`)
	})

	// Move the HTTP step into the branch with the menu.
	b.do(brEvalVoid(`(() => { const s = document.getElementById("steps-0-move");
		s.value = "move:steps.0:steps.1.switch.0.steps"; s.dispatchEvent(new Event("change", {bubbles: true})); })()`))
	b.visible("#steps-0-switch-0-steps-1-with-url")
	if got := b.value("#steps-0-switch-0-steps-1-id"); !strings.HasPrefix(got, "request") {
		t.Errorf("second step of branch 1 after the move: %q", got)
	}
	// Drag it out again, before the switch.
	b.do(brEvalVoid(`(() => {
		const dt = new DataTransfer();
		const handle = document.querySelector('#steps-0-switch-0-steps-1 .drag-handle');
		const target = document.getElementById("steps-0");
		const r = target.getBoundingClientRect();
		handle.dispatchEvent(new DragEvent("dragstart", {bubbles: true, dataTransfer: dt}));
		target.dispatchEvent(new DragEvent("dragover", {bubbles: true, cancelable: true, dataTransfer: dt, clientY: r.top + 5}));
		target.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: dt, clientY: r.top + 5}));
	})()`))
	b.visible("#steps-1-switch-0-steps-0-id")
	b.gone("#steps-1-switch-0-steps-1-id")
	if got := b.value("#steps-0-id"); !strings.HasPrefix(got, "request") {
		t.Errorf("first step after dragging it out: %q", got)
	}

	// Leaving asks first while there are unsaved changes.
	b.click(`.topbar a[href="/runs"]`)
	waitFor(t, func() bool { return len(b.dialogList()) > 0 })
	if d := b.dialogList(); !strings.Contains(d[0], "beforeunload") {
		t.Errorf("leaving: dialogs %q", d)
	}
	if loc := b.location(); !strings.HasSuffix(loc, "/flows/new") {
		t.Errorf("the page was left at once: %s", loc)
	}
	b.typeInto("#steps-0-with-url", "http://127.0.0.1:9/leads")
	b.exprMode("steps-1-switch-0-when")
	b.typeInto("#steps-1-switch-0-when", "trigger.body.score >= 70")
	b.click("#save-flow")
	b.visible("#flash")
	b.click(`.topbar a[href="/runs"]`)
	b.visible("#runs-table")
	if d := b.dialogList(); len(d) != 1 {
		t.Errorf("dialogs after saving and leaving: %q", d)
	}
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("console: %q", p)
	}
}

// waitFor polls cond for brWait.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(brWait); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
	}
}

// phoneLabelsJS lists the cells of the first row of table %q whose label
// (their ::before) is not their column's header; the first column is the
// card's title and hidden headers need none.
const phoneLabelsJS = `(() => {
	const t = document.querySelector(%q);
	const heads = [...t.querySelectorAll("thead th")].map(th => th.querySelector(".visually-hidden") ? "" : th.textContent.trim());
	const bad = [];
	[...t.querySelector("tbody tr").children].forEach((td, i) => {
		const c = getComputedStyle(td, "::before").content;
		const label = (c === "none" || c === "normal") ? "" : c.replace(/^"|"$/g, "");
		if (i > 0 && heads[i] && label !== heads[i]) bad.push(i + 1 + ": " + heads[i] + " labelled " + JSON.stringify(label));
	});
	return bad;
})()`
