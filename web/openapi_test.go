package web

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/internal/apicheck"
)

// TestOpenAPICoversRoutes holds apiDocs (web/openapi.go) to the route
// table: every /api route Fiber serves needs a description, and every
// description a route.
func TestOpenAPICoversRoutes(t *testing.T) {
	f := newFixture(t, engine.Config{})
	described := map[string]bool{}
	for _, d := range apiDocs {
		described[d.method+" "+d.path] = true
	}
	served := map[string]bool{}
	for _, r := range f.srv.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "CONNECT" || strings.Contains(r.Path, "*") {
			continue
		}
		if !strings.HasPrefix(r.Path, "/api/") && !described[r.Method+" "+r.Path] {
			continue
		}
		key := r.Method + " " + r.Path
		served[key] = true
		if !described[key] {
			t.Errorf("route %s (web/routes.go) has no API description.\n"+
				"Add an entry to apiDocs in web/openapi.go: method and path as written in routes.go, a one-line summary, a tag,\n"+
				"the request body's Go type (body) and each success answer with the Go type the handler answers with (answers);\n"+
				"errors are covered by the default problem answer. Then regenerate the committed copy from the repository root:\n"+
				"\tgo run ./cmd/switchyard docs openapi > docs/openapi.json", key)
		}
	}
	for key := range described {
		if !served[key] {
			t.Errorf("apiDocs in web/openapi.go describes %s, which the route table (web/routes.go) does not serve: remove or fix the entry", key)
		}
	}
}

// TestOpenAPIValid compiles every schema of the document with a JSON
// Schema 2020-12 validator and checks its structure.
func TestOpenAPIValid(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	ck, err := apicheck.New(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.CompileAll(); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for p, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			o := op.(map[string]any)
			id := o["operationId"].(string)
			if ids[id] {
				t.Errorf("%s %s: duplicate operationId %s", m, p, id)
			}
			ids[id] = true
			if o["summary"] == "" {
				t.Errorf("%s %s: no summary", m, p)
			}
		}
	}
}

// TestAnswersMatchOpenAPI validates real answers of the in-process server,
// errors included, against the document.
func TestAnswersMatchOpenAPI(t *testing.T) {
	f := newFixture(t, engine.Config{})
	ck, err := apicheck.New(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	flow := `{"id": "o", "name": "o", "enabled": true, "trigger": {"type": "webhook", "path": "o"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`
	calls := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/flows", flow, 201},
		{"POST", "/api/flows", flow, 409},
		{"POST", "/api/flows", `{"id": "x"}`, 400},
		{"GET", "/api/flows", "", 200},
		{"GET", "/api/flows/o", "", 200},
		{"GET", "/api/flows/nope", "", 404},
		{"PUT", "/api/flows/o", flow, 200},
		{"GET", "/api/flows/o/versions", "", 200},
		{"GET", "/api/flows/o/versions/1", "", 200},
		{"POST", "/api/flows/o/versions/1/restore", "", 200},
		{"POST", "/api/flows/o/test", `{"payload": {"n": 1}}`, 200},
		{"POST", "/api/flows/o/run", `{"payload": {"n": 1}}`, 202},
		{"GET", "/api/flows/o/refusals", "", 200},
		{"GET", "/api/runs?limit=5", "", 200},
		{"GET", "/api/runs?status=bogus", "", 400},
		{"GET", "/api/connectors", "", 200},
		{"POST", "/api/connections", `{"name": "k", "type": "secret", "values": {"value": "v"}}`, 201},
		{"GET", "/api/connections", "", 200},
		{"POST", "/api/connections/k/test", "", 200},
		{"DELETE", "/api/connections/k", "", 204},
		{"PUT", "/api/store/o/conv%3A1", `{"value": {"n": 1}, "ttl": "1h"}`, 200},
		{"PUT", "/api/store/o/big", `{"value": "` + strings.Repeat("x", 70000) + `"}`, 413},
		{"PUT", "/api/store/o/k", `{"ttl": "1h"}`, 400},
		{"GET", "/api/store", "", 200},
		{"GET", "/api/store/o", "", 200},
		{"GET", "/api/store/o/conv%3A1", "", 200},
		{"GET", "/api/store/o/none", "", 404},
		{"GET", "/api/store/bad%2Fns", "", 400},
		{"DELETE", "/api/store/o/conv%3A1", "", 204},
		{"DELETE", "/api/store/o/conv%3A1", "", 404},
		{"PATCH", "/api/flows/o", flow, 405},
		{"GET", "/api/schema/flow", "", 200},
		{"GET", "/api/openapi.json", "", 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"DELETE", "/api/flows/o", "", 204},
	}
	for _, c := range calls {
		ctype := ""
		if c.body != "" {
			ctype = "application/json"
		}
		resp, body := f.do(t, c.method, c.path, ctype, c.body)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, body)
			continue
		}
		if err := ck.Check(c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), []byte(body)); err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
		}
	}
}

// TestWrongMethod405 answers a method a path does not take with 405, the
// methods it does take in Allow, and a problem body.
func TestWrongMethod405(t *testing.T) {
	f := newFixture(t, engine.Config{})
	resp, body := f.do(t, "PATCH", "/api/flows/x", "application/json", `{}`)
	if resp.StatusCode != 405 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	allow := strings.Split(resp.Header.Get("Allow"), ", ")
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		if !slices.Contains(allow, m) {
			t.Errorf("Allow %q lacks %s", resp.Header.Get("Allow"), m)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != ProblemContentType {
		t.Errorf("content type %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if p["status"] != float64(405) || p["title"] != "Method Not Allowed" || p["type"] != "about:blank" || p["detail"] != p["error"] || p["error"] == "" {
		t.Errorf("problem %v", p)
	}
	// A path no route has stays 404.
	if resp, body := f.do(t, "PATCH", "/api/nothing/here", "application/json", `{}`); resp.StatusCode != 404 {
		t.Errorf("unknown path: %d %s", resp.StatusCode, body)
	}
}
