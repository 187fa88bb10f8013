package web

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// A sync webhook whose run fails tells its caller that it failed and the
// run id; the step's error, with the internal host and the remote's words,
// stays in the run history.
func TestSyncFailureAnswerIsGeneric(t *testing.T) {
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error": "replica db-7.corp.internal refused user billing_rw"}`))
	}))
	defer internal.Close()
	f := newFixture(t, engine.Config{})
	createFlow(t, f, `{"id": "sf", "name": "sf", "enabled": true,
	  "trigger": {"type": "webhook", "path": "sf", "respond": "sync"},
	  "steps": [{"id": "call", "use": "http.request", "with": {"method": "POST", "url": "`+internal.URL+`/private/ledger"}}]}`)
	resp, body := f.do(t, "POST", "/hooks/sf", "application/json", `{"n": 1}`)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got errorBody
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.RunID == "" || got.Error != syncFailed(got.RunID) {
		t.Fatalf("want the generic message and the run id: %s (%v)", body, err)
	}
	for _, leak := range []string{"db-7", "billing_rw", "/private/ledger", "127.0.0.1", "400", "http.request"} {
		if strings.Contains(body, leak) {
			t.Errorf("the answer tells the caller %q: %s", leak, body)
		}
	}
	run := waitRun(t, f.eng, got.RunID)
	if run.Status != engine.RunFailed || !strings.Contains(run.Error+run.Steps[0].Error, "db-7.corp.internal") {
		t.Fatalf("the run history lost the detail: %s %q %q", run.Status, run.Error, run.Steps[0].Error)
	}
}

// respondFlow is a sync webhook whose answer is HTML built from the
// payload, with headers that try to loosen the sandbox, plant the UI's
// session cookie and pose as another request.
const respondFlow = `{"id": "page", "name": "page", "enabled": true,
  "trigger": {"type": "webhook", "path": "page", "respond": "sync"},
  "steps": [{"id": "r", "use": "webhook.respond", "with": {"status": 200,
    "headers": {"Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": "default-src *; script-src * 'unsafe-inline'",
      "Set-Cookie": "switchyard_session=planted; Path=/",
      "X-Request-Id": "forged", "Switchyard-Run-Id": "run_forged",
      "X-Content-Type-Options": "sniff", "Cache-Control": "no-store"},
    "body": "<p>Hello {{ trigger.body.name }}</p>"}}]}`

func TestHookAnswersAreSandboxed(t *testing.T) {
	f := newFixture(t, engine.Config{})
	createFlow(t, f, respondFlow)
	resp, body := f.do(t, "POST", "/hooks/page", "application/json", `{"name": "<script>alert(document.cookie)</script>"}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "<script>alert(document.cookie)</script>") {
		t.Fatalf("the flow's answer: %d %s", resp.StatusCode, body)
	}
	checkHookHeaders(t, resp, hookPolicy)
	// Every other answer under /hooks/ is sandboxed as well.
	r404, _ := f.do(t, "GET", "/hooks/nothing-here", "", "")
	if got := r404.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != hookPolicy {
		t.Errorf("404 under /hooks/: CSP %q", got)
	}
}

// checkHookHeaders checks a flow's answer kept our policy (and its own as
// a second one) and none of the headers it may not set.
func checkHookHeaders(t *testing.T, resp *http.Response, policy string) {
	t.Helper()
	csp := resp.Header.Values("Content-Security-Policy")
	if len(csp) != 2 || !slices.Contains(csp, policy) || !slices.Contains(csp, "default-src *; script-src * 'unsafe-inline'") {
		t.Errorf("CSP %q: want ours (%s) and the flow's as a second policy", csp, policy)
	}
	if ck := resp.Header.Values("Set-Cookie"); len(ck) != 0 {
		t.Errorf("the flow set cookies: %q", ck)
	}
	if id := resp.Header.Get(HeaderRequestID); id == "" || id == "forged" {
		t.Errorf("request id %q", id)
	}
	if id := resp.Header.Get(headerRunID); id == "run_forged" {
		t.Errorf("run id %q", id)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", resp.Header.Get("X-Content-Type-Options"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("an ordinary header the flow set is gone")
	}
}

// With --hooks-addr, webhooks have a listener of their own: it serves
// only webhooks and health checks, the main one no webhooks, and the UI
// shows webhook URLs on it.
func TestHooksListener(t *testing.T) {
	f := newFixture(t, engine.Config{})
	hooksLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(f.eng, f.acc, Config{HooksAddr: hooksLn.Addr().String()})
	go func() { _ = srv.HooksApp().Listener(hooksLn) }()
	mainAddr := listen(t, srv)
	createFlow(t, f, respondFlow)
	get := func(method, base, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	hooks := hooksLn.Addr().String()
	resp, body := get("POST", hooks, "/hooks/page", `{"name": "Ada"}`)
	if resp.StatusCode != 200 || body != "<p>Hello Ada</p>" {
		t.Fatalf("webhook on the hooks listener: %d %s", resp.StatusCode, body)
	}
	checkHookHeaders(t, resp, hooksListenerPolicy)
	if !strings.Contains(hooksListenerPolicy, "sandbox") || strings.Contains(hooksListenerPolicy, "allow-same-origin") {
		t.Fatal("the hooks listener's answers must stay in an opaque origin")
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r, _ := get("GET", hooks, path, ""); r.StatusCode != 200 {
			t.Errorf("GET %s on the hooks listener: %d", path, r.StatusCode)
		}
	}
	for _, path := range []string{"/api/flows", "/flows", "/login", "/", "/static/app.js", "/metrics"} {
		if r, body := get("GET", hooks, path, ""); r.StatusCode != 404 || !strings.HasPrefix(body, `{"error"`) {
			t.Errorf("GET %s on the hooks listener: %d %.100s", path, r.StatusCode, body)
		}
	}
	if r, body := get("POST", mainAddr, "/hooks/page", `{"name": "Ada"}`); r.StatusCode != 404 || !strings.Contains(body, "hooks listener") {
		t.Errorf("webhook on the main listener: %d %s", r.StatusCode, body)
	}
	if n := len(runsOf(t, f, "page")); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
	_, body = get("GET", mainAddr, "/api/flows/page", "")
	if want := `"webhook_url":"http://127.0.0.1:` + hooks[strings.LastIndex(hooks, ":")+1:] + `/hooks/page"`; !strings.Contains(body, want) {
		t.Errorf("webhook URL: want %s in %s", want, body)
	}
	pub := New(f.eng, f.acc, Config{HooksAddr: hooks, HooksPublicURL: "https://hooks.example.net/"})
	if r, body := (&fixture{srv: pub, eng: f.eng, token: f.token}).do(t, "GET", "/api/flows/page", "", ""); r.StatusCode != 200 ||
		!strings.Contains(body, `"webhook_url":"https://hooks.example.net/hooks/page"`) {
		t.Errorf("webhook URL with a hooks public URL: %s", body)
	}
}
