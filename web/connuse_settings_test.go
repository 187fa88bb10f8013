package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestDeleteConnectionUsedBySettings: the secret the settings' run
// notifications sign with is in use like a flow's connection: the API
// answers 409 saying so, the UI asks first and names the settings, and
// force deletes it.
func TestDeleteConnectionUsedBySettings(t *testing.T) {
	f := newFixture(t, engine.Config{})
	mustDo := func(method, path, body string, want int) string {
		t.Helper()
		r, out := f.do(t, method, path, "application/json", body)
		if r.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, r.StatusCode, out)
		}
		return out
	}
	mustDo("POST", "/api/signing-secrets", `{"name": "ops_notify"}`, 201)
	mustDo("PUT", "/api/settings", `{"notify": {"url": "https://hooks.example.com/sy", "secret": "ops_notify", "events": ["run.failed"]}}`, 200)

	var p struct {
		Detail   string   `json:"detail"`
		Flows    []string `json:"flows"`
		Settings bool     `json:"settings"`
	}
	json.Unmarshal([]byte(mustDo("DELETE", "/api/connections/ops_notify", "", 409)), &p)
	if !p.Settings || len(p.Flows) != 0 || !strings.Contains(p.Detail, "settings' run notifications") {
		t.Fatalf("409 answer %+v", p)
	}

	b := signIn(t, f.srv)
	r, page := b.post("/connections/ops_notify/delete", nil)
	if r.StatusCode != 409 || !strings.Contains(page, `id="connection-in-settings"`) {
		t.Fatalf("UI delete: %d, settings named: %v", r.StatusCode, strings.Contains(page, `id="connection-in-settings"`))
	}
	mustDo("DELETE", "/api/connections/ops_notify?force=true", "", 204)
	mustDo("DELETE", "/api/connections/ops_notify", "", 404)
}
