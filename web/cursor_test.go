package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestListCursorMalformed: every listing paged by a cursor answers a
// cursor it never gave out with 400 problem+json naming the field, as it
// answers a bad limit: never 404 or 500, whatever the text.
func TestListCursorMalformed(t *testing.T) {
	f := newFixture(t, engine.Config{})
	if r, b := f.do(t, "POST", "/api/flows", "application/json", `{"id": "f", "name": "f", "enabled": true,
	  "trigger": {"type": "webhook", "path": "f"}, "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`); r.StatusCode != 201 {
		t.Fatalf("%d %s", r.StatusCode, b)
	}
	if r, b := f.do(t, "PUT", "/api/store/ns/k", "application/json", `{"value": 1}`); r.StatusCode/100 != 2 {
		t.Fatalf("%d %s", r.StatusCode, b)
	}
	routes := []struct{ path, param string }{
		{"/api/runs", "cursor"},
		{"/api/runs?status=failed&resolved=false", "cursor"},
		{"/api/runs?q=ada", "cursor"},
		{"/api/runs?flow=f", "cursor"},
		{"/api/refusals", "cursor"},
		{"/api/flows/f/refusals", "cursor"},
		{"/api/audit", "cursor"},
	}
	cursors := []string{"garbage", "xyz", "run_zz", "run_0000000000000001x", "0", "-1", "18446744073709551616", "%00", "%E2%82%AC", "9223372036854775808", strings.Repeat("a", 5000)}
	for _, rt := range routes {
		for _, cur := range cursors {
			sep := "?"
			if strings.Contains(rt.path, "?") {
				sep = "&"
			}
			path := rt.path + sep + rt.param + "=" + cur
			r, body := f.do(t, "GET", path, "", "")
			var p struct {
				Status  int    `json:"status"`
				Detail  string `json:"detail"`
				Details []struct {
					Field string `json:"field"`
				} `json:"details"`
			}
			_ = json.Unmarshal([]byte(body), &p)
			name := path
			if len(name) > 80 {
				name = name[:80] + "…"
			}
			if r.StatusCode != 400 || r.Header.Get("Content-Type") != ProblemContentType || p.Status != 400 ||
				len(p.Details) != 1 || p.Details[0].Field != rt.param {
				t.Errorf("GET %s: %d %s %.300s", name, r.StatusCode, r.Header.Get("Content-Type"), body)
			}
		}
	}
}
