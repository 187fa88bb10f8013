package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// browser is a cookie-keeping client of the UI, as a browser would be.
type browser struct {
	t       *testing.T
	srv     *Server
	cookies map[string]*http.Cookie
	csrf    string
}

func newBrowser(t *testing.T, srv *Server) *browser {
	return &browser{t: t, srv: srv, cookies: map[string]*http.Cookie{}}
}

// do sends a request with the browser's cookies and keeps the ones set.
func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.srv.App().Test(req, 30000)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// post sends a form with the current CSRF token.
func (b *browser) post(path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", b.csrf)
	return b.do("POST", path, form, hdr...)
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// formToken reads the _csrf field of a page.
func formToken(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no _csrf field in page: %.300s", page)
	}
	return html.UnescapeString(m[1])
}

const ownerPassword = "correct horse battery"

// signIn completes setup as a new user would and leaves the browser
// signed in with its CSRF token.
func signIn(t *testing.T, srv *Server) *browser {
	t.Helper()
	b := newBrowser(t, srv)
	_, page := b.do("GET", "/setup", nil)
	b.csrf = formToken(t, page)
	r, body := b.post("/setup", url.Values{"name": {"ada"}, "password": {ownerPassword}, "password2": {ownerPassword}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/flows" {
		t.Fatalf("setup: %d %s %.300s", r.StatusCode, r.Header.Get("Location"), body)
	}
	_, page = b.do("GET", "/flows", nil)
	b.csrf = formToken(t, page)
	return b
}

func TestUISetupLoginLogout(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := newBrowser(t, f.srv)
	for _, path := range []string{"/", "/flows", "/runs", "/login"} {
		if r, _ := b.do("GET", path, nil); r.StatusCode != 303 || r.Header.Get("Location") != "/setup" {
			t.Fatalf("GET %s before setup: %d %q", path, r.StatusCode, r.Header.Get("Location"))
		}
	}
	_, page := b.do("GET", "/setup", nil)
	for _, id := range []string{`id="setup-name"`, `id="setup-password"`, `id="setup-password2"`, `id="setup-submit"`} {
		if !strings.Contains(page, id) {
			t.Errorf("setup page lacks %s", id)
		}
	}
	form := url.Values{"name": {"ada"}, "password": {ownerPassword}, "password2": {ownerPassword}}
	if r, _ := b.do("POST", "/setup", form); r.StatusCode != 403 {
		t.Fatalf("setup without the form token: %d, want 403", r.StatusCode)
	}
	b.csrf = formToken(t, page)
	if r, body := b.post("/setup", url.Values{"name": {"ada"}, "password": {"short"}, "password2": {"short"}}); r.StatusCode != 400 || !strings.Contains(body, "at least 10") {
		t.Fatalf("short password: %d %.300s", r.StatusCode, body)
	}
	r, _ := b.post("/setup", form)
	if r.StatusCode != 303 {
		t.Fatalf("setup: %d", r.StatusCode)
	}
	ck := b.cookies[sessionCookie]
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Fatalf("session cookie flags: %+v", ck)
	}
	if r, _ := b.do("GET", "/setup", nil); r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Fatalf("setup after setup: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r, page = b.do("GET", "/flows", nil)
	if r.StatusCode != 200 || !strings.Contains(page, "ada") {
		t.Fatalf("flows page: %d", r.StatusCode)
	}
	b.csrf = formToken(t, page)
	if r, _ := b.post("/logout", nil); r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r, _ := b.do("GET", "/flows", nil); r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
		t.Fatalf("after logout: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	_, page = b.do("GET", "/login?next=/runs", nil)
	b.csrf = formToken(t, page)
	if r, body := b.post("/login", url.Values{"name": {"ada"}, "password": {"wrong password"}}); r.StatusCode != 401 || !strings.Contains(body, `id="login-error"`) {
		t.Fatalf("bad login: %d", r.StatusCode)
	}
	r, _ = b.post("/login", url.Values{"name": {"ada"}, "password": {ownerPassword}, "next": {"/runs"}})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/runs" || b.cookies[sessionCookie] == nil {
		t.Fatalf("login: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// An open redirect is refused.
	b2 := newBrowser(t, f.srv)
	_, page = b2.do("GET", "/login", nil)
	b2.csrf = formToken(t, page)
	if r, _ := b2.post("/login", url.Values{"name": {"ada"}, "password": {ownerPassword}, "next": {"//evil.example/x"}}); r.Header.Get("Location") != "/" {
		t.Fatalf("next=//evil: redirected to %q", r.Header.Get("Location"))
	}
}

func TestUILoginThrottled(t *testing.T) {
	f := newFixture(t, engine.Config{})
	signIn(t, f.srv)
	b := newBrowser(t, f.srv)
	_, page := b.do("GET", "/login", nil)
	b.csrf = formToken(t, page)
	var last string
	var status int
	for i := 0; i < 7; i++ {
		r, body := b.post("/login", url.Values{"name": {"ada"}, "password": {"nope nope nope"}})
		status, last = r.StatusCode, body
	}
	if status != 429 || !strings.Contains(last, "Too many attempts") {
		t.Fatalf("after repeated failures: %d %.300s", status, last)
	}
}

func TestUISecureCookieBehindHTTPS(t *testing.T) {
	f := newFixture(t, engine.Config{})
	srv := New(f.eng, f.acc, Config{PublicURL: "https://automation.example.com"})
	b := newBrowser(t, srv)
	_, page := b.do("GET", "/setup", nil)
	if !b.cookies[preSessionCookie].Secure {
		t.Error("pre-session cookie not Secure with an https public URL")
	}
	b.csrf = formToken(t, page)
	b.post("/setup", url.Values{"name": {"ada"}, "password": {ownerPassword}, "password2": {ownerPassword}})
	if ck := b.cookies[sessionCookie]; ck == nil || !ck.Secure {
		t.Fatalf("session cookie not Secure with an https public URL: %+v", ck)
	}
}

func TestUICSRF(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "t", "name": "t", "enabled": true, "trigger": {"type": "webhook", "path": "t"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)

	r, body := b.do("POST", "/flows/t/toggle", url.Values{})
	if r.StatusCode != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("toggle without token: %d", r.StatusCode)
	}
	if r, _ := b.do("POST", "/flows/t/toggle", url.Values{"_csrf": {"forged"}}); r.StatusCode != 403 {
		t.Fatalf("toggle with a wrong token: %d", r.StatusCode)
	}
	if a, _ := f.eng.Flow("t"); !a.Flow().Enabled {
		t.Fatal("a refused request changed the flow")
	}
	if r, _ := b.post("/flows/t/toggle", nil); r.StatusCode != 303 {
		t.Fatalf("toggle with token: %d", r.StatusCode)
	}
	if a, _ := f.eng.Flow("t"); a.Flow().Enabled {
		t.Fatal("toggle did not disable the flow")
	}
	// htmx sends the token as a header and gets the row back.
	r, body = b.do("POST", "/flows/t/toggle", url.Values{}, "X-CSRF-Token", b.csrf, "HX-Request", "true")
	if r.StatusCode != 200 || !strings.Contains(body, `id="toggle-t"`) || !strings.Contains(body, `aria-checked="true"`) {
		t.Fatalf("htmx toggle: %d %.300s", r.StatusCode, body)
	}

	// The API takes the session cookie only with the X-CSRF-Token header.
	r, body = b.do("GET", "/api/flows", nil)
	if r.StatusCode != 403 || !strings.Contains(body, `"error"`) {
		t.Fatalf("API with cookie, no token: %d %s", r.StatusCode, body)
	}
	if r, _ := b.do("DELETE", "/api/flows/t", nil, "X-CSRF-Token", "forged"); r.StatusCode != 403 {
		t.Fatalf("API with cookie and a wrong token: %d", r.StatusCode)
	}
	if r, body := b.do("GET", "/api/flows", nil, "X-CSRF-Token", b.csrf); r.StatusCode != 200 || !strings.Contains(body, `"id":"t"`) {
		t.Fatalf("API with cookie and token: %d %s", r.StatusCode, body)
	}
	// Webhooks ignore the session entirely.
	if r, _ := b.do("POST", "/hooks/t", nil); r.StatusCode != 202 {
		t.Fatalf("webhook: %d", r.StatusCode)
	}
}

func TestUISecurityHeaders(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	for _, path := range []string{"/login", "/flows", "/runs", "/flows/new", "/static/app.js"} {
		r, _ := b.do("GET", path, nil)
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	_, page := b.do("GET", "/flows/new", nil)
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(page) || strings.Contains(page, " onclick=") || strings.Contains(page, "style=") {
		t.Error("the builder page holds inline script or style")
	}
}

func TestUIStaticAssets(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := newBrowser(t, f.srv)
	r, body := b.do("GET", "/static/vendor/htmx.min.js?v="+assetVersion, nil)
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") || !strings.Contains(r.Header.Get("Content-Type"), "javascript") || len(body) < 1000 {
		t.Fatalf("htmx: %d %v", r.StatusCode, r.Header)
	}
	if r, _ := b.do("GET", "/static/nope.js", nil); r.StatusCode != 404 {
		t.Fatalf("missing asset: %d", r.StatusCode)
	}
}

func createFlow(t *testing.T, f *fixture, body string) {
	t.Helper()
	if r, b := f.do(t, "POST", "/api/flows", "application/json", body); r.StatusCode != 201 {
		t.Fatalf("create flow: %d %s", r.StatusCode, b)
	}
}

// waitRun waits until a run is final.
func waitRun(t *testing.T, eng *engine.Engine, id string) *engine.Run {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		run, err := eng.Run(context.Background(), id)
		if err == nil && run.Status.Final() {
			return run
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish", id)
	return nil
}

func hook(t *testing.T, f *fixture, path, body string) string {
	t.Helper()
	r, b := f.do(t, "POST", "/hooks/"+path, "application/json", body)
	if r.StatusCode != 202 {
		t.Fatalf("webhook: %d %s", r.StatusCode, b)
	}
	var out struct {
		RunID string `json:"run_id"`
	}
	_ = json.Unmarshal([]byte(b), &out)
	return out.RunID
}

func TestUIRunDetailEscapesPayload(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "x", "name": "x", "enabled": true, "trigger": {"type": "webhook", "path": "x"},
	  "steps": [{"id": "echo", "use": "data.set", "with": {"name": "{{ trigger.body.name }}"}}]}`)
	payload := `{"name": "<img src=x onerror=alert(1)>", "note": "</script><script>alert(2)</script>", "__proto__": {"polluted": true}}`
	id := hook(t, f, "x", payload)
	waitRun(t, f.eng, id)
	r, page := b.do("GET", "/runs/"+id, nil)
	if r.StatusCode != 200 {
		t.Fatalf("run page: %d", r.StatusCode)
	}
	if strings.Contains(page, "<img src=x") || strings.Contains(page, "<script>alert") {
		t.Fatal("payload rendered as markup")
	}
	if got, own := strings.Count(page, "</script>"), strings.Count(page, "<script src=\"/static/"); got != own || own < 2 {
		t.Fatalf("%d </script> in the page, want only the %d of its own script tags", got, own)
	}
	for _, want := range []string{"&lt;img src=x onerror=alert(1)&gt;", "&lt;/script&gt;&lt;script&gt;alert(2)", "__proto__", `id="trigger-body"`, `id="step-echo-output"`, `id="replay-run"`} {
		if !strings.Contains(page, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
}

func TestUIRunsAndRetry(t *testing.T) {
	fail := true
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	defer down.Close()
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "r", "name": "r", "enabled": true, "trigger": {"type": "webhook", "path": "r"},
	  "steps": [{"id": "call", "if": "trigger.body.go == true", "use": "http.request", "with": {"url": "`+down.URL+`"}}]}`)
	id := hook(t, f, "r", `{"go": true}`)
	if run := waitRun(t, f.eng, id); run.Status != engine.RunFailed {
		t.Fatalf("run %s, want failed", run.Status)
	}
	r, page := b.do("GET", "/runs?flow=r&status=failed&period=24h", nil)
	if r.StatusCode != 200 || !strings.Contains(page, `id="run-`+id+`"`) || !strings.Contains(page, `data-live-src="/ui/events?flow=r"`) {
		t.Fatalf("runs page: %d %.500s", r.StatusCode, page)
	}
	if _, page := b.do("GET", "/runs?status=succeeded", nil); strings.Contains(page, `id="run-`+id+`"`) {
		t.Fatal("status filter ignored")
	}
	if r, rows := b.do("GET", "/runs/rows?flow=r", nil, "HX-Request", "true"); r.StatusCode != 200 || !strings.HasPrefix(strings.TrimSpace(rows), `<tbody id="run-rows"`) {
		t.Fatalf("rows fragment: %d %.200s", r.StatusCode, rows)
	}
	_, page = b.do("GET", "/runs/"+id, nil)
	for _, want := range []string{`id="retry-run"`, `id="step-call-conditions"`, `id="step-call-error"`, "→ <strong class=\"cond-true\">true</strong>"} {
		if !strings.Contains(page, want) {
			t.Errorf("failed run page lacks %q", want)
		}
	}
	fail = false
	r, _ = b.post("/runs/"+id+"/retry", nil)
	loc := r.Header.Get("Location")
	if r.StatusCode != 303 || !strings.HasPrefix(loc, "/runs/run_") {
		t.Fatalf("retry: %d %q", r.StatusCode, loc)
	}
	newID := strings.TrimPrefix(strings.Split(loc, "?")[0], "/runs/")
	if run := waitRun(t, f.eng, newID); run.Status != engine.RunSucceeded || run.RetryOf != id {
		t.Fatalf("retried run: %s retry_of %q", run.Status, run.RetryOf)
	}
	r, _ = b.post("/runs/"+newID+"/retry", nil)
	if r.StatusCode != 409 {
		t.Fatalf("retry of a succeeded run: %d", r.StatusCode)
	}
	// A replay without the confirmation page is sent there first.
	if r, _ := b.post("/runs/"+id+"/replay", nil); r.StatusCode != 303 || r.Header.Get("Location") != "/runs/"+id+"/replay" {
		t.Fatalf("replay without confirmation: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r, _ := b.post("/runs/"+id+"/replay", url.Values{"confirm": {"yes"}}); r.StatusCode != 303 {
		t.Fatalf("replay: %d", r.StatusCode)
	}
	_, page = b.do("GET", "/flows", nil)
	if !strings.Contains(page, "/hooks/r") || !strings.Contains(page, `class="runs-count">3<`) {
		t.Fatalf("flows list lacks the webhook URL or the run count: %.2000s", page)
	}
}

// formValues extracts what a browser would post from the builder form:
// inputs (checkboxes only when checked), selected options, textareas.
// Submit buttons are left out; the caller adds _op.
func formValues(t *testing.T, page string) url.Values {
	t.Helper()
	start := strings.Index(page, `<form id="builder"`)
	end := strings.Index(page[start:], "</form>")
	if start < 0 || end < 0 {
		t.Fatal("no builder form")
	}
	form := page[start : start+end]
	attr := func(tag, name string) (string, bool) {
		m := regexp.MustCompile(`\s` + name + `(?:="([^"]*)")?[\s/>]`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return html.UnescapeString(m[1]), true
	}
	v := url.Values{}
	tagRE := regexp.MustCompile(`(?s)<input[^>]*>|<textarea[^>]*>.*?</textarea>|<select[^>]*>.*?</select>`)
	for _, tag := range tagRE.FindAllString(form, -1) {
		name, ok := attr(tag, "name")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(tag, "<input"):
			typ, _ := attr(tag, "type")
			if _, checked := attr(tag, "checked"); typ == "checkbox" && !checked {
				continue
			}
			val, _ := attr(tag, "value")
			v.Add(name, val)
		case strings.HasPrefix(tag, "<textarea"):
			body := tag[strings.Index(tag, ">")+1 : strings.LastIndex(tag, "</textarea>")]
			v.Add(name, html.UnescapeString(body))
		default:
			val := ""
			for _, o := range regexp.MustCompile(`<option[^>]*>`).FindAllString(tag, -1) {
				ov, _ := attr(o, "value")
				if _, sel := attr(o, "selected"); sel || val == "" && ov == "" {
					val = ov
					if sel {
						break
					}
				}
			}
			v.Add(name, val)
		}
	}
	return v
}

// builderPost posts the builder form as htmx does and returns the answer.
func (b *browser) builder(path string, v url.Values, op string) (*http.Response, string) {
	b.t.Helper()
	v.Set("_op", op)
	return b.post(path, v, "HX-Request", "true")
}

func TestBuilderBuildsFlowThroughTheForm(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	for _, id := range []string{`id="name"`, `id="id"`, `id="trigger-type"`, `id="trigger-path"`, `id="add-steps-http-request"`, `id="add-steps-data-set"`, `id="add-steps-switch"`, `id="save-flow"`, `id="tab-json"`} {
		if !strings.Contains(page, id) {
			t.Errorf("new builder lacks %s", id)
		}
	}
	v := formValues(t, page)
	v.Set("name", "Orders to CRM")
	v.Set("trigger.path", "orders")
	_, page = b.builder("/flows/new", v, "add:steps:http.request")
	if !strings.Contains(page, `id="steps-0-with-url"`) || !strings.Contains(page, `id="steps-0-if"`) || !strings.Contains(page, `value="request_1"`) {
		t.Fatalf("after adding http.request: %.3000s", page)
	}
	v = formValues(t, page)
	v.Set("steps.0.if", "trigger.body.paid == true")
	v.Set("steps.0.with.url", "https://crm.example.com/contacts")
	v.Set("steps.0.with.method", "POST")
	v["steps.0.with.headers.k"] = []string{"X-Source"}
	v["steps.0.with.headers.v"] = []string{"{{ flow.id }}"}
	// The body is edited as rows (name, type, value): no JSON typed.
	if v.Get("steps.0.with.body.mode") != "rows" {
		t.Fatalf("http body not edited as rows: %v", v)
	}
	v["steps.0.with.body.rk"] = []string{"email", ""}
	v["steps.0.with.body.rt"] = []string{"auto", "auto"}
	v["steps.0.with.body.rv"] = []string{"{{ trigger.body.email }}", ""}
	v.Set("steps.0.retry.attempts", "3")
	v.Set("steps.0.retry.backoff", "2s")
	_, page = b.builder("/flows/new", v, "add:steps:switch")
	v = formValues(t, page)
	if v.Get("steps.1.kind") != "switch" || v.Get("steps.1.switch.0.case") != "when" || !strings.Contains(page, `id="steps-1-switch-0-when"`) {
		t.Fatalf("switch not added: %v", v)
	}
	v.Set("steps.1.switch.0.when", "steps.request_1.output.status == 201")
	_, page = b.builder("/flows/new", v, "add:steps.1.switch.0.steps:data.set")
	v = formValues(t, page)
	v["steps.1.switch.0.steps.0.with._any.k"] = []string{"created", ""}
	v["steps.1.switch.0.steps.0.with._any.v"] = []string{"true", ""}
	_, page = b.builder("/flows/new", v, "casedefault:steps.1")
	_, page = b.builder("/flows/new", formValues(t, page), "add:steps.1.switch.1.steps:data.set")
	v = formValues(t, page)
	if v.Get("steps.1.switch.1.case") != "default" || v.Get("steps.1.switch.1.steps.0.id") != "set_2" {
		t.Fatalf("default case: %v", v)
	}
	v["steps.1.switch.1.steps.0.with._any.k"] = []string{"created", "note"}
	v["steps.1.switch.1.steps.0.with._any.v"] = []string{"false", "Status {{ steps.request_1.output.status }}"}
	// Move the switch up and back down: the form state survives.
	_, page = b.builder("/flows/new", v, "up:steps.1")
	v = formValues(t, page)
	if v.Get("steps.0.kind") != "switch" || v.Get("steps.1.with.url") != "https://crm.example.com/contacts" {
		t.Fatalf("move up: %v", v)
	}
	_, page = b.builder("/flows/new", v, "down:steps.0")
	v = formValues(t, page)

	r, page := b.builder("/flows/new", v, "save")
	if r.StatusCode != 204 || r.Header.Get("HX-Redirect") != "/flows/orders-to-crm/edit?flash=saved" {
		t.Fatalf("save: %d %q %s", r.StatusCode, r.Header.Get("HX-Redirect"), errorSummary(page))
	}
	a, err := f.eng.Flow("orders-to-crm")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "id": "orders-to-crm",
  "name": "Orders to CRM",
  "enabled": true,
  "trigger": {"type": "webhook", "path": "orders"},
  "steps": [
    {"id": "request_1", "if": "trigger.body.paid == true", "use": "http.request",
     "with": {"method": "POST", "url": "https://crm.example.com/contacts", "headers": {"X-Source": "{{ flow.id }}"},
              "body": {"email": "{{ trigger.body.email }}"}},
     "retry": {"attempts": 3, "backoff": "2s"}},
    {"id": "route_1", "switch": [
      {"when": "steps.request_1.output.status == 201", "steps": [{"id": "set_1", "use": "data.set", "with": {"created": true}}]},
      {"default": true, "steps": [{"id": "set_2", "use": "data.set", "with": {"created": false, "note": "Status {{ steps.request_1.output.status }}"}}]}
    ]}
  ]
}`
	wf, err := flows.Decode([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := flows.Encode(wf)
	if string(a.Record.Flow) != string(wantJSON) {
		t.Fatalf("saved flow:\n%s\nwant:\n%s", a.Record.Flow, wantJSON)
	}

	// Rendering the stored flow and posting the form back unchanged saves
	// the same flow: the form round-trips (and, nothing having changed,
	// no new version is made).
	_, page = b.do("GET", "/flows/orders-to-crm/edit", nil)
	v = formValues(t, page)
	if r, body := b.builder("/flows/orders-to-crm/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("re-save: %d %.2000s", r.StatusCode, body)
	}
	a, _ = f.eng.Flow("orders-to-crm")
	if string(a.Record.Flow) != string(wantJSON) || a.Record.Version != 1 {
		t.Fatalf("round trip changed the flow (version %d):\n%s", a.Record.Version, a.Record.Flow)
	}

	// The JSON tab shows the same flow and goes back to the same form.
	_, page = b.builder("/flows/orders-to-crm/edit", v, "tab:json")
	jv := formValues(t, page)
	if jf, err := flows.Decode([]byte(jv.Get("_json"))); err != nil || jf.Steps[1].Switch[0].Steps[0].ID != "set_1" {
		t.Fatalf("JSON tab: %v %.500s", err, jv.Get("_json"))
	}
	_, page = b.builder("/flows/orders-to-crm/edit", jv, "fromjson")
	if back := formValues(t, page); back.Get("steps.0.with.url") != "https://crm.example.com/contacts" {
		t.Fatalf("back from JSON: %v", back)
	}

	// Removing a step.
	_, page = b.builder("/flows/orders-to-crm/edit", v, "del:steps.0")
	if back := formValues(t, page); back.Get("steps.0.kind") != "switch" || back.Get("steps.1.kind") != "" {
		t.Fatalf("remove: %v", back)
	}
}

func TestBuilderShowsErrorsBesideFields(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := url.Values{"name": {"Bad"}, "id": {"bad"}, "enabled": {"true"}, "trigger.type": {"webhook"}, "trigger.path": {"bad"},
		"steps.0.kind": {"step"}, "steps.0.use": {"http.request"}, "steps.0.id": {"call"}, "steps.0.if": {"trigger.body.("},
		"steps.0.retry.backoff": {"soon"}}
	v.Set("_new", "1")
	r, page := b.builder("/flows/new", v, "save")
	if r.StatusCode != 200 || !strings.Contains(page, `id="steps-0-retry-backoff-error"`) || !strings.Contains(page, `&#34;soon&#34; is not a duration`) {
		t.Fatalf("form error: %d %.3000s", r.StatusCode, page)
	}
	v.Set("steps.0.retry.backoff", "")
	// Without htmx the page comes back whole with 422.
	v.Set("_op", "save")
	r, page = b.post("/flows/new", v)
	if r.StatusCode != 422 {
		t.Fatalf("invalid save: %d", r.StatusCode)
	}
	errAt := func(id string) string {
		m := regexp.MustCompile(`(?s)<div class="field-error" id="` + id + `-error">(.*?)</div>`).FindStringSubmatch(page)
		if m == nil {
			return ""
		}
		return m[1]
	}
	if e := errAt("steps-0-if"); !strings.Contains(e, "(1:") {
		t.Errorf("if error: %q", e)
	}
	if e := errAt("steps-0-with-url"); !strings.Contains(e, "required") {
		t.Errorf("url error: %q", e)
	}
	if !strings.Contains(page, `id="form-errors"`) || !strings.Contains(page, `href="#steps-0-if-error"`) {
		t.Error("no error summary linking to the fields")
	}
	if _, err := f.eng.Flow("bad"); err == nil {
		t.Fatal("an invalid flow was saved")
	}
}

