package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserRefusedAndAudit plays what a user does after "my chatbot's
// lead never arrived": the flows list shows the flow's refused requests,
// the flow page and the Refused page list them with what was sent
// (credentials hidden); then the audit trail shows the failed and the
// successful sign-in and the flow turned off in the browser, and filters
// them.
func TestBrowserRefusedAndAudit(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "bot_token", "type": "secret", "values": map[string]string{"value": "the-real-token"}})
	in.mustAPI(201, "POST", "/api/flows", `{"id": "chatbot-leads", "name": "Chatbot leads", "enabled": true,
	  "trigger": {"type": "webhook", "path": "chatbot", "verify": {"scheme": "token", "secret": "bot_token", "header": "X-Bot-Token"}},
	  "steps": [{"id": "s", "use": "data.set", "with": {"x": 1}}]}`)
	// The chatbot sends a truncated body, then a wrong token; a scanner
	// tries a path nobody listens on.
	jsonCT := map[string]string{"Content-Type": "application/json", "X-Bot-Token": "the-real-token"}
	if code := in.rawHook("POST", "/hooks/chatbot", jsonCT, `{"email": "ada@example.com", "api_key": "k-123456", "name": "Ada`); code != 400 {
		t.Fatalf("truncated body: %d", code)
	}
	if code := in.rawHook("POST", "/hooks/chatbot", map[string]string{"Content-Type": "application/json", "X-Bot-Token": "guessed"}, `{"email": "bob@example.com"}`); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code := in.rawHook("POST", "/hooks/wp-login.php", map[string]string{"X-Probe": `<img src=x onerror=alert(1)>`}, ""); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
	// Listing writes the pending batch, so the pages below show all three.
	in.mustAPI(200, "GET", "/api/refusals", nil)

	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	b.waitText("#refused-count-chatbot-leads", "2 refused")
	b.click("#refused-count-chatbot-leads")
	b.visible("#refusals-table")
	if n := brEval[int](b, `document.querySelectorAll("#refusals .refusal-row").length`); n != 2 {
		t.Fatalf("the flow page lists %d refused requests, want 2", n)
	}
	// The newest first: the wrong token, then the truncated body, whose
	// excerpt shows once its row is opened, its key hidden.
	if got := b.text("#refusals .refusal-row:nth-child(1) .refusal-kind"); got != "Signature or token failed" {
		t.Errorf("first row: %q", got)
	}
	if got := b.text("#refusals .refusal-row:nth-child(2) .refusal-kind"); got != "Malformed body" {
		t.Errorf("second row: %q", got)
	}
	b.click("#refusals .refusal-row:nth-child(2) summary")
	b.visible("#refusals .refusal-row:nth-child(2) .refusal-body")
	body := b.text("#refusals .refusal-row:nth-child(2) .refusal-body")
	if !strings.Contains(body, "ada@example.com") || !strings.Contains(body, `"api_key": "[redacted]"`) || strings.Contains(body, "k-123456") {
		t.Errorf("body excerpt: %q", body)
	}
	headers := b.text("#refusals .refusal-row:nth-child(2) .refusal-headers")
	if !strings.Contains(headers, "x-bot-token: [redacted]") || strings.Contains(headers, "the-real-token") {
		t.Errorf("headers: %q", headers)
	}

	b.click(`nav a[href="/refused"]`)
	b.visible("#refusals-table")
	if n := brEval[int](b, `document.querySelectorAll(".refusal-row").length`); n != 3 {
		t.Fatalf("the Refused page lists %d, want 3", n)
	}
	if got := b.text(".refusal-row:nth-child(1) .refusal-flow"); got != "none" {
		t.Errorf("the unknown path's flow column: %q", got)
	}
	if got := b.text(".refusal-row:nth-child(1) .mono"); got != "POST /hooks/wp-login.php" {
		t.Errorf("the unknown path's request: %q", got)
	}
	if page := brEval[string](b, `document.body.innerHTML`); strings.Contains(page, "the-real-token") || strings.Contains(page, "k-123456") {
		t.Error("the Refused page shows a credential")
	}
	b.noScriptRan("the Refused page")

	// A wrong password (the browser notes its 401 in the console), then
	// the right one; the flow turned off.
	b.click("#logout")
	b.visible("#login-form")
	b.typeInto("#login-name", brUser)
	b.typeInto("#login-password", "wrong password")
	b.click("#login-submit")
	b.visible("#login-error")
	// The form keeps the name.
	b.typeInto("#login-password", brPassword)
	b.click("#login-submit")
	b.visible("#toggle-chatbot-leads")
	b.click("#toggle-chatbot-leads")
	b.do(chromedp.WaitVisible(`#toggle-chatbot-leads[aria-checked="false"]`))

	b.click(`nav a[href="/settings/audit"]`)
	b.visible("#audit-table")
	actions := func() []string {
		return brEval[[]string](b, `Array.from(document.querySelectorAll(".audit-row")).map(r => r.querySelector(".audit-action").textContent + " " + r.querySelector(".audit-actor").textContent + " " + r.querySelector(".audit-target").textContent)`)
	}
	want := []string{"flow.disable owner chatbot-leads", "login.success owner —", "login.failure owner —", "login.success owner —",
		"flow.create e2e (API token) chatbot-leads", "connection.save e2e (API token) bot_token", "token.create token create (command line) e2e"}
	if got := actions(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit page:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b.choose("#audit-action", "login")
	b.click("#audit-filter")
	b.do(chromedp.WaitNotPresent(`.audit-row[data-action="flow.disable"]`))
	if got := actions(); len(got) != 3 {
		t.Errorf("sign-ins only: %q", got)
	}
	// The API says the same as the page.
	var p struct {
		Entries []struct {
			Action  string `json:"action"`
			Address string `json:"address"`
		} `json:"entries"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/audit?action=flow.disable", nil), &p)
	if len(p.Entries) != 1 || p.Entries[0].Address != "127.0.0.1" {
		t.Errorf("GET /api/audit?action=flow.disable: %+v", p)
	}
}
