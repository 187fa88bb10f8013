package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserDataStoreCounter: a counter flow runs three times; the user
// finds the count on the Data store page, sets it to 10 in the edit form
// (a number, typed as digits, no JSON), and the next run counts on from
// there: the service hears 1, 2, 3, then 11. Deleting the value, after
// the confirmation, starts the count again at 1. In the builder the four
// store steps are in the palette and their forms come from their fields.
//
// Stable ids: #nav-store (the navigation entry), #store-ns-<ns>,
// #open-ns-<ns>, #store-value-<key>, #edit-<key>, #delete-<key>,
// #store-form-type, #store-form-value, #store-save, #confirm-delete-value.
func TestBrowserDataStoreCounter(t *testing.T) {
	needChromium(t)
	rec := newRecorder(t, nil)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", counterFlow(rec.url))
	counts := func() string { return heardCounts(t, rec) }
	message := func() {
		t.Helper()
		if r := in.waitRun(in.hookJSON("counter", `{"conv": "42"}`)); r.Status != "succeeded" {
			t.Fatalf("run %s: %s %s", r.ID, r.Status, r.Error)
		}
	}
	for range 3 {
		message()
	}

	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	b.click(`nav a[href="/store"]`)
	b.visible("#store-ns-counter")
	if got := b.text("#store-ns-counter"); !strings.Contains(got, "a flow's own") || !strings.Contains(got, "1") {
		t.Errorf("namespace row: %q", got)
	}
	b.click("#open-ns-counter")
	b.visible("#store-entries")
	b.waitText("#store-value-conv-42", "3")
	b.screenshot("data-store.png")

	// Edit: the form opens on a number, typed as digits.
	b.click("#edit-conv-42")
	b.visible("#store-edit-title")
	if got := b.value("#store-form-type"); got != "number" {
		t.Errorf("the form's kind for a count is %q, want number", got)
	}
	if got := b.value("#store-form-value"); got != "3" {
		t.Errorf("the form shows %q, want 3", got)
	}
	b.noScriptRan("data store pages")
	// A slip first: letters are refused beside the field, nothing stored
	// (the form comes back with 422, which the console reports).
	brRun(b, "clear the value", chromedp.Clear(chromedp.CSS("#store-form-value")))
	b.typeInto("#store-form-value", "ten")
	b.click("#store-save")
	b.visible("#store-form-value-error p")
	b.waitText("#store-form-value-error", "not a number")
	brRun(b, "clear the value", chromedp.Clear(chromedp.CSS("#store-form-value")))
	b.typeInto("#store-form-value", "10")
	b.click("#store-save")
	b.visible("#flash")
	b.waitText("#flash", "Value saved.")
	b.waitText("#store-value-conv-42", "10")

	message()
	if got := counts(); got != "1,2,3,11" {
		t.Fatalf("the service heard %s, want 1,2,3,11 (on from the edited 10)", got)
	}
	b.open("/store/counter")
	b.waitText("#store-value-conv-42", "11")

	// Delete, after the confirmation; the count starts again.
	b.click("#delete-conv-42")
	b.visible("#delete-value")
	b.waitText("#delete-value", "11")
	b.click("#confirm-delete-value")
	b.visible("#flash")
	b.waitText("#flash", "Value deleted.")
	b.visible("#store-empty")
	message()
	if got := counts(); got != "1,2,3,11,1" {
		t.Fatalf("after the delete the service heard %s, want 1,2,3,11,1", got)
	}

	// The builder offers the store steps with forms from their fields.
	b.open("/flows/counter/edit")
	b.visible("#builder")
	if got := b.value("#steps-0-with-key"); got != "conv:{{ trigger.body.conv }}" {
		t.Errorf("the increment step's key field shows %q", got)
	}
	b.visible("#steps-0-with-by")
	for _, id := range []string{"store-set", "store-get", "store-delete", "store-increment"} {
		b.visible("#add-steps-" + id)
	}
	b.click("#add-steps-store-set")
	b.visible("#steps-2-with-key")
	b.visible("#steps-2-with-value")
	b.visible("#steps-2-with-ttl")
	for _, p := range b.consoleProblems() {
		if !strings.Contains(p, "422 (Unprocessable Entity)") || !strings.Contains(p, "/store/counter/conv:42/edit") {
			t.Errorf("console: %s", p)
		}
	}
}