func TestCheckExpressionEndpoint(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	check := func(flow, kind, field, src string) string {
		t.Helper()
		r, body := b.check(flow, kind, field, src, "X-CSRF-Token", b.csrf, "Sec-Fetch-Site", "same-origin")
		if r.StatusCode != 200 {
			t.Fatalf("check: %d", r.StatusCode)
		}
		return body
	}
	if got := check("", "condition", "steps.0.if", "trigger.body.("); !strings.Contains(got, "check-error") || !strings.Contains(got, "(1:") {
		t.Fatalf("syntax error: %s", got)
	}
	if got := check("", "condition", "steps.0.if", "trigger.body.x == 1"); !strings.Contains(got, "no event received yet") {
		t.Fatalf("no sample: %s", got)
	}
	createFlow(t, f, `{"id": "c", "name": "c", "enabled": true, "trigger": {"type": "webhook", "path": "c"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"double": "{{ trigger.body.n * 2 }}"}}]}`)
	waitRun(t, f.eng, hook(t, f, "c", `{"n": 21, "email": "ada@example.com"}`))
	if got := check("c", "expr", "trigger.dedupe", "trigger.body.n * 2"); !strings.Contains(got, "<code>42</code>") {
		t.Fatalf("value against the sample: %s", got)
	}
	if got := check("c", "template", "steps.0.with.url", "https://x/{{ steps.a.output.double + 1 }}"); !strings.Contains(got, "https://x/43") {
		t.Fatalf("template against the sample: %s", got)
	}
	if got := check("c", "condition", "steps.0.if", "trigger.body.email.foo()"); !strings.Contains(got, "check-error") {
		t.Fatalf("runtime error: %s", got)
	}
	checkRefusesCrossSite(t, b)
	// The builder lists the sample's fields to insert.
	_, page := b.do("GET", "/flows/c/edit", nil)
	if !strings.Contains(page, `data-ref="trigger.body.email"`) || !strings.Contains(page, `data-ref="steps.a.output.double"`) {
		t.Fatal("builder lacks references from the latest payload")
	}
	for _, fn := range []string{`data-ref="escapeHTML()" data-arg`, `data-ref="escapeQuery()" data-arg`, `data-ref="now()"`} {
		if !strings.Contains(page, fn) {
			t.Errorf("builder does not offer %s", fn)
		}
	}
}

