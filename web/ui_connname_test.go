package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

func TestConnSlug(t *testing.T) {
	for in, want := range map[string]string{
		"HubSpot main":          "hubspot_main",
		"  Slack — #sales (EU)": "slack_sales_eu",
		"2nd CRM":               "c_2nd_crm",
		"!!!":                   "",
	} {
		if got := connSlug(in); got != want {
			t.Errorf("connSlug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConnectionsPageLabel: on the Connections page a label becomes the
// id (never replacing a connection that has it), an id is kept as typed,
// and after an error the fields that are not secret keep what was typed.
func TestConnectionsPageLabel(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	for _, name := range []string{"HubSpot main", "HubSpot main", "crm_key"} {
		if r, page := b.post("/connections", url.Values{"type": {"http_bearer"}, "name": {name}, "values.token": {"tok-secret"}}); r.StatusCode != 303 {
			t.Fatalf("%s: %d %.300s", name, r.StatusCode, page)
		}
	}
	conns, _ := f.eng.Connections(t.Context())
	var names []string
	for _, c := range conns {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "crm_key,hubspot_main,hubspot_main_2" {
		t.Fatalf("connections %v", names)
	}
	// The username is required: its error shows, the label and the
	// base fields stay, the password is not sent back.
	r, page := b.post("/connections", url.Values{"type": {"http_basic"}, "name": {"Billing API"}, "values.password": {"pw-secret"}})
	if r.StatusCode != 422 || !strings.Contains(page, `value="Billing API"`) || strings.Contains(page, "pw-secret") {
		t.Fatalf("error page: %d, label kept: %v, secret shown: %v", r.StatusCode, strings.Contains(page, `value="Billing API"`), strings.Contains(page, "pw-secret"))
	}
	r, page = b.post("/connections", url.Values{"type": {"http_header"}, "name": {"Billing API"}, "values.name": {"X-Billing-Key"}})
	if r.StatusCode != 422 || !strings.Contains(page, `value="X-Billing-Key"`) {
		t.Fatalf("header name typed before the error is gone: %d", r.StatusCode)
	}
}

// TestConnectionsPageTest: the Test button of the Connections page, for a
// type tried against a URL, as a plain form and over htmx.
func TestConnectionsPageTest(t *testing.T) {
	const token = "tok-page-secret"
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer svc.Close()
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	if r, _ := b.post("/connections", url.Values{"type": {"http_bearer"}, "name": {"api"}, "values.token": {token}}); r.StatusCode != 303 {
		t.Fatalf("create: %d", r.StatusCode)
	}
	if r, _ := b.post("/connections", url.Values{"type": {"secret"}, "name": {"sig"}, "values.value": {"v"}}); r.StatusCode != 303 {
		t.Fatalf("create: %d", r.StatusCode)
	}
	_, page := b.do("GET", "/connections", nil)
	if !strings.Contains(page, `id="test-connection-api"`) || !strings.Contains(page, `id="test-connection-api-url"`) || strings.Contains(page, `id="test-connection-sig"`) {
		t.Fatal("the Test button should be there for api (with a URL field) and not for a secret")
	}
	r, page := b.post("/connections/api/test", url.Values{"url": {svc.URL + "/me"}})
	if r.StatusCode != 200 || !strings.Contains(page, `<span class="check-ok">Works: GET `+svc.URL+`/me answered 200.</span>`) || strings.Contains(page, token) {
		t.Fatalf("test: %d %.500s", r.StatusCode, page)
	}
	r, page = b.post("/connections/api/test", url.Values{}, "HX-Request", "true")
	if r.StatusCode != 200 || !strings.Contains(page, "give the URL") {
		t.Fatalf("test without URL: %d", r.StatusCode)
	}
	if r, _ := b.post("/connections/nope/test", url.Values{}); r.StatusCode != 404 {
		t.Fatalf("unknown connection: %d", r.StatusCode)
	}
}
