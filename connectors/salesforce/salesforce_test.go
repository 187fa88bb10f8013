package salesforce_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
	"github.com/switchyard/switchyard/connectors/salesforce"
)

const (
	staticToken  = "00DSTATIC!token-abcdef123456"
	clientID     = "3MVG9-consumer-key"
	clientSecret = "consumer-secret-987654321"
)

// fake stands in for a Salesforce instance: api answers REST API
// requests, token answers the OAuth token endpoint.
type fake struct {
	*conntest.Server
	api   http.HandlerFunc
	token http.HandlerFunc
}

func newFake(t *testing.T, api http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{api: api}
	f.Server = conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == salesforce.TokenPath {
			f.token(w, r)
			return
		}
		f.api(w, r)
	})
	return f
}

// requests returns the REST API requests, tokenRequests the token
// endpoint's.
func (f *fake) requests() []conntest.Request { return f.filter(false) }

func (f *fake) tokenRequests() []conntest.Request { return f.filter(true) }

func (f *fake) filter(token bool) []conntest.Request {
	var out []conntest.Request
	for _, r := range f.Requests() {
		if (r.Path == salesforce.TokenPath) == token {
			out = append(out, r)
		}
	}
	return out
}

func reply(status int, body string) http.HandlerFunc {
	return conntest.Reply(status, "application/json;charset=UTF-8", body)
}

func execute(t *testing.T, id string, cfg map[string]any, conn map[string]string, dry bool) (connectors.Result, error) {
	t.Helper()
	return conntest.Execute(t, id, connectors.Input{
		Config: cfg, Connection: conn, DryRun: dry,
		RunID: "r1", StepID: "s1", IdempotencyKey: "r1:s1", Attempt: 1,
	})
}

func upsertConfig() map[string]any {
	return map[string]any{
		"connection":        "sf",
		"object":            "Contact",
		"external_id_field": "Ext_Id__c",
		"external_id":       "A-1/2 x",
		"record":            map[string]any{"LastName": "Smith", "Email": "a@example.com", "Amount__c": 12.5},
	}
}

func staticConn(f *fake) map[string]string {
	return map[string]string{"instance_url": f.URL, "access_token": staticToken}
}

const upsertPath = "/services/data/v62.0/sobjects/Contact/Ext_Id__c/A-1%2F2%20x"

func TestUpsertSuccess(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   map[string]any
	}{
		{"insert", 201, `{"id":"003xx000004TmiQAAS","errors":[],"success":true,"created":true}`,
			map[string]any{"id": "003xx000004TmiQAAS", "created": true, "success": true}},
		{"update", 200, `{"id":"003xx000004TmiQAAS","errors":[],"success":true,"created":false}`,
			map[string]any{"id": "003xx000004TmiQAAS", "created": false, "success": true}},
		{"update before v46", 204, ``,
			map[string]any{"id": nil, "created": false, "success": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 204 {
					w.WriteHeader(204)
					return
				}
				reply(tt.status, tt.body)(w, r)
			})
			res, err := execute(t, salesforce.IDUpsert, upsertConfig(), staticConn(f), false)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Output, tt.want) {
				t.Errorf("output = %#v, want %#v", res.Output, tt.want)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPatch || r.RequestURI != upsertPath {
				t.Errorf("request = %s %s, want PATCH %s", r.Method, r.RequestURI, upsertPath)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+staticToken {
				t.Errorf("Authorization = %q", got)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if want := `{"Amount__c":12.5,"Email":"a@example.com","LastName":"Smith"}`; r.Body != want {
				t.Errorf("body = %s, want %s", r.Body, want)
			}
		})
	}
}

