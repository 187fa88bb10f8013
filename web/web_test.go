package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
	_ "github.com/switchyard/switchyard/connectors/dataset"
	"github.com/switchyard/switchyard/connectors/egress"
	_ "github.com/switchyard/switchyard/connectors/httpreq"
	_ "github.com/switchyard/switchyard/connectors/respond"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
)

type fixture struct {
	srv   *Server
	eng   *engine.Engine
	acc   *auth.Service
	token string
}

func newFixture(t *testing.T, cfg engine.Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := boltstore.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := engine.NewKeyring(make([]byte, 32))
	cfg.Store, cfg.Keyring = s, keys
	cfg.HTTP = egress.NewClient(egress.MustParseAllow("127.0.0.1/32"))
	eng, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	acc := auth.New(s, nil)
	tok, _, err := acc.CreateToken(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Stop(); s.Close() })
	return &fixture{srv: New(eng, acc, Config{}), eng: eng, acc: acc, token: tok}
}

func (f *fixture) do(t *testing.T, method, path, ctype, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func TestDedupeDuplicateDelivery(t *testing.T) {
	f := newFixture(t, engine.Config{})
	resp, body := f.do(t, "POST", "/api/flows", "application/json", `{"id": "gh", "name": "gh", "enabled": true,
	  "trigger": {"type": "webhook", "path": "gh", "dedupe": "trigger.headers['x-github-delivery']"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`)
	if resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	r1, b1 := f.do(t, "POST", "/hooks/gh", "application/json", `{}`, "X-GitHub-Delivery", "d-1")
	r2, b2 := f.do(t, "POST", "/hooks/gh", "application/json", `{}`, "X-GitHub-Delivery", "d-1")
	r3, _ := f.do(t, "POST", "/hooks/gh", "application/json", `{}`, "X-GitHub-Delivery", "d-2")
	if r1.StatusCode != 202 || r2.StatusCode != 200 || r3.StatusCode != 202 {
		t.Fatalf("statuses %d %d %d", r1.StatusCode, r2.StatusCode, r3.StatusCode)
	}
	if r2.Header.Get("Switchyard-Duplicate") != "true" || r2.Header.Get("Switchyard-Run-Id") != r1.Header.Get("Switchyard-Run-Id") {
		t.Fatalf("duplicate answer: %v %s / first %s", r2.Header, b2, b1)
	}
	page, _ := f.eng.ListRuns(context.Background(), engine.RunFilter{})
	if len(page.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(page.Runs))
	}
}

func TestSaturated429(t *testing.T) {
	block := make(chan struct{})
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer down.Close()
	defer close(block)
	f := newFixture(t, engine.Config{Workers: 1, QueueLimit: 2})
	f.do(t, "POST", "/api/flows", "application/json", `{"id": "s", "name": "s", "enabled": true,
	  "trigger": {"type": "webhook", "path": "s"},
	  "steps": [{"id": "c", "use": "http.request", "with": {"url": "`+down.URL+`"}}]}`)
	for i := 0; i < 2; i++ {
		if r, b := f.do(t, "POST", "/hooks/s", "application/json", `{}`); r.StatusCode != 202 {
			t.Fatalf("%d %s", r.StatusCode, b)
		}
	}
	r, b := f.do(t, "POST", "/hooks/s", "application/json", `{}`)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" || !strings.Contains(b, "saturated") {
		t.Fatalf("%d %v %s", r.StatusCode, r.Header, b)
	}
	page, _ := f.eng.ListRuns(context.Background(), engine.RunFilter{})
	if len(page.Runs) != 2 {
		t.Fatalf("%d runs stored, want 2", len(page.Runs))
	}
}

func TestAPIErrorsAreJSON(t *testing.T) {
	f := newFixture(t, engine.Config{})
	tests := []struct {
		method, path, ctype, body string
		status                    int
		msg                       string
	}{
		{"GET", "/api/flows/nope", "", "", 404, "not found"},
		{"GET", "/api/runs/run_zz", "", "", 404, "malformed id"},
		{"GET", "/api/runs?status=odd", "", "", 400, "status"},
		{"GET", "/api/runs?limit=-1", "", "", 400, "limit"},
		{"GET", "/api/runs?cursor=xyz", "", "", 400, "cursor"},
		{"POST", "/api/flows", "text/plain", "{}", 415, "application/json"},
		{"POST", "/api/flows", "application/json", `{"id": "x", "nme": "y"}`, 400, "nme"},
		{"POST", "/api/connections", "application/json", `{"name": "c", "type": "nope", "values": {}}`, 400, "unknown connection type"},
		{"POST", "/api/connections", "application/json", `{"name": "c", "type": "secret", "values": {}}`, 400, "values.value"},
		{"DELETE", "/api/connections/none", "", "", 404, "not found"},
		{"POST", "/api/runs/run_0000000000000001/retry", "", "", 404, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r, b := f.do(t, tc.method, tc.path, tc.ctype, tc.body)
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(b), &e); err != nil || e.Error == "" {
				t.Fatalf("not a JSON error: %s", b)
			}
			if r.StatusCode != tc.status || !strings.Contains(b, tc.msg) {
				t.Fatalf("%d %s; want %d mentioning %q", r.StatusCode, b, tc.status, tc.msg)
			}
		})
	}
}

