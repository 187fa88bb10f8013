package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBrowserPauseResume plays the user's journey: give the CRM's
// connection a rate limit and the flow a limit of one run at a time with
// the forms, pause the flow from the flows list, see webhooks held (the
// count on the list and the flow page, "paused" on a run) with nothing
// reaching the service; resume from the flow page, and the service gets
// every event once, in order, no faster than the rate limit.
func TestBrowserPauseResume(t *testing.T) {
	needChromium(t)
	rec := newRecorder(t, nil)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	// The connection's rate limit, set in its form: 2 requests per second.
	b.open("/connections?type=http_bearer")
	b.typeInto("#connection-name", "crm")
	b.typeInto("#connection-token", "crm-token-1")
	b.typeInto("#connection-rate-requests", "2")
	b.choose("#connection-rate-per", "1s")
	b.click("#connection-save")
	b.visible("#connection-rate-crm")
	if got := b.text("#connection-rate-crm"); got != "2 requests per second" {
		t.Fatalf("the connections list says %q", got)
	}

	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "leads", "name": "Leads to CRM", "enabled": true,
	  "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [{"id": "crm", "use": "http.request", "with": {"url": "%s/contacts", "method": "POST", "connection": "crm", "auth": "bearer", "body": {"n": "{{ trigger.body.n }}"}}}]}`, rec.url))
	// One run at a time, set in the builder's flow settings.
	b.open("/flows/leads/edit")
	b.typeInto("#concurrency", "1")
	b.click("#save-flow")
	b.visible("#flash")
	var saved struct {
		Flow struct {
			Concurrency int `json:"concurrency"`
		} `json:"flow"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/leads", nil), &saved)
	if saved.Flow.Concurrency != 1 {
		t.Fatalf("the builder saved concurrency %d", saved.Flow.Concurrency)
	}

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
	// The third request waited for the connection's rate limit (a burst
	// of 2, then one each 500 ms).
	got := rec.all()
	if d := got[2].At.Sub(got[0].At); d < 450*time.Millisecond {
		t.Fatalf("the third request came %v after the first: the rate limit was not kept", d)
	}
	b.open("/flows")
	b.gone("#paused-leads")
}
