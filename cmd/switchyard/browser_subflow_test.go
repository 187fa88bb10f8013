package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeEnrich stands in for an enrichment API: GET /v1/person?email=…
// answers the company of the address.
type fakeEnrich struct {
	*httptest.Server
	mu     sync.Mutex
	emails []string
}

func newFakeEnrich(t *testing.T) *fakeEnrich {
	f := &fakeEnrich{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.emails = append(f.emails, r.Method+" "+r.URL.Path+" "+r.URL.Query().Get("email"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"company": {"name": "Analytical Engines", "employees": 12}}`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEnrich) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.emails...)
}

// TestBrowserSubFlowCall: with a callable "Enrich lead" flow and an
// error flow in place, a user builds "Lead intake" in the builder: a
// webhook trigger whose sample fills Insert data, a "Call another flow"
// step whose flow comes from a picker and whose payload is mapped in rows
// (no JSON typed), and "When this flow fails, run…". A lead posted to the
// webhook reaches the enrichment API through the called flow, the
// caller's step holds the called flow's answer, and the run pages link
// the two runs both ways.
//
// Stable ids: #steps-N-with-flow (the flow picker), #steps-N-with-payload-R-key
// / -value (payload rows), #on_failure-flow, #steps-N-calls (run page),
// #run-called-by.
func TestBrowserSubFlowCall(t *testing.T) {
	needChromium(t)
	enrich := newFakeEnrich(t)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", json.RawMessage(fmt.Sprintf(`{"id": "enrich-lead", "name": "Enrich lead", "enabled": true,
	  "trigger": {"type": "call"},
	  "steps": [{"id": "lookup", "use": "http.request", "with": {"method": "GET", "url": "%s/v1/person", "query": {"email": "{{ trigger.body.email }}"}}},
	            {"id": "answer", "use": "data.set", "with": {"company": "{{ steps.lookup.output.body.company.name }}", "email": "{{ trigger.body.email }}"}}]}`, enrich.URL)))
	in.mustAPI(201, "POST", "/api/flows", json.RawMessage(`{"id": "failure-alert", "name": "Failure alert", "enabled": true,
	  "trigger": {"type": "call"}, "steps": [{"id": "note", "use": "data.set", "with": {"failed": "{{ trigger.body.run_id }}"}}]}`))

	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	b.click("#new-flow")
	b.visible("#builder")
	b.typeInto("#name", "Lead intake")
	b.typeInto("#trigger-path", "leads")

	// The sample lead fills Insert data.
	b.click("#listen-start")
	b.visible("#listen-countdown")
	if code, body := postJSON(t, b.text("#sample-test-url"), `{"email": "ada@example.com", "company": "?"}`); code != 200 {
		t.Fatalf("sample lead: %d %s", code, body)
	}
	b.visible(`#refs button.ref[data-ref="trigger.body.email"]`)

	// The step: Call another flow, the flow from the picker.
	b.click("#add-steps-flow-call")
	b.visible("#steps-0-with-flow")
	htmxSettled(b)
	opts := brEval[string](b, `[...document.querySelectorAll('#steps-0-with-flow option')].map(o => o.value).join(',')`)
	if !strings.Contains(opts, "enrich-lead") || !strings.Contains(opts, "failure-alert") {
		t.Fatalf("flow picker offers %q", opts)
	}
	b.choose("#steps-0-with-flow", "enrich-lead")
	// The payload, as rows: a name, then a field from Insert data.
	b.typeInto("#steps-0-with-payload-0-key", "email")
	b.click("#steps-0-with-payload-0-value")
	b.click(`#refs button.ref[data-ref="trigger.body.email"]`)
	if got := b.value("#steps-0-with-payload-0-value"); !strings.Contains(got, "trigger.body.email") {
		t.Fatalf("payload row value %q", got)
	}
	// When it fails, the error flow.
	b.choose("#on_failure-flow", "failure-alert")
	b.click("#save-flow")
	b.visible("#flash")

	var saved struct {
		Flow struct {
			OnFailure struct{ Flow string } `json:"on_failure"`
			Steps     []struct {
				Use  string
				With map[string]any
			}
		} `json:"flow"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/lead-intake", nil), &saved)
	if saved.Flow.OnFailure.Flow != "failure-alert" || len(saved.Flow.Steps) != 1 || saved.Flow.Steps[0].Use != "flow.call" ||
		saved.Flow.Steps[0].With["flow"] != "enrich-lead" {
		t.Fatalf("saved flow %+v", saved.Flow)
	}

	// A lead arrives: the enrichment API sees its address through the
	// called flow, and the caller's step holds the answer.
	runID := in.hookJSON("leads", `{"email": "grace@example.com"}`)
	rd := in.waitRun(runID)
	if rd.Status != "succeeded" {
		t.Fatalf("caller run %s: %s", rd.Status, rd.Error)
	}
	if got := enrich.all(); len(got) != 1 || got[0] != "GET /v1/person grace@example.com" {
		t.Fatalf("enrichment API got %q", got)
	}
	var run struct {
		Steps []struct {
			Calls  string         `json:"calls"`
			Output map[string]any `json:"output"`
		} `json:"steps"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/runs/"+runID, nil), &run)
	if len(run.Steps) != 1 || run.Steps[0].Output["company"] != "Analytical Engines" || run.Steps[0].Calls == "" {
		t.Fatalf("caller's step %+v", run.Steps)
	}

	// The run pages link both ways.
	b.open("/runs/" + runID)
	b.click("#step-call_1-calls")
	b.visible("#run-called-by")
	if got := b.text("#run-called-by"); !strings.Contains(got, runID) || !strings.Contains(got, "call_1") {
		t.Fatalf("called run says %q", got)
	}
	b.screenshot("subflow-called-run.png")
}
