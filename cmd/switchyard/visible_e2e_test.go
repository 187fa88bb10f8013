package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// connFlow is a webhook flow whose one step sends with connection conn.
func connFlow(id, conn string) map[string]any {
	return map[string]any{
		"id": id, "name": id, "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": id},
		"steps": []any{map[string]any{"id": "send", "use": "http.request",
			"with": map[string]any{"method": "POST", "url": "http://127.0.0.1:9/x", "connection": conn}}},
	}
}

// TestConnectionsInUse: a flow naming a missing connection is refused at
// save with the field path; a connection flows use is not deleted without
// force (409 naming them); `flows validate --data` checks the same.
func TestConnectionsInUse(t *testing.T) {
	in := newInstance(t)
	in.start()

	// Saving a flow that names a connection nobody made is refused, like
	// an unknown connector, with the field path.
	code, body := in.api("POST", "/api/flows", connFlow("orders", "crm"))
	if code != 400 || !strings.Contains(string(body), `"field":"steps[0].with.connection"`) || !strings.Contains(string(body), `connection \"crm\" does not exist`) {
		t.Fatalf("save with a missing connection: %d %s", code, body)
	}
	// A connection of the wrong type is refused too.
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "sig", "type": "secret", "values": map[string]string{"value": "s3cr3t-value"}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "http_bearer", "values": map[string]string{"token": "tok-1"}})
	verifyFlow := connFlow("signed", "crm")
	verifyFlow["trigger"].(map[string]any)["verify"] = map[string]any{"scheme": "hmac", "secret": "crm", "header": "X-Sig"}
	code, body = in.api("POST", "/api/flows", verifyFlow)
	if code != 400 || !strings.Contains(string(body), `"field":"trigger.verify.secret"`) {
		t.Fatalf("verify secret of the wrong type: %d %s", code, body)
	}

	in.mustAPI(201, "POST", "/api/flows", connFlow("orders", "crm"))
	in.mustAPI(201, "POST", "/api/flows", connFlow("leads", "crm"))

	// Deleting it answers 409 with the flows, and keeps it.
	code, body = in.api("DELETE", "/api/connections/crm", nil)
	var conflict struct {
		Error string   `json:"error"`
		Flows []string `json:"flows"`
	}
	if err := json.Unmarshal(body, &conflict); err != nil || code != 409 || strings.Join(conflict.Flows, ",") != "leads,orders" {
		t.Fatalf("delete in use: %d %s", code, body)
	}
	if !strings.Contains(string(in.mustAPI(200, "GET", "/api/connections", nil)), `"name":"crm"`) {
		t.Fatal("a refused delete removed the connection")
	}
	if code, body := in.api("DELETE", "/api/connections/crm?force=maybe", nil); code != 400 {
		t.Fatalf("force=maybe: %d %s", code, body)
	}
	// An unused connection goes at once; a missing one is 404.
	in.mustAPI(204, "DELETE", "/api/connections/sig", nil)
	in.mustAPI(404, "DELETE", "/api/connections/sig", nil)

	// With force it goes; the flows stay, and saving one again is refused
	// until the connection exists again.
	in.mustAPI(204, "DELETE", "/api/connections/crm?force=true", nil)
	if strings.Contains(string(in.mustAPI(200, "GET", "/api/connections", nil)), `"name":"crm"`) {
		t.Fatal("a forced delete kept the connection")
	}
	code, body = in.api("PUT", "/api/flows/orders", connFlow("orders", "crm"))
	if code != 400 || !strings.Contains(string(body), "steps[0].with.connection") {
		t.Fatalf("save after the connection went: %d %s", code, body)
	}

	// `flows validate --data` knows the data dir's connections (read
	// while the server is stopped: the data dir has one owner).
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "erp", "type": "http_bearer", "values": map[string]string{"token": "tok-2"}})
	in.stop()
	dir := t.TempDir()
	write := func(name, conn string) string {
		data, _ := json.Marshal(connFlow(strings.TrimSuffix(name, ".json"), conn))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, bad := write("good.json", "erp"), write("bad.json", "crm")
	out, err := exec.Command(in.bin, "flows", "validate", "--data", in.data, good, bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), bad+`:steps[0].with.connection: connection "crm" does not exist`) || strings.Contains(string(out), good+":") {
		t.Fatalf("flows validate --data: %v\n%s", err, out)
	}
	// Without a data dir only the flow itself is checked.
	if out, err := exec.Command(in.bin, "flows", "validate", bad).CombinedOutput(); err != nil {
		t.Fatalf("flows validate without --data: %v\n%s", err, out)
	}
}