func TestCreateSuccess(t *testing.T) {
	f := newFake(t, reply(201, `{"id":"006xx000001abcDAAQ","errors":[],"success":true}`))
	conn := staticConn(f)
	conn["api_version"] = "58.0"
	res, err := execute(t, salesforce.IDCreate, map[string]any{
		"connection": "sf", "object": "Opportunity",
		"record": map[string]any{"Name": "Big deal", "StageName": "Prospecting", "CloseDate": "2026-01-31"},
	}, conn, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "006xx000001abcDAAQ", "created": true, "success": true}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output = %#v, want %#v", res.Output, want)
	}
	r := f.requests()[0]
	if r.Method != http.MethodPost || r.RequestURI != "/services/data/v58.0/sobjects/Opportunity/" {
		t.Errorf("request = %s %s", r.Method, r.RequestURI)
	}
	if want := `{"CloseDate":"2026-01-31","Name":"Big deal","StageName":"Prospecting"}`; r.Body != want {
		t.Errorf("body = %s, want %s", r.Body, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		retryable  bool
		retryAfter time.Duration
		contains   []string
	}{
		{"required field", 400, nil,
			`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`,
			false, 0, []string{"400", "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", "fields: LastName"}},
		{"bad external id field", 404, nil,
			`[{"errorCode":"NOT_FOUND","message":"Provided external ID field does not exist or is not accessible: Nope__c"}]`,
			false, 0, []string{"404", "NOT_FOUND", "Nope__c"}},
		{"several matches", 300, nil, `["/services/data/v62.0/sobjects/Contact/1","/services/data/v62.0/sobjects/Contact/2"]`,
			false, 0, []string{"300", "more than one record"}},
		{"expired static token", 401, nil,
			`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`,
			false, 0, []string{"401", "INVALID_SESSION_ID", "access token expired"}},
		{"api limit", 403, map[string]string{"Retry-After": "30"},
			`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
			true, 30 * time.Second, []string{"403", "REQUEST_LIMIT_EXCEEDED"}},
		{"other 403", 403, nil,
			`[{"message":"insufficient access rights on object id","errorCode":"INSUFFICIENT_ACCESS_OR_READONLY"}]`,
			false, 0, []string{"INSUFFICIENT_ACCESS_OR_READONLY"}},
		{"429", 429, map[string]string{"Retry-After": "7"}, `[{"message":"slow down","errorCode":"TOO_MANY"}]`,
			true, 7 * time.Second, []string{"429"}},
		{"503", 503, nil, `[{"message":"Server unavailable","errorCode":"SERVER_UNAVAILABLE"}]`,
			true, 0, []string{"503", "SERVER_UNAVAILABLE"}},
		{"500 html", 500, nil, `<html>oops</html>`, true, 0, []string{"500", "oops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				reply(tt.status, tt.body)(w, r)
			})
			_, err := execute(t, salesforce.IDUpsert, upsertConfig(), staticConn(f), false)
			if err == nil {
				t.Fatal("no error")
			}
			retry, after := connectors.IsRetryable(err)
			if retry != tt.retryable || after != tt.retryAfter {
				t.Errorf("retryable = %v %v, want %v %v (%v)", retry, after, tt.retryable, tt.retryAfter, err)
			}
			var se *connectors.StepError
			if !errors.As(err, &se) || se.Status != tt.status {
				t.Errorf("status not carried: %#v", err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), staticToken) {
				t.Errorf("error leaks the token: %v", err)
			}
			if len(f.requests()) != 1 {
				t.Errorf("got %d requests, want 1", len(f.requests()))
			}
		})
	}
}

func TestClientCredentialsAndRefresh(t *testing.T) {
	var (
		mu      sync.Mutex
		issued  int
		refuse  = map[string]bool{"cc-token-1": true} // the first token is already stale
		granted []string
	)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		bad := refuse[tok]
		mu.Unlock()
		if bad {
			reply(401, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)(w, r)
			return
		}
		reply(201, `{"id":"003A","errors":[],"success":true,"created":true}`)(w, r)
	})
	f.token = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		issued++
		tok := fmt.Sprintf("cc-token-%d", issued)
		granted = append(granted, tok)
		mu.Unlock()
		reply(200, fmt.Sprintf(`{"access_token":%q,"instance_url":%q,"id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"1700000000000","signature":"x"}`, tok, f.URL))(w, r)
	}
	conn := map[string]string{"instance_url": f.URL, "client_id": clientID, "client_secret": clientSecret}

	res, err := execute(t, salesforce.IDUpsert, upsertConfig(), conn, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Output.(map[string]any)["id"]; got != "003A" {
		t.Errorf("id = %v", got)
	}
	toks := f.tokenRequests()
	if len(toks) != 2 {
		t.Fatalf("token fetches = %d, want 2 (one, then a refresh)", len(toks))
	}
	tr := toks[0]
	if tr.Method != http.MethodPost || tr.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("token request = %s %s", tr.Method, tr.Header.Get("Content-Type"))
	}
	form, _ := url.ParseQuery(tr.Body)
	want := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
	if !reflect.DeepEqual(form, want) {
		t.Errorf("token form = %v, want %v", form, want)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "Bearer cc-token-1" || reqs[1].Header.Get("Authorization") != "Bearer cc-token-2" {
		t.Fatalf("API requests = %+v", reqs)
	}

	// The refreshed token is cached: the next step fetches none.
	if _, err := execute(t, salesforce.IDCreate, map[string]any{"connection": "sf", "object": "Contact", "record": map[string]any{"LastName": "X"}}, conn, false); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tokenRequests()); n != 2 {
		t.Errorf("token fetches = %d after a cached call, want 2", n)
	}

	// Another secret for the same client id never reuses that token.
	other := map[string]string{"instance_url": f.URL, "client_id": clientID, "client_secret": "another-secret-000"}
	if _, err := execute(t, salesforce.IDCreate, map[string]any{"connection": "sf", "object": "Contact", "record": map[string]any{"LastName": "X"}}, other, false); err != nil {
		t.Fatal(err)
	}
	if n := len(f.tokenRequests()); n != 3 {
		t.Errorf("token fetches = %d, want 3", n)
	}

	// A token refused even after a refresh is a permanent error.
	mu.Lock()
	for i := 1; i <= 10; i++ {
		refuse[fmt.Sprintf("cc-token-%d", i)] = true
	}
	mu.Unlock()
	_, err = execute(t, salesforce.IDUpsert, upsertConfig(), conn, false)
	if err == nil {
		t.Fatal("no error")
	}
	if retry, _ := connectors.IsRetryable(err); retry {
		t.Errorf("refused fresh token is retryable: %v", err)
	}
	if !strings.Contains(err.Error(), "INVALID_SESSION_ID") || !strings.Contains(err.Error(), "freshly fetched") {
		t.Errorf("error = %v", err)
	}
	mu.Lock()
	for _, tok := range granted {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("error leaks token %s", tok)
		}
	}
	mu.Unlock()
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		retryable bool
		contains  string
	}{
		{"bad credentials", 400, `{"error":"invalid_client","error_description":"invalid client credentials SECRET"}`, false, "invalid_client: invalid client credentials"},
		{"flow disabled", 400, `{"error":"invalid_grant","error_description":"no client credentials user enabled"}`, false, "invalid_grant"},
		{"outage", 503, `unavailable SECRET`, true, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply(201, `{"id":"x","success":true}`))
			f.token = func(w http.ResponseWriter, r *http.Request) {
				// A hostile or buggy endpoint echoing the secret must not
				// leak it into the step error.
				reply(tt.status, strings.ReplaceAll(tt.body, "SECRET", clientSecret))(w, r)
			}
			conn := map[string]string{"instance_url": f.URL, "client_id": clientID, "client_secret": clientSecret}
			_, err := execute(t, salesforce.IDUpsert, upsertConfig(), conn, false)
			if err == nil {
				t.Fatal("no error")
			}
			if retry, _ := connectors.IsRetryable(err); retry != tt.retryable {
				t.Errorf("retryable = %v: %v", retry, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q lacks %q", err, tt.contains)
			}
			if strings.Contains(err.Error(), clientSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
			if len(f.requests()) != 0 {
				t.Errorf("API called without a token")
			}
		})
	}
}

