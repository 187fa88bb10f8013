package web

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	_ "github.com/switchyard/switchyard/connectors/flowcall"
	"github.com/switchyard/switchyard/engine"
)

// TestSettingsAPI: the settings round-trip, refuse unknown flows and bad
// endpoints with field paths, a signing secret is shown once, and a flow
// that others call (or the settings name) cannot be deleted.
func TestSettingsAPI(t *testing.T) {
	f := newFixture(t, engine.Config{})
	mustDo := func(method, path, body string, want int) string {
		t.Helper()
		r, out := f.do(t, method, path, "application/json", body)
		if r.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.StatusCode, out, want)
		}
		return out
	}
	mustDo("POST", "/api/flows", `{"id": "alert", "name": "Alert", "enabled": true, "trigger": {"type": "call"}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`, 201)
	mustDo("POST", "/api/flows", `{"id": "intake", "name": "Intake", "enabled": true, "trigger": {"type": "manual"}, "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "alert"}}]}`, 201)

	if out := mustDo("GET", "/api/settings", "", 200); strings.TrimSpace(out) != "{}" {
		t.Fatalf("empty settings: %s", out)
	}
	out := mustDo("PUT", "/api/settings", `{"on_failure": {"flow": "ghost"}, "notify": {"url": "ftp://x", "secret": "nope"}}`, 400)
	for _, want := range []string{`"field":"on_failure.flow"`, `unknown flow \"ghost\"`, `"field":"notify.url"`, `"field":"notify.secret"`} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal lacks %s: %s", want, out)
		}
	}
	var sec signingSecretAnswer
	json.Unmarshal([]byte(mustDo("POST", "/api/signing-secrets", `{"name": "ops_notify"}`, 201)), &sec)
	if sec.Connection != "ops_notify" || !strings.HasPrefix(sec.Secret, "whsec_") {
		t.Fatalf("signing secret %+v", sec)
	}
	if out := mustDo("GET", "/api/connections", "", 200); strings.Contains(out, sec.Secret) || !strings.Contains(out, `"ops_notify"`) {
		t.Fatalf("connections list: %s", out)
	}
	body := `{"on_failure": {"flow": "alert"}, "notify": {"url": "https://hooks.example.com/sy", "secret": "ops_notify", "events": ["run.failed"]}}`
	mustDo("PUT", "/api/settings", body, 200)
	var got engine.Settings
	json.Unmarshal([]byte(mustDo("GET", "/api/settings", "", 200)), &got)
	if got.OnFailure == nil || got.OnFailure.Flow != "alert" || got.Notify == nil || got.Notify.Secret != "ops_notify" || len(got.Notify.Events) != 1 {
		t.Fatalf("settings read back %+v", got)
	}
	out = mustDo("DELETE", "/api/flows/alert", "", 409)
	if !strings.Contains(out, `"flows":["flow intake","settings"]`) || !strings.Contains(out, "application/problem+json") && !strings.Contains(out, `"status":409`) {
		t.Fatalf("delete of a called flow: %s", out)
	}
	mustDo("DELETE", "/api/flows/intake", "", 204)
	mustDo("PUT", "/api/settings", `{}`, 200)
	mustDo("DELETE", "/api/flows/alert", "", 204)
}

// TestSettingsPage: the page makes a signing secret and shows it once,
// saves the default error flow and endpoint, and shows refusals by field.
func TestSettingsPage(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	if r, out := f.do(t, "POST", "/api/flows", "application/json", `{"id": "alert", "name": "Alert", "enabled": true, "trigger": {"type": "call"}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`); r.StatusCode != 201 {
		t.Fatal(out)
	}
	_, page := b.do("GET", "/settings", nil)
	if !strings.Contains(page, `id="on_failure-flow"`) || !strings.Contains(page, `value="alert"`) || !strings.Contains(page, `id="notify-url"`) {
		t.Fatalf("settings page: %.2000s", page)
	}
	r, page := b.post("/settings", url.Values{"on_failure.flow": {"alert"}, "notify.url": {"https://hooks.example.com/x"}, "_op": {"signingsecret:notify"}})
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(page)
	if r.StatusCode != 200 || secret == "" || !strings.Contains(page, `<option value="notify" selected`) {
		t.Fatalf("make a secret: %d %.3000s", r.StatusCode, page)
	}
	if r, out := b.post("/settings", url.Values{"notify.url": {"not a url"}, "notify.secret": {"notify"}}); r.StatusCode != 422 || !strings.Contains(out, "not an absolute http or https URL") {
		t.Fatalf("bad URL: %d", r.StatusCode)
	}
	r, _ = b.post("/settings", url.Values{"on_failure.flow": {"alert"}, "notify.url": {"https://hooks.example.com/x"}, "notify.secret": {"notify"},
		"notify.events": {"run.failed", "step.failed"}})
	if r.StatusCode != 303 {
		t.Fatalf("save: %d", r.StatusCode)
	}
	got := f.eng.Settings()
	if got.OnFailure.Flow != "alert" || got.Notify.Secret != "notify" || strings.Join(got.Notify.Events, ",") != "run.failed,step.failed" {
		t.Fatalf("saved %+v %+v", got.OnFailure, got.Notify)
	}
	if _, page = b.do("GET", "/settings", nil); strings.Contains(page, secret) {
		t.Fatal("the secret is shown again")
	}
}
