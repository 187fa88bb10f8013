package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestBrowserPollPicksItemsAndKey builds, in the browser, a flow that
// polls a helpdesk API without webhooks and tells a chat service of each
// new ticket. The items (where the tickets are in the response) and the
// item key (what tells them apart) are picked from what "Fetch sample"
// found, not typed as expressions; the step's body is filled from Insert
// data. Saved, the first poll records the two tickets there; a third
// ticket appears, and the next poll sends just that one.
func TestBrowserPollPicksItemsAndKey(t *testing.T) {
	needChromium(t)
	var tickets atomic.Value
	tickets.Store(`[{"ticket_id": 7, "subject": "Printer on fire"}, {"ticket_id": 8, "subject": "Coffee machine"}]`)
	helpdesk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"page": 1, "tickets": ` + tickets.Load().(string) + `}`))
	}))
	t.Cleanup(helpdesk.Close)
	chat := newFake(t, `{"ok":true}`)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	j := &journey{t: t, b: b}
	b.setUp(brUser, brPassword)

	j.click("#new-flow")
	b.visible("#builder")
	j.typ("#name", "New tickets")
	j.choose("#trigger-type", "poll")
	b.visible("#trigger-request-url")
	j.schedulePicker()
	j.typ("#trigger-request-url", helpdesk.URL+"/tickets")
	j.click("#fetch-sample")
	b.waitText("#fetch-pick-title", "Where are the items?")
	b.waitText("#fetch-pick", "response.body.tickets (2 items)")
	j.click("#fetch-pick-0")
	b.waitText("#fetch-pick-title", "What tells one item from another?")
	if got := b.value("#trigger-items"); got != "response.body.tickets" {
		t.Fatalf("the items field holds %q after the list was used", got)
	}
	b.waitText("#fetch-pick-0 + code", "item.ticket_id (e.g. 7)")
	b.do(brEvalVoid(`document.querySelector('#sample-fetch').scrollIntoView({block: "center"})`))
	b.screenshot("poll-pick-key.png")
	j.click("#fetch-pick-0")
	b.waitText("#fetch-count", "2 item(s)")
	if got := b.value("#trigger-key"); got != "item.ticket_id" {
		t.Fatalf("the key field holds %q after the id was used", got)
	}
	b.visible(`#refs button.ref[data-ref="trigger.body.subject"]`)
	b.do(brEvalVoid(`document.querySelector('#trigger-items').scrollIntoView({block: "start"})`))
	b.screenshot("poll-picked.png")

	j.click("#add-steps-http-request")
	b.visible("#steps-0-with-url")
	b.settled()
	j.choose("#steps-0-with-method", "POST")
	j.typ("#steps-0-with-url", chat.srv.URL+"/messages")
	j.typ("#steps-0-with-body-0-key", "text")
	j.chip("#steps-0-with-body-0-value", "trigger.body.subject")
	j.click("#save-flow")
	b.visible("#flash")
	if len(j.typedExpr) > 0 || len(j.typedJSON) > 0 {
		t.Errorf("the user had to type code: expressions %q, JSON %q", j.typedExpr, j.typedJSON)
	}

	poll := func() []string {
		var out struct {
			RunIDs []string `json:"run_ids"`
		}
		if err := json.Unmarshal(in.mustAPI(200, "POST", "/api/flows/new-tickets/poll", `{}`), &out); err != nil {
			t.Fatal(err)
		}
		return out.RunIDs
	}
	if runs := poll(); len(runs) != 0 {
		t.Fatalf("the first poll ran %d tickets; it only records what is there", len(runs))
	}
	tickets.Store(`[{"ticket_id": 9, "subject": "Wifi down"}, {"ticket_id": 7, "subject": "Printer on fire"}, {"ticket_id": 8, "subject": "Coffee machine"}]`)
	runs := poll()
	if len(runs) != 1 {
		t.Fatalf("one new ticket ran %d times", len(runs))
	}
	if rd := in.waitRun(runs[0]); rd.Status != "succeeded" {
		t.Fatalf("run %s: %s %s", runs[0], rd.Status, rd.Error)
	}
	want := []fakeReq{{Method: "POST", Path: "/messages", ContentType: "application/json", Body: map[string]any{"text": "Wifi down"}}}
	if got := chat.all(); !sameJSON(got, want) {
		t.Fatalf("the chat service received %+v, want %+v", got, want)
	}
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("console: %q", p)
	}
}
