package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestConnectionTestAPI: POST /api/connections/{name}/test answers
// {"ok", "message"} whether or not the connection works, never with the
// secret; a type without a test says so; a missing connection is 404.
func TestConnectionTestAPI(t *testing.T) {
	const token = "tok-very-secret"
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/me" || r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("invalid token " + r.Header.Get("Authorization")))
			return
		}
		w.Write([]byte(`{"id": 1}`))
	}))
	defer svc.Close()
	f := newFixture(t, engine.Config{})
	for _, c := range []string{
		`{"name": "api", "type": "http_bearer", "values": {"token": "` + token + `"}}`,
		`{"name": "wrong", "type": "http_bearer", "values": {"token": "wrong-secret-value"}}`,
		`{"name": "sig", "type": "secret", "values": {"value": "whsec-secret"}}`,
	} {
		if r, b := f.do(t, "POST", "/api/connections", "application/json", c); r.StatusCode != 201 {
			t.Fatalf("create: %d %s", r.StatusCode, b)
		}
	}
	for _, tc := range []struct {
		name, body string
		status     int
		ok         bool
		msg        string
	}{
		{"api", `{"url": "` + svc.URL + `/me"}`, 200, true, "Works: GET " + svc.URL + "/me answered 200."},
		{"wrong", `{"url": "` + svc.URL + `/me"}`, 200, false, "refused the credential"},
		{"api", "", 200, false, "give the URL"},
		{"sig", "", 200, false, "have no test"},
		{"api", `{"url": "http://169.254.169.254/latest/meta-data"}`, 200, false, "Does not work"},
		{"nope", "", 404, false, "not found"},
		{"api", `{"uri": "x"}`, 400, false, "malformed"},
	} {
		ctype := ""
		if tc.body != "" {
			ctype = "application/json"
		}
		r, b := f.do(t, "POST", "/api/connections/"+tc.name+"/test", ctype, tc.body)
		var out struct {
			OK      bool   `json:"ok"`
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal([]byte(b), &out); err != nil || r.StatusCode != tc.status || out.OK != tc.ok || !strings.Contains(out.Message+out.Error, tc.msg) {
			t.Errorf("%s %s: %d %s", tc.name, tc.body, r.StatusCode, b)
		}
		for _, secret := range []string{token, "wrong-secret-value", "whsec-secret"} {
			if strings.Contains(b, secret) {
				t.Errorf("%s: answer shows a secret: %s", tc.name, b)
			}
		}
	}
	r, b := f.do(t, "GET", "/api/connectors", "", "")
	if r.StatusCode != 200 || !strings.Contains(b, `"id":"http_bearer"`) || !strings.Contains(b, `"testable":true,"test_needs_url":true`) {
		t.Fatalf("connectors: %d %s", r.StatusCode, b)
	}
}