func TestSchemaAndConnectors(t *testing.T) {
	f := newFixture(t, engine.Config{})
	r, b := f.do(t, "GET", "/api/schema/flow", "", "")
	var schema map[string]any
	if r.StatusCode != 200 || json.Unmarshal([]byte(b), &schema) != nil || schema["$schema"] == nil {
		t.Fatalf("schema: %d %.200s", r.StatusCode, b)
	}
	if !strings.Contains(b, "http.request") {
		t.Error("schema does not list the connectors in use")
	}
	r, b = f.do(t, "GET", "/api/connectors", "", "")
	if r.StatusCode != 200 || !strings.Contains(b, `"id":"http.request"`) || !strings.Contains(b, `"connection_types"`) {
		t.Fatalf("connectors: %d %.300s", r.StatusCode, b)
	}
	r, b = f.do(t, "GET", "/metrics", "", "", "Authorization", "Bearer "+f.token)
	if r.StatusCode != 200 || !strings.Contains(b, "switchyard_events_accepted_total 0") {
		t.Fatalf("metrics: %s", b)
	}
	// On the main listener /metrics needs a token.
	if r, b = f.do(t, "GET", "/metrics", "", ""); r.StatusCode != 401 {
		t.Fatalf("metrics without a token: %d %s", r.StatusCode, b)
	}
}

func TestTestEndpointRunsDry(t *testing.T) {
	f := newFixture(t, engine.Config{})
	f.do(t, "POST", "/api/flows", "application/json", `{"id": "t", "name": "t", "enabled": true,
	  "trigger": {"type": "webhook", "path": "t"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"double": "{{ trigger.body.n * 2 }}"}},
	            {"id": "b", "use": "http.request", "with": {"url": "https://api.example.com/x", "method": "POST", "body": {"v": "{{ steps.a.output.double }}"}}}]}`)
	r, b := f.do(t, "POST", "/api/flows/t/test", "application/json", `{"payload": {"n": 21}, "dry": true}`)
	if r.StatusCode != 200 || !strings.Contains(b, `"double":42`) || !strings.Contains(b, `"dry_run":true`) {
		t.Fatalf("%d %s", r.StatusCode, b)
	}
	page, _ := f.eng.ListRuns(context.Background(), engine.RunFilter{})
	if len(page.Runs) != 0 {
		t.Fatal("a test run was stored")
	}
}

func FuzzCheckBody(f *testing.F) {
	f.Add("application/json", []byte(`{"a":1}`))
	f.Add("application/x-www-form-urlencoded", []byte("a=1&b=%zz"))
	f.Add("text/plain; charset=utf-8", []byte("hello"))
	f.Add("application/vnd.api+json", []byte(`[1,2`))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		err := checkBody(ctype, body)
		if err == nil && len(body) > 0 {
			// Whatever ingress accepts, the engine must be able to read.
			if _, perr := engine.ParseBody(ctype, body); perr != nil {
				t.Fatalf("accepted %q body %q that the engine cannot parse: %v", ctype, body, perr)
			}
		}
	})
}

// TestAPIBodyLimit: every route but webhooks caps its body; past the cap
// the answer is a JSON 413 and nothing is read further.
func TestAPIBodyLimit(t *testing.T) {
	f := newFixture(t, engine.Config{})
	big := `{"id": "x", "name": "` + strings.Repeat("a", maxAPIBody) + `"}`
	r, b := f.do(t, "POST", "/api/flows", "application/json", big)
	if r.StatusCode != 413 || !strings.Contains(b, `"error"`) {
		t.Fatalf("%d %.200s", r.StatusCode, b)
	}
	if len(f.eng.Flows()) != 0 {
		t.Fatal("an oversize flow was stored")
	}
}

// FuzzIngressBody: decompression under the cap and the nesting scanner
// never panic, and nothing decoded ever exceeds the limit.
func FuzzIngressBody(f *testing.F) {
	f.Add("gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}, `{"a":[[1]]}`)
	f.Add("deflate", []byte{0x78, 0x9c, 3, 0, 0, 0, 0, 1}, `"\"[[["`)
	f.Add("", []byte(`[{"x":"]"}]`), `[[[[`)
	f.Fuzz(func(t *testing.T, encoding string, body []byte, doc string) {
		const limit = 1 << 16
		out, err := decode(encoding, body, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("decoded %d bytes past the %d limit", len(out), limit)
		}
		// Depth can only come from brackets.
		if jsonDepth([]byte(doc), 3) && strings.Count(doc, "[")+strings.Count(doc, "{") <= 3 {
			t.Fatalf("%q reported deeper than 3", doc)
		}
	})
}