// TestBrowserConnectionInUse: the connections page names the flows using
// each connection; deleting one of those asks first, listing them, and
// Cancel keeps it.
func TestBrowserConnectionInUse(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "http_bearer", "values": map[string]string{"token": "tok-1"}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "spare", "type": "http_bearer", "values": map[string]string{"token": "tok-2"}})
	in.mustAPI(201, "POST", "/api/flows", connFlow("orders", "crm"))

	b.open("/connections")
	if got := b.text("#connection-users-crm"); got != "orders" {
		t.Errorf("used by of crm: %q", got)
	}
	if got := b.text("#connection-users-spare"); got != "no flow" {
		t.Errorf("used by of spare: %q", got)
	}
	b.click("#delete-connection-crm")
	b.visible("#connection-in-use")
	b.fullScreenshot("connection-in-use.png")
	if got := b.text("#connection-in-use"); got != "orders" {
		t.Errorf("flows listed before delete: %q", got)
	}
	b.click("#cancel-delete-connection")
	b.visible("#connection-crm")

	b.click("#delete-connection-crm")
	b.click("#confirm-delete-connection")
	b.visible("#connection-spare")
	b.gone("#connection-crm")
	// An unused connection goes on one click.
	b.click("#delete-connection-spare")
	b.visible("#connections-empty")

	// The flow still names the deleted connection: saving it in the
	// builder is refused, with the error beside the field.
	b.open("/flows/orders/edit")
	b.click("#save-flow")
	b.waitText("#steps-0-with-connection-error", `connection "crm" does not exist`)
}

// crmFlow is a webhook flow of two steps: data.set, then a POST to url
// (an external call).
func crmFlow(id, url string) map[string]any {
	return map[string]any{
		"id": id, "name": id, "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": id},
		"steps": []any{
			map[string]any{"id": "shape", "use": "data.set", "with": map[string]any{"email": "{{ trigger.body.email }}"}},
			map[string]any{"id": "to_crm", "use": "http.request", "with": map[string]any{"method": "POST", "url": url}},
		},
	}
}

// flakyCRM is a CRM that refuses contacts (400) while down is set, which
// it starts as.
func flakyCRM(t *testing.T) (*recorder, *atomic.Bool) {
	down := &atomic.Bool{}
	down.Store(true)
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		if down.Load() {
			return 400, `{"error":"crm says no"}`
		}
		return 200, `{"id":"contact-1"}`
	})
	return rec, down
}

// runLinks is what GET /api/runs/{id} adds about retries and replays.
type runLinks struct {
	Status     string   `json:"status"`
	RetryOf    string   `json:"retry_of"`
	RetriedBy  []string `json:"retried_by"`
	ReplayedBy []string `json:"replayed_by"`
	Resolved   bool     `json:"resolved"`
	ResolvedBy string   `json:"resolved_by"`
}

func (in *instance) links(id string) runLinks {
	in.t.Helper()
	var l runLinks
	if err := json.Unmarshal(in.mustAPI(200, "GET", "/api/runs/"+id, nil), &l); err != nil {
		in.t.Fatal(err)
	}
	return l
}

func ids(runs []runSummary) string {
	var out []string
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return strings.Join(out, ",")
}

