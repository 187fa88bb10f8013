package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBrowserPauseResume plays the user's journey: pause a flow from the
// flows list, see webhooks held (the count on the list and the flow page,
// "paused" on a run), nothing reaching the service; resume from the flow
// page, and the service gets every event once, in order (the flow runs
// one at a time, as a flow feeding a CRM would: without a limit, resumed
// runs start in order but run side by side).
func TestBrowserPauseResume(t *testing.T) {
	needChromium(t)
	rec := newRecorder(t, nil)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "leads", "name": "Leads to CRM", "enabled": true, "concurrency": 1,
	  "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [{"id": "crm", "use": "http.request", "with": {"url": "%s/contacts", "method": "POST", "body": {"n": "{{ trigger.body.n }}"}}}]}`, rec.url))

	b.open("/flows")
	b.click("#pause-leads")
	b.waitText("#paused-leads", "Paused · nothing waiting")
	b.visible("#resume-leads")

	var ids []string
	for i := range 3 {
		ids = append(ids, in.hookJSON("leads", fmt.Sprintf(`{"n": %d}`, i)))
	}
	deadline := time.Now().Add(brWait)
	for {
		b.open("/flows")
		if strings.Contains(b.text("#paused-leads"), "3 runs waiting") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flows list says %q, want 3 runs waiting", b.text("#paused-leads"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.screenshot("flows-paused.png")
	b.open("/runs/" + ids[1])
	b.waitText("#run-waiting-for", "paused")
	if n := len(rec.all()); n != 0 {
		t.Fatalf("a paused flow sent %d requests", n)
	}

	b.open("/flows/leads/edit")
	b.waitText("#hold-held", "3 runs waiting")
	b.click("#resume-leads")
	b.visible("#pause-leads")
	if loc := b.location(); !strings.HasSuffix(loc, "/flows/leads/edit") {
		t.Fatalf("after Resume the browser is at %s, want the flow page", loc)
	}
	for _, id := range ids {
		if rd := in.waitRun(id); rd.Status != "succeeded" {
			t.Fatalf("run %s: %s %s", id, rd.Status, rd.Error)
		}
	}
	if ns := rec.ns(); !slices.Equal(ns, []int{0, 1, 2}) {
		t.Fatalf("the service got %v, want each lead once in order", ns)
	}
	b.open("/flows")
	b.gone("#paused-leads")
}