// check posts one field to the live check as the builder's htmx does.
func (b *browser) check(flow, kind, field, src string, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	q := url.Values{"flow": {flow}, "kind": {kind}, "field": {field}}
	return b.do("POST", "/flows/check?"+q.Encode(), url.Values{field: {src}}, append([]string{"HX-Request", "true"}, hdr...)...)
}

// checkRefusesCrossSite: the live check evaluates what it is sent, so
// another site's page cannot make a signed-in browser send it anything.
func checkRefusesCrossSite(t *testing.T, b *browser) {
	t.Helper()
	// Against the sample of flow c ({"n": 21}), this yields 42.
	const src = "trigger.body.n * 2"
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"no CSRF token", []string{"Sec-Fetch-Site", "same-origin"}},
		{"wrong CSRF token", []string{"X-CSRF-Token", "forged", "Sec-Fetch-Site", "same-origin"}},
		{"cross-site", []string{"X-CSRF-Token", b.csrf, "Sec-Fetch-Site", "cross-site"}},
		{"same-site", []string{"X-CSRF-Token", b.csrf, "Sec-Fetch-Site", "same-site"}},
		{"foreign origin", []string{"X-CSRF-Token", b.csrf, "Origin", "https://evil.example"}},
		{"null origin", []string{"X-CSRF-Token", b.csrf, "Origin", "null"}},
	} {
		r, body := b.check("c", "expr", "trigger.dedupe", src, tc.hdr...)
		if r.StatusCode != 403 || strings.Contains(body, "check-ok") || strings.Contains(body, "<code>42</code>") {
			t.Errorf("%s: %d %.200s", tc.name, r.StatusCode, body)
		}
	}
	// A cross-site GET, the navigation the attack used, evaluates nothing.
	q := url.Values{"flow": {"c"}, "kind": {"expr"}, "field": {"x"}, "x": {src}}
	if r, body := b.do("GET", "/flows/check?"+q.Encode(), nil, "Sec-Fetch-Site", "cross-site"); r.StatusCode == 200 || strings.Contains(body, "<code>42</code>") {
		t.Errorf("GET: %d %.200s", r.StatusCode, body)
	}
	// The builder's own requests are answered: same origin by
	// Sec-Fetch-Site, or by Origin from browsers without it.
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Origin", "http://example.com"}, nil} {
		r, body := b.check("c", "expr", "trigger.dedupe", src, append([]string{"X-CSRF-Token", b.csrf}, hdr...)...)
		if r.StatusCode != 200 || !strings.Contains(body, "<code>42</code>") {
			t.Errorf("%v: %d %.200s", hdr, r.StatusCode, body)
		}
	}
	// The builder's fields post to it, with only their own text.
	_, page := b.do("GET", "/flows/new", nil)
	if !strings.Contains(page, `hx-post="/flows/check?kind=`) || strings.Contains(page, `hx-get="/flows/check`) || !strings.Contains(page, " data-check") {
		t.Error("the builder's fields do not post to the live check")
	}
}

