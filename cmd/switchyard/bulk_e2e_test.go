package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// crmOutage is a CRM intake that answers 503 while down and 201 with a
// deal id once it is back, and the lead flow that sends to it.
type crmOutage struct {
	down atomic.Bool
	rec  *recorder
}

func newCRMOutage(t *testing.T) *crmOutage {
	c := &crmOutage{}
	c.down.Store(true)
	c.rec = newRecorder(t, func(n int, r *http.Request) (int, string) {
		if c.down.Load() {
			return 503, `{"error":"maintenance"}`
		}
		return 201, fmt.Sprintf(`{"deal":"deal-%d"}`, n)
	})
	return c
}

// leadFlow sends each lead to the CRM; a 503 fails the run at once.
func (c *crmOutage) leadFlow(id string) map[string]any {
	return map[string]any{
		"id": id, "name": "Chatbot leads to the CRM", "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": id},
		"steps": []any{map[string]any{"id": "crm", "use": "http.request",
			"with": map[string]any{"method": "POST", "url": c.rec.url + "/contacts",
				"body": map[string]any{"email": "{{ trigger.body.email }}"}}}},
	}
}

// deliveredOK counts, per email, the requests the CRM accepted.
func (c *crmOutage) deliveredOK(since int) map[string]int {
	out := map[string]int{}
	for _, r := range c.rec.all()[since:] {
		var b struct {
			Email string `json:"email"`
		}
		json.Unmarshal(r.Body, &b)
		out[b.Email]++
	}
	return out
}

// expectEachOnce waits until no failure needs attention and the engine is
// idle, then checks that the CRM took n distinct leads since request
// number since, each exactly once.
func (c *crmOutage) expectEachOnce(t *testing.T, in *instance, since, n int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(in.allRuns("&status=failed&resolved=false")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("failures still unresolved 30 s after the bulk retry")
		}
		time.Sleep(100 * time.Millisecond)
	}
	in.waitIdle(30 * time.Second)
	got := c.deliveredOK(since)
	if len(got) != n {
		t.Fatalf("the CRM got %d distinct leads after recovering, want %d: %v", len(got), n, got)
	}
	for email, times := range got {
		if times != 1 {
			t.Errorf("%s delivered %d times", email, times)
		}
	}
	return got
}

type bulkAnswer struct {
	Action       string         `json:"action"`
	Count        int            `json:"count"`
	RunIDs       []string       `json:"run_ids"`
	Flows        map[string]int `json:"flows"`
	SkippedCount int            `json:"skipped_count"`
	Skipped      []struct {
		RunID  string `json:"run_id"`
		Reason string `json:"reason"`
	} `json:"skipped"`
	DryRun bool `json:"dry_run"`
}

func (in *instance) bulk(want int, body any) bulkAnswer {
	in.t.Helper()
	var a bulkAnswer
	if err := json.Unmarshal(in.mustAPI(want, "POST", "/api/runs/bulk", body), &a); err != nil {
		in.t.Fatal(err)
	}
	return a
}