// TestUnresolvedFailures: a failed run links to its retries and replays,
// is resolved once a retry of it (or of its retry) succeeds, and only
// the unresolved ones are listed by resolved=false, also after a restart;
// a resolved run is not retried and a run in progress is not replayed.
func TestUnresolvedFailures(t *testing.T) {
	rec, down := flakyCRM(t)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", crmFlow("leads", rec.url+"/contacts"))

	a := in.hookJSON("leads", `{"email":"ada@example.com"}`)
	if rd := in.waitRun(a); rd.Status != "failed" {
		t.Fatalf("run a: %s", rd.Status)
	}
	if l := in.links(a); l.Resolved || len(l.RetriedBy) != 0 || len(l.ReplayedBy) != 0 || l.RetriedBy == nil {
		t.Fatalf("links of a fresh failure: %+v", l)
	}
	if got := ids(in.allRuns("&status=failed&resolved=false")); got != a {
		t.Fatalf("unresolved: %s, want %s", got, a)
	}
	// Retried while the CRM still refuses: both stay unresolved.
	var retried struct {
		ID string `json:"id"`
	}
	json.Unmarshal(in.mustAPI(201, "POST", "/api/runs/"+a+"/retry", nil), &retried)
	b := retried.ID
	in.waitRun(b)
	if got := ids(in.allRuns("&resolved=false")); got != b+","+a {
		t.Fatalf("unresolved after a failed retry: %s", got)
	}
	if l := in.links(a); len(l.RetriedBy) != 1 || l.RetriedBy[0] != b || l.Resolved {
		t.Fatalf("links of a: %+v", l)
	}

	// The CRM is back: a retry of the retry succeeds and resolves both.
	down.Store(false)
	json.Unmarshal(in.mustAPI(201, "POST", "/api/runs/"+b+"/retry", nil), &retried)
	c := retried.ID
	if rd := in.waitRun(c); rd.Status != "succeeded" {
		t.Fatalf("retry of the retry: %s %s", rd.Status, rd.Error)
	}
	for _, id := range []string{a, b} {
		if l := in.links(id); !l.Resolved || l.ResolvedBy != c {
			t.Fatalf("links of %s after the fix: %+v", id, l)
		}
	}
	if got := ids(in.allRuns("&status=failed&resolved=false")); got != "" {
		t.Fatalf("unresolved after the fix: %s", got)
	}
	if got := ids(in.allRuns("&status=failed&resolved=true")); got != b+","+a {
		t.Fatalf("resolved=true: %s", got)
	}
	// A resolved run is not retried again.
	if code, body := in.api("POST", "/api/runs/"+a+"/retry", nil); code != 409 || !strings.Contains(string(body), "resolved") {
		t.Fatalf("retry of a resolved run: %d %s", code, body)
	}
	// Replays are linked too.
	var replayed struct {
		ID string `json:"id"`
	}
	json.Unmarshal(in.mustAPI(201, "POST", "/api/runs/"+a+"/replay", nil), &replayed)
	in.waitRun(replayed.ID)
	if l := in.links(a); len(l.ReplayedBy) != 1 || l.ReplayedBy[0] != replayed.ID {
		t.Fatalf("replayed_by of a: %+v", l)
	}
	for _, q := range []string{"&resolved=maybe", "&status=succeeded&resolved=false"} {
		if code, body := in.api("GET", "/api/runs?"+q[1:], nil); code != 400 {
			t.Errorf("GET /api/runs?%s: %d %s", q[1:], code, body)
		}
	}

	// A new failure is listed, and still after a restart.
	down.Store(true)
	d := in.hookJSON("leads", `{"email":"bob@example.com"}`)
	in.waitRun(d)
	in.stop()
	in.start()
	if got := ids(in.allRuns("&resolved=false")); got != d {
		t.Fatalf("unresolved after restart: %s, want %s", got, d)
	}

	// A run still waiting is neither replayed nor retried.
	slow := map[string]any{"id": "slow", "name": "slow", "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": "slow"},
		"steps":   []any{map[string]any{"id": "wait", "use": "flow.delay", "with": map[string]any{"duration": "1h"}}}}
	in.mustAPI(201, "POST", "/api/flows", slow)
	w := in.hookJSON("slow", `{}`)
	deadline := time.Now().Add(10 * time.Second)
	for in.links(w).Status != "waiting" {
		if time.Now().After(deadline) {
			t.Fatalf("run %s never waited", w)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, action := range []string{"replay", "retry"} {
		if code, body := in.api("POST", "/api/runs/"+w+"/"+action, nil); code != 409 {
			t.Errorf("%s of a waiting run: %d %s", action, code, body)
		}
	}
}

// TestBrowserNeedsAttention: the navigation counts unresolved failures;
// the Needs attention view lists them; a failed run offers Retry and a
// Replay that asks first, naming the steps that call out again; once a
// retry succeeded the run shows it, offers no Retry and leaves the list.
func TestBrowserNeedsAttention(t *testing.T) {
	needChromium(t)
	rec, down := flakyCRM(t)
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", crmFlow("leads", rec.url+"/contacts"))
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	first := in.hookJSON("leads", `{"email":"ada@example.com"}`)
	second := in.hookJSON("leads", `{"email":"bob@example.com"}`)
	in.waitRun(first)
	in.waitRun(second)

	b.open("/flows")
	if got := b.text("#attention-count"); got != "2" {
		t.Fatalf("navigation count: %q", got)
	}
	b.click("#nav-attention")
	b.visible("#run-" + first)
	b.fullScreenshot("needs-attention.png")
	b.visible("#run-" + second)

	// Replay asks first and names the step that calls the CRM again, not
	// the data step; Cancel starts nothing.
	b.click("#run-" + first + " a")
	b.visible("#retry-run")
	b.click("#replay-run")
	b.visible("#replay-external-steps")
	b.fullScreenshot("replay-confirm.png")
	if got := b.text("#replay-external-steps"); !strings.Contains(got, "to_crm") || strings.Contains(got, "shape") {
		t.Errorf("steps that call out again: %q", got)
	}
	b.click("#cancel-replay")
	b.visible("#retry-run")
	if n := len(in.allRuns("")); n != 2 {
		t.Fatalf("cancelled replay started a run: %d runs", n)
	}

	// The CRM is back; Retry succeeds and resolves the run.
	down.Store(false)
	b.click("#retry-run")
	b.visible("#run-retry-of")
	b.waitText("#run-status", "succeeded")
	retry := strings.TrimPrefix(strings.Split(b.location(), "?")[0], in.url("/runs/"))
	b.open("/runs/" + first)
	b.visible("#run-resolved")
	if got := b.text("#run-retried-by"); got != retry {
		t.Errorf("retried by: %q, want %q", got, retry)
	}
	b.gone("#retry-run")
	if got := b.text("#attention-count"); got != "1" {
		t.Errorf("navigation count after the retry: %q", got)
	}
	b.open("/runs?resolved=false")
	b.visible("#run-" + second)
	b.gone("#run-" + first)
	// In the full history the first run reads failed, resolved.
	b.open("/runs?status=failed")
	b.visible("#run-" + first + "-resolved")

	// Replay, confirmed, starts a new run linked from the old one.
	b.open("/runs/" + second)
	b.click("#replay-run")
	b.click("#confirm-replay")
	b.visible("#run-replay-of")
	b.open("/runs/" + second)
	b.visible("#run-replayed-by")
}

// flowHistory is GET /api/flows/{id}/versions.
type flowHistory struct {
	Versions []struct {
		Version      int64   `json:"version"`
		SavedAt      *string `json:"saved_at"`
		SavedBy      string  `json:"saved_by"`
		SavedByKind  string  `json:"saved_by_kind"`
		Summary      string  `json:"summary"`
		RestoredFrom int64   `json:"restored_from"`
		Current      bool    `json:"current"`
	} `json:"versions"`
	StateChanges []struct {
		Enabled bool `json:"enabled"`
		By      struct {
			Kind, Name string
		} `json:"by"`
		Version int64 `json:"version"`
	} `json:"state_changes"`
}

func (in *instance) history(id string) flowHistory {
	in.t.Helper()
	var h flowHistory
	if err := json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/"+id+"/versions", nil), &h); err != nil {
		in.t.Fatal(err)
	}
	return h
}

