package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fakeSlack stands in for the Slack Web API: auth.test and
// chat.postMessage as Slack's docs give them (a POST with the bot token as
// a bearer token; answers with "ok").
type fakeSlack struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []slackReq
}

type slackReq struct {
	Method, Path, Auth string
	Body               map[string]any
}

func newFakeSlack(t *testing.T, token string) *fakeSlack {
	f := &fakeSlack{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		req := slackReq{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
		json.Unmarshal(raw, &req.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if req.Auth != "Bearer "+token {
			io.WriteString(w, `{"ok": false, "error": "invalid_auth"}`)
			return
		}
		switch r.URL.Path {
		case "/api/auth.test":
			io.WriteString(w, `{"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "switchyard", "team_id": "T1", "user_id": "U1"}`)
		case "/api/chat.postMessage":
			io.WriteString(w, `{"ok": true, "channel": "C123", "ts": "1700000000.000100", "message": {"text": "ok"}}`)
		default:
			io.WriteString(w, `{"ok": false, "error": "unknown_method"}`)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSlack) all() []slackReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slackReq(nil), f.reqs...)
}

// TestBrowserConnectionDialogAndRunNow: a user adds a Slack step to a
// manual flow, creates its connection from inside the step (a mistake
// keeps what was typed), tests it, saves the flow and clicks Run now, in
// the builder and in the flows list; a connection created elsewhere shows
// up in the step without a reload. The fake Slack sees exactly the calls.
//
// Stable ids: #steps-0-with-connection-new-connection opens the dialog;
// #cd-type, #cd-label, #cd-name, #cd-<type>-<field>, #cd-test,
// #cd-test-result, #cd-save; #run-now, #run-now-message, .run-now-link;
// #run-now-<flow id> in the flows list.
func TestBrowserConnectionDialogAndRunNow(t *testing.T) {
	needChromium(t)
	const token = "xoxb-test-secret-123"
	slack := newFakeSlack(t, token)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	b.click("#new-flow")
	b.visible("#builder")
	b.typeInto("#name", "Tell sales")
	b.choose("#trigger-type", "manual")
	b.do(brEvalVoid(`document.querySelector('#trigger-type').dispatchEvent(new Event('change', {bubbles: true}))`))
	b.gone("#trigger-path")
	htmxSettled(b)
	b.click("#add-steps-slack-post_message")
	b.visible("#steps-0-with-connection")
	htmxSettled(b)
	b.do(brMark("no-reload"))

	// The dialog, opened from the step's connection field.
	b.click("#steps-0-with-connection-new-connection")
	b.visible("#connection-dialog")
	if got := b.value("#cd-type"); got != "slack" {
		t.Errorf("dialog type %q, want the step's type slack", got)
	}
	b.typeInto("#cd-label", "Slack main")
	b.waitText("#cd-name", "slack_main")
	b.click("#cd-advanced-slack > summary")
	b.typeInto("#cd-slack-base_url", slack.URL+"/api")
	// Saving without the token: the error lands on the token field and
	// everything typed stays.
	b.click("#cd-save")
	b.waitText("#cd-slack-token-error", "required")
	if got := b.value("#cd-slack-base_url"); got != slack.URL+"/api" {
		t.Errorf("base URL typed before the error: %q", got)
	}
	if got := b.value("#cd-label"); got != "Slack main" {
		t.Errorf("name typed before the error: %q", got)
	}
	b.typeInto("#cd-slack-token", token)
	b.click("#cd-test")
	b.waitText("#cd-test-result", "Works: signed in to Slack workspace Acme as switchyard.")
	b.screenshot("connection-dialog.png")
	b.click("#cd-save")
	b.gone("#connection-dialog[open]")
	if got := b.value("#steps-0-with-connection"); got != "slack_main" {
		t.Fatalf("the new connection is not selected in the step: %q", got)
	}
	b.click("#steps-0-with-connection-test-connection")
	b.waitText("#steps-0-with-connection-test-result", "Works")

	// A connection created elsewhere appears when the field gets focus.
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "slack_backup", "type": "slack",
		"values": map[string]string{"token": "xoxb-other", "base_url": slack.URL + "/api"}})
	b.do(brEvalVoid(`document.querySelector('#steps-0-with-connection').focus()`))
	b.waitText("#steps-0-with-connection", "slack_backup")
	if got := b.value("#steps-0-with-connection"); got != "slack_main" {
		t.Errorf("refreshing the options changed the choice to %q", got)
	}
	if !brEval[bool](b, `window.__switchyardMark === "no-reload"`) {
		t.Fatal("the builder reloaded while a connection was created")
	}

	b.typeInto("#steps-0-with-channel", "#sales")
	b.typeInto("#steps-0-with-text", "Hello from Run now")
	if !strings.Contains(b.text("#steps-0-retry-summary"), "tried up to 3 times") {
		t.Errorf("retry summary: %q", b.text("#steps-0-retry-summary"))
	}
	// Changing a retry setting updates what the step says it will do.
	b.click("#steps-0-retry-summary + details > summary")
	if got := brEval[string](b, `document.querySelector('#steps-0-retry-attempts').placeholder`); got != "3" {
		t.Errorf("attempts placeholder %q, want the default 3", got)
	}
	b.typeInto("#steps-0-retry-attempts", "5\t")
	b.waitText("#steps-0-retry-summary", "tried up to 5 times, waiting about 2 s, then 4 s, then 8 s, then 16 s")
	htmxSettled(b)
	if got := b.value("#steps-0-with-connection"); got != "slack_main" {
		t.Fatalf("the refresh lost the connection: %q", got)
	}
	b.visible("#steps-0-with-connection-test-connection") // shown again after the swap
	b.click("#save-flow")
	b.visible("#flash")
	b.visible("#run-now")

	// Run now in the builder: a real run, linked.
	b.click("#run-now")
	b.waitText("#run-now-message", "Started a run")
	b.do(brEvalVoid(`document.querySelector('#run-now-panel').scrollIntoView({block: "center"})`))
	b.screenshot("run-now.png")
	runID := brEval[string](b, `document.querySelector('.run-now-link').dataset.runId`)
	if r := in.waitRun(runID); r.Status != "succeeded" {
		t.Fatalf("run %s: %s", runID, r.Status)
	}
	posts := func() []slackReq {
		var out []slackReq
		for _, r := range slack.all() {
			if r.Path == "/api/chat.postMessage" {
				out = append(out, r)
			}
		}
		return out
	}
	got := posts()
	if len(got) != 1 || got[0].Method != "POST" || got[0].Auth != "Bearer "+token ||
		got[0].Body["channel"] != "#sales" || got[0].Body["text"] != "Hello from Run now" {
		t.Fatalf("Slack got %+v", got)
	}
	tests := 0
	for _, r := range slack.all() {
		if r.Path == "/api/auth.test" && r.Method == "POST" && r.Auth == "Bearer "+token {
			tests++
		}
	}
	if tests != 2 {
		t.Errorf("auth.test calls with the token: %d, want 2 (dialog and step)", tests)
	}

	// Run now in the flows list opens the new run.
	b.open("/flows")
	b.click("#run-now-tell-sales")
	b.visible("#flash")
	if loc := b.location(); !strings.Contains(loc, "/runs/run_") {
		t.Fatalf("after Run now in the list: %s", loc)
	}
	if n := len(posts()); n < 1 {
		t.Fatal("no post")
	}
	// On a phone the dialog fits the screen: nothing in it scrolls sideways.
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("/flows/tell-sales/edit")
	b.click("#steps-0-with-connection-new-connection")
	b.visible("#connection-dialog")
	if over := brEval[string](b, `(() => {
		const d = document.querySelector('#connection-dialog'), r = d.getBoundingClientRect();
		const wide = Array.from(d.querySelectorAll('*')).filter(e => e.getBoundingClientRect().right > r.right + 1).map(e => e.id || e.tagName);
		return (r.left < 0 || r.right > window.innerWidth || d.scrollWidth > d.clientWidth ? 'dialog ' + r.left + '..' + r.right : '') + wide.join(',');
	})()`); over != "" {
		t.Errorf("the dialog overflows at 390 px: %s", over)
	}
	b.screenshot("connection-dialog-phone.png")
	b.click("#cd-cancel")
	// Nor do the controls this test added to the builder.
	if over := brEval[string](b, `Array.from(document.querySelectorAll('.conn-tools, .conn-tools *, .retry-summary, #run-now-panel, #run-now-panel *'))
		.filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.id || e.className || e.tagName).join(',')`); over != "" {
		t.Errorf("wider than a 390 px screen: %s", over)
	}
	b.noScriptRan("connection dialog and run now")
	page := brEval[string](b, `document.documentElement.outerHTML`)
	if strings.Contains(page, token) {
		t.Error("a page shows the token")
	}
}

// htmxSettled waits until no htmx request is under way and the last swap
// has settled, so a click lands on the page as it now is rather than on
// an element being replaced or moved.
func htmxSettled(b *browser) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, brWait)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`() => !document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping")`,
		chromedp.WithPollingTimeout(0), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.t.Fatalf("browser: htmx never settled: %v", err)
	}
}