// TestBulkRetryAndSearchE2E: 40 leads fail while the CRM is down; search
// finds one by its email (words, exact field, combined with filters); a
// dry run counts the failed runs of the flow; once the CRM is back, one
// bulk retry delivers every lead exactly once, resolves every failure,
// and a second bulk retry finds nothing left to do. Bad requests are 400.
func TestBulkRetryAndSearchE2E(t *testing.T) {
	crm := newCRMOutage(t)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", crm.leadFlow("leads"))
	in.mustAPI(201, "POST", "/api/flows", map[string]any{"id": "notes", "name": "notes", "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": "notes"},
		"steps":   []any{map[string]any{"id": "keep", "use": "data.set", "with": map[string]any{"email": "{{ trigger.body.email }}"}}}})

	const n = 40
	for i := range n {
		in.hookJSON("leads", fmt.Sprintf(`{"email":"lead%d@example.com","name":"Lead %d"}`, i, i))
	}
	in.hookJSON("notes", `{"email":"lead7@example.com"}`)
	in.waitIdle(30 * time.Second)
	if failed := in.allRuns("&flow=leads&status=failed"); len(failed) != n {
		t.Fatalf("%d failed runs during the outage, want %d", len(failed), n)
	}
	sent := len(crm.rec.all()) // each lead tried as often as the step's retries allow

	// Search: whole words of the payload, any case; an exact field; with
	// the other filters.
	search := func(query string) []runSummary {
		t.Helper()
		return in.allRuns("&q=" + query)
	}
	if got := search("LEAD7@example.com"); len(got) != 2 || got[0].FlowID != "notes" || got[1].FlowID != "leads" {
		t.Fatalf("q=LEAD7@example.com: %+v", got)
	}
	if got := search("trigger.body.email:lead7@example.com&flow=leads&status=failed"); len(got) != 1 || got[0].FlowID != "leads" {
		t.Fatalf("q=field with flow and status: %+v", got)
	}
	if got := search("lead7@example.com&status=succeeded"); len(got) != 1 || got[0].FlowID != "notes" {
		t.Fatalf("q with status=succeeded: %+v", got)
	}
	if got := search("maintenance"); len(got) != 0 {
		t.Fatalf("an error message is not payload: %+v", got)
	}
	var page struct {
		Runs       []runSummary `json:"runs"`
		NextCursor string       `json:"next_cursor"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/runs?q=example&limit=30", nil), &page)
	if len(page.Runs) != 30 || page.NextCursor == "" {
		t.Fatalf("first page of a common word: %d runs, cursor %q", len(page.Runs), page.NextCursor)
	}
	for _, bad := range []string{"q=trigger.body.email:", "q=%20%20", "q=x&resolved=maybe"} {
		if code, body := in.api("GET", "/api/runs?"+bad, nil); code != 400 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("GET /api/runs?%s: %d %s", bad, code, body)
		}
	}

	// Bad bulk requests.
	for _, bad := range []any{
		map[string]any{"action": "delete", "run_ids": []string{"run_0000000000000001"}},
		map[string]any{"action": "retry"},
		map[string]any{"action": "retry", "run_ids": []string{"x"}, "filter": map[string]any{"flow": "leads"}},
		map[string]any{"action": "retry", "filter": map[string]any{"status": "succeeded"}},
		map[string]any{"action": "retry", "filter": map[string]any{"since": "yesterday"}},
		map[string]any{"action": "retry", "filter": map[string]any{"flow": "leads"}, "extra": 1},
	} {
		if code, body := in.api("POST", "/api/runs/bulk", bad); code != 400 {
			t.Errorf("bulk %v: %d %s", bad, code, body)
		}
	}

	filter := map[string]any{"flow": "leads", "status": "failed", "resolved": "false"}
	dry := in.bulk(200, map[string]any{"action": "retry", "filter": filter, "dry_run": true})
	if !dry.DryRun || dry.Count != n || dry.Flows["leads"] != n || len(dry.RunIDs) != n {
		t.Fatalf("dry run: %+v", dry)
	}
	if len(crm.rec.all()) != sent {
		t.Fatalf("a dry run sent something: %d requests, %d before", len(crm.rec.all()), sent)
	}

	crm.down.Store(false)
	before := len(crm.rec.all())
	started := in.bulk(202, map[string]any{"action": "retry", "filter": filter})
	if started.Count != n || started.DryRun {
		t.Fatalf("bulk retry: %+v", started)
	}
	crm.expectEachOnce(t, in, before, n)
	// The retries kept the failed runs' idempotency keys.
	for _, r := range crm.rec.all()[before:] {
		if !strings.HasPrefix(r.IdemKey, "run_") || !strings.HasSuffix(r.IdemKey, ":crm") {
			t.Errorf("idempotency key %q", r.IdemKey)
		}
	}

	// Nothing is left to retry; a resolved or missing run named by id is
	// skipped with its reason.
	if again := in.bulk(200, map[string]any{"action": "retry", "filter": filter, "dry_run": true}); again.Count != 0 {
		t.Fatalf("second bulk retry: %+v", again)
	}
	byID := in.bulk(202, map[string]any{"action": "retry", "run_ids": []string{dry.RunIDs[0], "run_00000000000fffff"}})
	if byID.Count != 0 || byID.SkippedCount != 2 || !strings.HasPrefix(byID.Skipped[0].Reason, "resolved by ") || byID.Skipped[1].Reason != "no such run" {
		t.Fatalf("bulk retry of a resolved and a missing run: %+v", byID)
	}
	// Replay by ids: one run per event, though the failed run and its
	// retry are both named.
	retryOf := in.allRuns("&flow=leads&status=succeeded")[0].ID
	replay := in.bulk(202, map[string]any{"action": "replay", "run_ids": []string{retryOf, retryOf}})
	if replay.Count != 1 || replay.SkippedCount != 1 {
		t.Fatalf("bulk replay: %+v", replay)
	}
	// The action starts its runs in the background: wait for the one.
	for deadline := time.Now().Add(10 * time.Second); len(crm.rec.all())-before < n+1 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	in.waitIdle(30 * time.Second)
	if total := len(crm.rec.all()) - before; total != n+1 {
		t.Fatalf("after the replay the CRM got %d requests since recovering, want %d", total, n+1)
	}
}

// TestBrowserSearchAndBulkRetry: a user finds a lead's runs by typing its
// email into the search box, and again without typing, from a run's
// "Find runs with the same value"; ticks one and sees what a replay would
// call again, then selects every run that needs attention, is told how
// many of which flow a retry takes, confirms once the CRM is back, and
// the CRM receives each of the 40 leads exactly once.
func TestBrowserSearchAndBulkRetry(t *testing.T) {
	needChromium(t)
	crm := newCRMOutage(t)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", crm.leadFlow("leads"))
	in.mustAPI(201, "POST", "/api/flows", map[string]any{"id": "notes", "name": "Lead notes", "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": "notes"},
		"steps":   []any{map[string]any{"id": "keep", "use": "data.set", "with": map[string]any{"email": "{{ trigger.body.email }}"}}}})
	const n = 40
	adaRun := ""
	for i := range n {
		email := fmt.Sprintf("lead%d@example.com", i)
		if i == 7 {
			email = "ada@example.com"
		}
		id := in.hookJSON("leads", fmt.Sprintf(`{"email":%q}`, email))
		if i == 7 {
			adaRun = id
		}
	}
	noteRun := in.hookJSON("notes", `{"email":"ada@example.com"}`)
	in.waitIdle(30 * time.Second)

	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	// Search: the two runs that hold the email, whatever the case typed.
	b.open("/runs")
	b.typeInto("#filter-q", "ADA@example.com")
	b.click("#filter-apply")
	b.visible("#run-" + noteRun)
	b.screenshot("runs-search.png")
	rows := brEval[[]string](b, `[...document.querySelectorAll("#run-rows tr.run-row")].map(r => r.id)`)
	if strings.Join(rows, ",") != "run-"+noteRun+",run-"+adaRun {
		t.Fatalf("search rows: %v, want the note's and the lead's run", rows)
	}
	// The same runs without typing a search: from the note's run, its
	// email under "Find runs with the same value".
	b.open("/runs/" + noteRun)
	b.click("#run-find summary")
	b.waitText("#find-0", "body.email is ada@example.com")
	b.screenshot("run-find.png")
	b.click("#find-0")
	b.visible("#run-" + adaRun)
	if got := b.value("#filter-q"); got != "trigger.body.email:ada@example.com" {
		t.Errorf("the search box after Find shows %q", got)
	}
	rows = brEval[[]string](b, `[...document.querySelectorAll("#run-rows tr.run-row")].map(r => r.id)`)
	if strings.Join(rows, ",") != "run-"+noteRun+",run-"+adaRun {
		t.Fatalf("rows found from the run page: %v, want the note's and the lead's run", rows)
	}

	// Tick the lead's run and ask for a replay: the confirmation names the
	// flow and the step that would call the CRM again; Cancel sends
	// nothing.
	b.click("#select-" + adaRun)
	b.click("#bulk-replay")
	b.visible("#confirm-bulk")
	if got := b.text("#bulk-title"); got != "Replay 1 run?" {
		t.Fatalf("replay confirmation title: %q", got)
	}
	if got := b.text("#bulk-flow-leads"); !strings.Contains(got, "Chatbot leads to the CRM: 1 run") || !strings.Contains(got, "crm") {
		t.Errorf("replay confirmation: %q", got)
	}
	sent := len(crm.rec.all())
	b.click("#cancel-bulk")
	b.visible("#runs-table")

	// Needs attention, every run that matches: the confirmation says 40
	// runs of the lead flow; nothing is sent before the click.
	b.open("/runs?resolved=false")
	b.click("#bulk-all")
	b.click("#bulk-retry")
	b.visible("#confirm-bulk")
	if got := b.text("#bulk-title"); got != fmt.Sprintf("Retry %d runs?", n) {
		t.Fatalf("retry confirmation title: %q", got)
	}
	if got := b.text("#bulk-flows"); !strings.Contains(got, fmt.Sprintf("Chatbot leads to the CRM: %d runs", n)) || strings.Contains(got, "Lead notes") {
		t.Errorf("retry confirmation flows: %q", got)
	}
	if len(crm.rec.all()) != sent {
		t.Fatal("the confirmation page sent requests")
	}
	b.screenshot("bulk-retry-confirm.png")
	crm.down.Store(false)
	b.click("#confirm-bulk")
	b.visible("#bulk-result")
	if got := b.text("#bulk-result"); !strings.Contains(got, fmt.Sprintf("Retry of %d runs started", n)) {
		t.Fatalf("result: %q", got)
	}

	if got := crm.expectEachOnce(t, in, sent, n); got["ada@example.com"] != 1 {
		t.Errorf("ada's lead delivered %d times", got["ada@example.com"])
	}
	b.open("/runs?resolved=false")
	b.visible("#runs-empty")
}

// TestBulkReplayKill9: the process is killed (SIGKILL) while a bulk
// replay of 40 failed leads is under way. The restarted server goes on
// with it from its journal: the CRM gets every lead, and each from one
// replay only (one idempotency key a lead: a step cut off by the kill is
// sent again with its key, while a replay made twice would bring a new
// one).
func TestBulkReplayKill9(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	crm := newRecorder(t, func(n int, r *http.Request) (int, string) {
		if down.Load() {
			return 503, `{"error":"maintenance"}`
		}
		time.Sleep(40 * time.Millisecond)
		return 201, `{}`
	})
	in := newInstance(t, "--workers", "2")
	in.start()
	flow := (&crmOutage{rec: crm}).leadFlow("leads")
	in.mustAPI(201, "POST", "/api/flows", flow)
	const n = 40
	for i := range n {
		in.hookJSON("leads", fmt.Sprintf(`{"email":"lead%d@example.com"}`, i))
	}
	in.waitIdle(30 * time.Second)
	since := len(crm.all())
	down.Store(false)
	in.mustAPI(202, "POST", "/api/runs/bulk", map[string]any{"action": "replay", "filter": map[string]any{"flow": "leads"}})
	for deadline := time.Now().Add(20 * time.Second); len(crm.all())-since < 6; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bulk replay sent nothing")
		}
	}
	in.kill()
	if got := len(crm.all()) - since; got >= n {
		t.Fatalf("all %d leads were sent before the kill: nothing left to resume", got)
	}
	in.start()
	deadline := time.Now().Add(30 * time.Second)
	for len(in.allRuns("&status=failed&resolved=false")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("failures still unresolved 30 s after the restart; the CRM got %d requests", len(crm.all())-since)
		}
		time.Sleep(100 * time.Millisecond)
	}
	in.waitIdle(30 * time.Second)
	keys := map[string]map[string]bool{}
	for _, r := range crm.all()[since:] {
		var b struct {
			Email string `json:"email"`
		}
		json.Unmarshal(r.Body, &b)
		if keys[b.Email] == nil {
			keys[b.Email] = map[string]bool{}
		}
		keys[b.Email][r.IdemKey] = true
	}
	if len(keys) != n {
		t.Fatalf("the CRM got %d distinct leads, want %d", len(keys), n)
	}
	for email, k := range keys {
		if len(k) != 1 {
			t.Errorf("%s came from %d replays (idempotency keys %v)", email, len(k), k)
		}
	}
}