// TestFlowVersions: every content change is a version with who, when and
// what changed; an unchanged save or import and turning the flow on or
// off make none; any version can be read, compared and restored.
func TestFlowVersions(t *testing.T) {
	in := newInstance(t)
	in.start()
	v1 := crmFlow("leads", "https://crm.example.com/a")
	in.mustAPI(201, "POST", "/api/flows", v1)
	h := in.history("leads")
	if len(h.Versions) != 1 || h.Versions[0].Version != 1 || h.Versions[0].SavedBy != "e2e" || h.Versions[0].SavedByKind != "token" ||
		h.Versions[0].Summary != "created" || h.Versions[0].SavedAt == nil || !h.Versions[0].Current {
		t.Fatalf("after create: %+v", h)
	}
	// The same content again: no version.
	var fv struct {
		Version int64 `json:"version"`
		Enabled bool  `json:"enabled"`
	}
	json.Unmarshal(in.mustAPI(200, "PUT", "/api/flows/leads", v1), &fv)
	if fv.Version != 1 {
		t.Fatalf("unchanged save made version %d", fv.Version)
	}
	// Off and on again: recorded, no version.
	v1["enabled"] = false
	json.Unmarshal(in.mustAPI(200, "PUT", "/api/flows/leads", v1), &fv)
	if fv.Version != 1 || fv.Enabled {
		t.Fatalf("turned off: %+v", fv)
	}
	if code, _ := in.api("POST", "/hooks/leads", `{}`); code != 404 {
		t.Fatalf("a turned-off flow took a webhook: %d", code)
	}
	h = in.history("leads")
	if len(h.Versions) != 1 || len(h.StateChanges) != 1 || h.StateChanges[0].Enabled || h.StateChanges[0].By.Name != "e2e" || h.StateChanges[0].Version != 1 {
		t.Fatalf("after turning off: %+v", h)
	}

	// A real change: version 2, with a summary of it.
	v2 := crmFlow("leads", "https://crm.example.com/b")
	v2["name"] = "Leads to CRM"
	v2["enabled"] = false
	json.Unmarshal(in.mustAPI(200, "PUT", "/api/flows/leads", v2), &fv)
	if fv.Version != 2 {
		t.Fatalf("changed save: version %d", fv.Version)
	}
	h = in.history("leads")
	if len(h.Versions) != 2 || h.Versions[0].Summary != "changed name; changed step to_crm (with.url)" || h.Versions[1].Current {
		t.Fatalf("after change: %+v", h)
	}

	// Read a version, and its changes against another.
	var ver struct {
		Version int64 `json:"version"`
		Against int64 `json:"against"`
		Flow    struct {
			Name  string `json:"name"`
			Steps []struct {
				With map[string]any `json:"with"`
			} `json:"steps"`
		} `json:"flow"`
		Changes []struct {
			Path, Kind, Old, New string
		} `json:"changes"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/leads/versions/1", nil), &ver)
	if ver.Version != 1 || ver.Flow.Name != "leads" || ver.Flow.Steps[1].With["url"] != "https://crm.example.com/a" || ver.Against != 0 {
		t.Fatalf("version 1: %+v", ver)
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/leads/versions/2?against=1", nil), &ver)
	if len(ver.Changes) != 2 || ver.Changes[1].Path != "steps[to_crm].with.url" || ver.Changes[1].Old != "https://crm.example.com/a" || ver.Changes[1].New != "https://crm.example.com/b" {
		t.Fatalf("changes 1→2: %+v", ver.Changes)
	}
	in.mustAPI(404, "GET", "/api/flows/leads/versions/9", nil)
	in.mustAPI(400, "GET", "/api/flows/leads/versions/first", nil)
	in.mustAPI(404, "GET", "/api/flows/nope/versions", nil)

	// Restore version 1: a new version 3 with its content; still off.
	json.Unmarshal(in.mustAPI(201, "POST", "/api/flows/leads/versions/1/restore", nil), &fv)
	if fv.Version != 3 || fv.Enabled {
		t.Fatalf("restore: %+v", fv)
	}
	h = in.history("leads")
	if len(h.Versions) != 3 || h.Versions[0].RestoredFrom != 1 || !strings.HasPrefix(h.Versions[0].Summary, "restored version 1: ") {
		t.Fatalf("after restore: %+v", h.Versions[0])
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/leads/versions/3?against=1", nil), &ver)
	if len(ver.Changes) != 0 {
		t.Fatalf("restored content differs from version 1: %+v", ver.Changes)
	}
	// Restoring what is current already makes nothing.
	json.Unmarshal(in.mustAPI(200, "POST", "/api/flows/leads/versions/3/restore", nil), &fv)
	if fv.Version != 3 {
		t.Fatalf("restore of the current content: version %d", fv.Version)
	}

	// Importing the unchanged flow file makes no version either.
	export := in.mustAPI(200, "GET", "/api/flows/leads", nil)
	var exported struct {
		Flow json.RawMessage `json:"flow"`
	}
	json.Unmarshal(export, &exported)
	file := filepath.Join(t.TempDir(), "leads.json")
	os.WriteFile(file, exported.Flow, 0o600)
	in.stop()
	out, err := exec.Command(in.bin, "flows", "import", file, "--data", in.data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "content unchanged (version 3)") {
		t.Fatalf("import of the unchanged flow: %v\n%s", err, out)
	}
	in.start()
	if h := in.history("leads"); len(h.Versions) != 3 {
		t.Fatalf("versions after import: %d", len(h.Versions))
	}
}

// TestBrowserFlowHistory: the history panel under the builder lists the
// versions; the history page shows a readable diff between any two and
// restores one; turning the flow off in the list is recorded there and
// makes no version.
func TestBrowserFlowHistory(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	in.mustAPI(201, "POST", "/api/flows", crmFlow("leads", "https://crm.example.com/a"))
	v2 := crmFlow("leads", "https://crm.example.com/b")
	in.mustAPI(200, "PUT", "/api/flows/leads", v2)

	b.open("/flows")
	b.click("#toggle-leads")
	deadline := time.Now().Add(5 * time.Second)
	for len(in.history("leads").StateChanges) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("turning the flow off was not recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}

	b.open("/flows/leads/edit")
	b.visible("#history-v2")
	if got := b.text("#history-v2"); !strings.Contains(got, "Version 2 (current)") || !strings.Contains(got, "changed step to_crm (with.url)") || !strings.Contains(got, "e2e") {
		t.Errorf("history panel entry: %q", got)
	}
	b.click("#history-open")
	b.visible("#diff-table")
	if got := b.text("#diff-table tbody"); !strings.Contains(got, "step to_crm › with › url") || !strings.Contains(got, "https://crm.example.com/a") || !strings.Contains(got, "https://crm.example.com/b") {
		t.Errorf("diff 1→2: %q", got)
	}
	if got := b.text("#state-changes"); !strings.Contains(got, "turned off by "+brUser) {
		t.Errorf("state changes: %q", got)
	}
	// Compare the other way round.
	b.choose("#compare-from", "2")
	b.choose("#compare-to", "1")
	b.click("#compare-submit")
	for !strings.Contains(b.location(), "from=2&to=1") {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("compare did not load: at %s", b.location())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.waitText("#diff-title", "From version 2 to version 1")
	b.fullScreenshot("flow-history.png")

	b.click("#restore-1")
	b.visible("#flash")
	b.visible("#version-3")
	if got := b.text("#version-3 .version-summary"); !strings.HasPrefix(got, "restored version 1") {
		t.Errorf("restored version summary: %q", got)
	}
	if got := b.text("#version-3"); !strings.Contains(got, brUser) {
		t.Errorf("restored by: %q", got)
	}
	var ver struct {
		Flow struct {
			Enabled bool `json:"enabled"`
			Steps   []struct {
				With map[string]any `json:"with"`
			} `json:"steps"`
		} `json:"flow"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/leads", nil), &ver)
	if ver.Flow.Steps[1].With["url"] != "https://crm.example.com/a" || ver.Flow.Enabled {
		t.Errorf("flow after restore: %+v", ver.Flow)
	}
}