func TestUITestPanelRunsDry(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "d", "name": "d", "enabled": true, "trigger": {"type": "webhook", "path": "d"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"double": "{{ trigger.body.n * 2 }}"}},
	            {"id": "b", "use": "http.request", "with": {"url": "https://api.example.com/x", "method": "POST"}}]}`)
	_, page := b.do("GET", "/flows/d/edit", nil)
	v := formValues(t, page)
	v.Set("_test_payload", `{"n": 5}`)
	_, page = b.builder("/flows/d/edit", v, "test")
	if !strings.Contains(page, `id="test-result"`) || !strings.Contains(page, `&#34;double&#34;: 10`) && !strings.Contains(page, `"double": 10`) {
		t.Fatalf("test result: %.4000s", page)
	}
	if page, _ := f.eng.ListRuns(context.Background(), engine.RunFilter{}); len(page.Runs) != 0 {
		t.Fatal("a test run was stored")
	}
}

func TestUIFlowsDuplicateDelete(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "o", "name": "O", "enabled": true, "trigger": {"type": "webhook", "path": "o"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)
	r, _ := b.post("/flows/o/duplicate", nil)
	if r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/flows/o-copy/edit") {
		t.Fatalf("duplicate: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	cp, err := f.eng.Flow("o-copy")
	if err != nil || cp.Flow().Enabled || cp.Flow().Trigger.Path == "o" {
		t.Fatalf("copy: %v %+v", err, cp)
	}
	r, page := b.do("GET", "/flows/o/delete", nil)
	if r.StatusCode != 200 || !strings.Contains(page, `id="confirm-delete"`) {
		t.Fatalf("delete confirmation: %d", r.StatusCode)
	}
	if r, _ := b.post("/flows/o/delete", nil); r.StatusCode != 303 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if _, err := f.eng.Flow("o"); err == nil {
		t.Fatal("flow not deleted")
	}
	if r, _ := b.do("GET", "/flows/o/edit", nil); r.StatusCode != 404 {
		t.Fatalf("deleted flow's builder: %d", r.StatusCode)
	}
}

func TestUIConnectionsAndTokens(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	r, page := b.do("GET", "/connections?type=secret", nil)
	if r.StatusCode != 200 || !strings.Contains(page, `id="connection-value"`) {
		t.Fatalf("connection form: %d", r.StatusCode)
	}
	if r, page := b.post("/connections", url.Values{"type": {"secret"}, "name": {"!!!"}, "values.value": {"s3cret-value"}}); r.StatusCode != 422 || strings.Contains(page, "s3cret-value") {
		t.Fatalf("invalid connection: %d (value echoed: %v)", r.StatusCode, strings.Contains(page, "s3cret-value"))
	}
	if r, _ := b.post("/connections", url.Values{"type": {"secret"}, "name": {"crm_key"}, "values.value": {"s3cret-value"}}); r.StatusCode != 303 {
		t.Fatalf("create connection: %d", r.StatusCode)
	}
	_, page = b.do("GET", "/connections", nil)
	if !strings.Contains(page, `id="connection-crm_key"`) || strings.Contains(page, "s3cret-value") {
		t.Fatal("connection not listed, or its value shown")
	}
	if r, _ := b.post("/connections/crm_key/delete", nil); r.StatusCode != 303 {
		t.Fatalf("delete connection: %d", r.StatusCode)
	}

	r, page = b.post("/tokens", url.Values{"name": {"ci"}})
	m := regexp.MustCompile(`id="new-token-value" class="token">(syt_[a-z0-9]+)<`).FindStringSubmatch(page)
	if r.StatusCode != 200 || m == nil {
		t.Fatalf("create token: %d %.500s", r.StatusCode, page)
	}
	if r, _ := f.srv.App().Test(bearer("GET", "/api/flows", m[1])); r.StatusCode != 200 {
		t.Fatalf("new token refused: %d", r.StatusCode)
	}
	_, page = b.do("GET", "/tokens", nil)
	if strings.Contains(page, m[1]) {
		t.Fatal("token shown again")
	}
	id := regexp.MustCompile(`action="/tokens/(tok_[0-9a-f]+)/revoke"`).FindAllStringSubmatch(page, -1)
	for _, x := range id {
		b.post("/tokens/"+x[1]+"/revoke", nil)
	}
	if r, _ := f.srv.App().Test(bearer("GET", "/api/flows", m[1])); r.StatusCode != 401 {
		t.Fatalf("revoked token: %d", r.StatusCode)
	}
}

// errorSummary extracts the builder's error summary for test messages.
func errorSummary(page string) string {
	m := regexp.MustCompile(`(?s)<div class="error-summary".*?</ul>`).FindString(page)
	return html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m, " "))
}