func TestTokenURLOverride(t *testing.T) {
	tokenSrv := newFake(t, nil)
	tokenSrv.token = reply(200, `{"access_token":"from-login","token_type":"Bearer"}`)
	api := newFake(t, reply(201, `{"id":"1","success":true,"created":true}`))
	conn := map[string]string{"instance_url": api.URL, "client_id": "cid-override", "client_secret": "s", "token_url": tokenSrv.URL + salesforce.TokenPath}
	if _, err := execute(t, salesforce.IDUpsert, upsertConfig(), conn, false); err != nil {
		t.Fatal(err)
	}
	if len(tokenSrv.tokenRequests()) != 1 || len(api.tokenRequests()) != 0 {
		t.Errorf("token fetched from the wrong place")
	}
	if got := api.requests()[0].Header.Get("Authorization"); got != "Bearer from-login" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestDryRun(t *testing.T) {
	f := newFake(t, reply(201, `{}`))
	f.token = reply(200, `{"access_token":"never"}`)
	for _, conn := range []map[string]string{
		staticConn(f),
		{"instance_url": f.URL, "client_id": clientID, "client_secret": clientSecret},
	} {
		res, err := execute(t, salesforce.IDUpsert, upsertConfig(), conn, true)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(res.Output)
		for _, s := range []string{staticToken, clientSecret} {
			if strings.Contains(string(out), s) {
				t.Errorf("dry run output leaks a secret: %s", out)
			}
		}
		for _, s := range []string{`"dry_run":true`, `"method":"PATCH"`, upsertPath, `"LastName":"Smith"`} {
			if !strings.Contains(string(out), s) {
				t.Errorf("dry run output %s lacks %s", out, s)
			}
		}
	}
	if len(f.requests())+len(f.tokenRequests()) != 0 {
		t.Error("dry run sent requests")
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFake(t, reply(201, `{}`))
	tests := []struct {
		name string
		id   string
		cfg  func(map[string]any)
		conn map[string]string
		want string
	}{
		{"no object", salesforce.IDUpsert, func(c map[string]any) { delete(c, "object") }, staticConn(f), `"object": required`},
		{"bad object", salesforce.IDUpsert, func(c map[string]any) { c["object"] = "Contact/../x" }, staticConn(f), "not a Salesforce API name"},
		{"no external id", salesforce.IDUpsert, func(c map[string]any) { c["external_id"] = " " }, staticConn(f), `"external_id": required`},
		{"no ext field", salesforce.IDUpsert, func(c map[string]any) { delete(c, "external_id_field") }, staticConn(f), `"external_id_field": required`},
		{"record not object", salesforce.IDCreate, func(c map[string]any) { c["record"] = "x" }, staticConn(f), "want an object"},
		{"no record", salesforce.IDCreate, func(c map[string]any) { delete(c, "record") }, staticConn(f), `"record": required`},
		{"no connection", salesforce.IDCreate, func(map[string]any) {}, nil, "name a connection"},
		{"no credentials", salesforce.IDCreate, func(map[string]any) {}, map[string]string{"instance_url": f.URL}, "access token, or a client id and secret"},
		{"half credentials", salesforce.IDCreate, func(map[string]any) {}, map[string]string{"instance_url": f.URL, "client_id": "x"}, "both a client id and a client secret"},
		{"bad instance", salesforce.IDCreate, func(map[string]any) {}, map[string]string{"instance_url": "yourorg.my.salesforce.com", "access_token": staticToken}, "https:// URL"},
		{"bad version", salesforce.IDCreate, func(map[string]any) {}, map[string]string{"instance_url": f.URL, "access_token": staticToken, "api_version": "latest"}, "not a version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := upsertConfig()
			tt.cfg(cfg)
			_, err := execute(t, tt.id, cfg, tt.conn, false)
			if err == nil {
				t.Fatal("no error")
			}
			if retry, _ := connectors.IsRetryable(err); retry {
				t.Errorf("config error is retryable: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if strings.Contains(err.Error(), staticToken) {
				t.Errorf("error leaks the token")
			}
		})
	}
	if len(f.requests()) != 0 {
		t.Error("config errors sent requests")
	}
}

func TestEgressRefused(t *testing.T) {
	strict := egress.NewClient(egress.MustParseAllow(""))
	c, _ := connectors.Lookup(salesforce.IDCreate)
	_, err := c.Execute(context.Background(), connectors.Input{
		Config:     map[string]any{"connection": "sf", "object": "Contact", "record": map[string]any{"LastName": "X"}},
		Connection: map[string]string{"instance_url": "http://127.0.0.1:1", "access_token": staticToken},
		HTTP:       strict,
	})
	if err == nil || !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("err = %v, want an egress refusal", err)
	}
	if retry, _ := connectors.IsRetryable(err); retry {
		t.Error("egress refusal is retryable")
	}
}

func TestSpecs(t *testing.T) {
	for _, id := range []string{salesforce.IDUpsert, salesforce.IDCreate} {
		c, err := connectors.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		s := c.Spec()
		if s.Category != "CRM" || !s.SideEffects || s.Help == "" {
			t.Errorf("%s: spec %+v", id, s)
		}
		for _, f := range s.Fields {
			if f.Help == "" || f.Label == "" {
				t.Errorf("%s: field %s lacks label or help", id, f.Name)
			}
		}
	}
	ct, err := connectors.LookupConnectionType(salesforce.ConnType)
	if err != nil {
		t.Fatal(err)
	}
	secret := map[string]bool{}
	for _, f := range ct.Fields {
		if f.Help == "" {
			t.Errorf("connection field %s lacks help", f.Name)
		}
		secret[f.Name] = f.Type == connectors.TypeSecret
	}
	if !secret["access_token"] || !secret["client_secret"] || secret["client_id"] {
		t.Errorf("secret fields = %v", secret)
	}
}