// TestBrowserDataStoreListAndRows: a user keeps a list of owners and a
// customer's plan in the data store without writing JSON: the list a line
// each, the plan as rows of name, kind and value (one added with "More
// rows"), the list to expire in 30 days (an amount and a unit picked). A
// flow reads both and posts them on; the service gets the list
// and an object with a number and a yes/no in it. The edit form gives the
// plan back as rows.
//
// Stable ids: #store-form-namespace, #store-form-key, #store-form-type,
// #store-form-value, #store-form-value-help, #store-form-rows,
// #store-row-N-name, #store-row-N-type, #store-row-N-value,
// #store-more-rows, #store-save.
func TestBrowserDataStoreListAndRows(t *testing.T) {
	needChromium(t)
	rec := newRecorder(t, nil)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{
	  "id": "handover", "name": "Handover", "enabled": true,
	  "trigger": {"type": "webhook", "path": "handover"},
	  "steps": [
	    {"id": "owners", "use": "store.get", "with": {"namespace": "crm", "key": "owners"}},
	    {"id": "plan", "use": "store.get", "with": {"namespace": "crm", "key": "plan"}},
	    {"id": "tell", "use": "http.request", "with": {"url": %q, "method": "POST",
	      "body": {"owners": "{{ steps.owners.output.value }}", "plan": "{{ steps.plan.output.value }}"}}}
	  ]}`, rec.url))

	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	b.open("/store")
	b.typeInto("#store-form-namespace", "crm")
	b.typeInto("#store-form-key", "owners")
	b.pick("#store-form-type", "list")
	b.waitText("#store-form-value-help", "One item per line")
	b.typeInto("#store-form-value", "ada@example.com\nbob@example.com")
	b.typeInto("#store-form-ttl", "30")
	b.pick("#store-form-ttl-unit", "d")
	b.screenshot("data-store-list.png")
	b.click("#store-save")
	b.visible("#flash")
	b.waitText("#store-value-owners", "bob@example.com")
	var owners struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(in.mustAPI(200, "GET", "/api/store/crm/owners", nil), &owners); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(owners.ExpiresAt); left < 29*24*time.Hour || left > 31*24*time.Hour {
		t.Errorf("30 days picked, the list expires at %s", owners.ExpiresAt)
	}

	// On the namespace's page the form has the namespace already.
	if got := b.value("#store-form-namespace"); got != "crm" {
		t.Errorf("the add form's namespace on /store/crm is %q", got)
	}
	b.typeInto("#store-form-key", "plan")
	b.pick("#store-form-type", "object")
	b.visible("#store-form-rows")
	b.gone("#store-form-value")
	b.typeInto("#store-row-0-name", "tier")
	b.typeInto("#store-row-0-value", "gold")
	b.typeInto("#store-row-1-name", "seats")
	b.pick("#store-row-1-type", "number")
	b.typeInto("#store-row-1-value", "5")
	b.typeInto("#store-row-2-name", "active")
	b.pick("#store-row-2-type", "bool")
	b.typeInto("#store-row-2-value", "yes")
	b.click("#store-more-rows")
	b.visible("#store-row-5-name")
	if got := b.value("#store-row-1-value"); got != "5" {
		t.Errorf("More rows lost what was typed: seats is %q", got)
	}
	b.typeInto("#store-row-3-name", "region")
	b.typeInto("#store-row-3-value", "EU")
	b.screenshot("data-store-rows.png")
	b.click("#store-save")
	b.visible("#flash")
	b.waitText("#store-value-plan", "region")

	if r := in.waitRun(in.hookJSON("handover", `{}`)); r.Status != "succeeded" {
		t.Fatalf("run %s: %s %s", r.ID, r.Status, r.Error)
	}
	heard := rec.all()
	want := `{"owners":["ada@example.com","bob@example.com"],"plan":{"tier":"gold","seats":5,"active":true,"region":"EU"}}`
	var got, wanted any
	if len(heard) != 1 || json.Unmarshal(heard[0].Body, &got) != nil || json.Unmarshal([]byte(want), &wanted) != nil || !sameJSON(got, wanted) {
		t.Fatalf("the service heard %d requests: %s\nwant %s", len(heard), heard, want)
	}

	b.click("#edit-plan")
	b.visible("#store-edit-title")
	if got := b.value("#store-form-type"); got != "object" {
		t.Errorf("the plan opens as %q, want object (rows)", got)
	}
	for id, want := range map[string]string{"#store-row-1-name": "seats", "#store-row-1-type": "number", "#store-row-1-value": "5", "#store-row-3-value": "EU"} {
		if got := b.value(id); got != want {
			t.Errorf("%s is %q, want %q", id, got, want)
		}
	}
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("console: %q", p)
	}
}