func bearer(method, path, tok string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}

// After sign-in, ?next= leads only to a path of this site: anything else
// goes to "/", and nothing in it reaches the answer's headers.
func TestLoginNextStaysOnSite(t *testing.T) {
	f := newFixture(t, engine.Config{})
	signedIn := signIn(t, f.srv)
	for _, tc := range []struct{ next, want string }{
		{"/runs", "/runs"},
		{"/runs?flow=orders&status=failed", "/runs?flow=orders&status=failed"},
		{"/flows/orders/edit", "/flows/orders/edit"},
		{"/runs/run_1#step-a", "/runs/run_1#step-a"},
		{"/%09/evil.example/", "/%09/evil.example/"}, // percent-encoded: a path here
		{"", "/"},
		{"/\r\nSet-Cookie: evil=1", "/"},
		{"/\r\nX-Evil: 1\r\n\r\n<script>alert(1)</script>", "/"},
		{"/\nSet-Cookie: evil=1", "/"},
		{"/\rSet-Cookie: evil=1", "/"},
		{"/\t/evil.example/", "/"},
		{"/\x00/evil.example", "/"},
		{"/\x7f/evil.example", "/"},
		{"//evil.example/x", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\\/evil.example", "/"},
		{"/a//evil.example", "/"},
		{" //evil.example", "/"},
		{"https://evil.example/", "/"},
		{"http:/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"JavaScript:alert(1)", "/"},
		{"data:text/html,<script>alert(1)</script>", "/"},
		{"evil.example", "/"},
		{"/\u2028evil", "/"},
		{"/ｅvil", "/"},
		{"/logout", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	} {
		t.Run(fmt.Sprintf("%q", tc.next), func(t *testing.T) {
			// The sign-in form carries only a next it would follow.
			_, page := newBrowser(t, f.srv).do("GET", "/login?next="+url.QueryEscape(tc.next), nil)
			if strings.Contains(page, "evil") && tc.want == "/" {
				t.Errorf("the sign-in form carries the refused next: %s", page)
			}
			// Opening /login?next= while signed in.
			r, _ := signedIn.do("GET", "/login?next="+url.QueryEscape(tc.next), nil)
			checkRedirect(t, r, tc.want)
		})
	}
	// Posting the sign-in form with next (a password check each: two).
	for _, tc := range []struct{ next, want string }{
		{"/runs?flow=orders", "/runs?flow=orders"},
		{"/\r\nX-Evil: 1\r\n\r\n<script>alert(1)</script>", "/"},
	} {
		b := newBrowser(t, f.srv)
		_, page := b.do("GET", "/login", nil)
		b.csrf = formToken(t, page)
		r, _ := b.post("/login", url.Values{"name": {"ada"}, "password": {ownerPassword}, "next": {tc.next}})
		checkRedirect(t, r, tc.want)
	}
}

func checkRedirect(t *testing.T, r *http.Response, want string) {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
		t.Errorf("redirect %d to %q, want %q", r.StatusCode, r.Header.Get("Location"), want)
	}
	if r.Header.Get("X-Evil") != "" || len(r.Header.Values("Location")) != 1 {
		t.Errorf("headers injected: %v", r.Header)
	}
	for _, ck := range r.Cookies() {
		if ck.Name == "evil" {
			t.Errorf("cookie injected: %v", ck)
		}
	}
}
