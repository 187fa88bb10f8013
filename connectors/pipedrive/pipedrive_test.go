package pipedrive_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
	"github.com/switchyard/switchyard/connectors/pipedrive"
)

const apiToken = "659c9fddb16335e48cc67114694b52074e812e03"

func reply(status int, header map[string]string, body string) http.HandlerFunc {
	pairs := make([]string, 0, 2*len(header))
	for k, v := range header {
		pairs = append(pairs, k, v)
	}
	return conntest.Reply(status, "application/json", body, pairs...)
}

func execute(t *testing.T, id string, cfg map[string]any, conn map[string]string, dry bool) (connectors.Result, error) {
	t.Helper()
	return conntest.Execute(t, id, connectors.Input{
		Config: cfg, Connection: conn, DryRun: dry,
		RunID: "r1", StepID: "s1", IdempotencyKey: "r1:s1", Attempt: 1,
	})
}

func conn(f *conntest.Server) map[string]string {
	return map[string]string{"api_token": apiToken, "base_url": f.URL}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		cfg      map[string]any
		base     string // appended to the server URL
		wantURI  string
		wantBody string
	}{
		{
			name: "person, one email",
			id:   pipedrive.IDCreatePerson,
			cfg: map[string]any{"connection": "pd", "name": "Ada Lovelace", "email": "ada@example.com",
				"phone": []any{"+44 20 7946 0000", "+44 7700 900000"}, "org_id": 12.0, "owner_id": "7",
				"custom_fields": map[string]any{"dcf558aac1ae4e8c4f849ba5e668430d8df9be12": "chatbot", "a1b2": 3.0}},
			wantURI: "/api/v1/persons",
			wantBody: `{"a1b2":3,"dcf558aac1ae4e8c4f849ba5e668430d8df9be12":"chatbot","email":"ada@example.com","name":"Ada Lovelace",` +
				`"org_id":12,"owner_id":7,"phone":[{"primary":true,"value":"+44 20 7946 0000"},{"primary":false,"value":"+44 7700 900000"}]}`,
		},
		{
			name:     "person, minimal, global host path",
			id:       pipedrive.IDCreatePerson,
			cfg:      map[string]any{"connection": "pd", "name": "Bob", "email": []any{map[string]any{"value": "b@example.com", "primary": true, "label": "work"}}},
			base:     "/v1",
			wantURI:  "/v1/persons",
			wantBody: `{"email":[{"label":"work","primary":true,"value":"b@example.com"}],"name":"Bob"}`,
		},
		{
			name: "deal",
			id:   pipedrive.IDCreateDeal,
			cfg: map[string]any{"connection": "pd", "title": "Website order 42", "value": 1500.5, "currency": "eur",
				"person_id": 101.0, "org_id": "", "stage_id": "3", "status": "open", "expected_close_date": "2026-03-31",
				"custom_fields": []any{map[string]any{"key": "9f1c", "value": "web"}}},
			wantURI: "/api/v1/deals",
			wantBody: `{"9f1c":"web","currency":"EUR","expected_close_date":"2026-03-31","person_id":101,"stage_id":3,` +
				`"status":"open","title":"Website order 42","value":"1500.5"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := conntest.NewServer(t, reply(201, nil, `{"success":true,"data":{"id":123,"name":"x","add_time":"2026-01-01 10:00:00"},"additional_data":null}`))
			c := conn(f)
			c["base_url"] = f.URL + tt.base
			res, err := execute(t, tt.id, tt.cfg, c, false)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"id": 123.0, "name": "x", "add_time": "2026-01-01 10:00:00"}
			if !reflect.DeepEqual(res.Output, want) {
				t.Errorf("output = %#v", res.Output)
			}
			r := f.Requests()[0]
			if r.Method != http.MethodPost || r.RequestURI != tt.wantURI {
				t.Errorf("request = %s %s, want POST %s", r.Method, r.RequestURI, tt.wantURI)
			}
			if got := r.Header.Get("X-Api-Token"); got != apiToken {
				t.Errorf("x-api-token = %q", got)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if r.Body != tt.wantBody {
				t.Errorf("body =\n%s\nwant\n%s", r.Body, tt.wantBody)
			}
		})
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
		{"bad request", 400, nil, `{"success":false,"error":"Deal title is missing","error_info":"Please check developers.pipedrive.com for more information about Pipedrive API.","data":null,"additional_data":null}`,
			false, 0, []string{"400", "Deal title is missing", "developers.pipedrive.com"}},
		{"unauthorized", 401, nil, `{"success":false,"error":"unauthorized access","errorCode":401,"error_info":"Please check developers.pipedrive.com"}`,
			false, 0, []string{"401", "unauthorized access", "API token"}},
		{"not found", 404, nil, `{"success":false,"error":"Person not found"}`, false, 0, []string{"Person not found"}},
		{"rate limit retry-after", 429, map[string]string{"Retry-After": "4"}, `{"success":false,"error":"Request over limit"}`,
			true, 4 * time.Second, []string{"429", "Request over limit"}},
		{"rate limit reset", 429, map[string]string{"X-Ratelimit-Reset": "2"}, `{"success":false,"error":"Request over limit"}`,
			true, 2 * time.Second, []string{"429"}},
		{"5xx", 502, nil, `<html>bad gateway</html>`, true, 0, []string{"502", "bad gateway"}},
		{"200 success false", 200, nil, `{"success":false,"error":"Something odd"}`, false, 0, []string{"Something odd"}},
		{"echoes token", 400, nil, `{"success":false,"error":"bad token ` + apiToken + `"}`, false, 0, []string{"bad token [redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := conntest.NewServer(t, reply(tt.status, tt.header, tt.body))
			_, err := execute(t, pipedrive.IDCreateDeal, map[string]any{"connection": "pd", "title": "T", "person_id": 1}, conn(f), false)
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
			if strings.Contains(err.Error(), apiToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	f := conntest.NewServer(t, reply(201, nil, `{"success":true,"data":{"id":1}}`))
	tests := []struct {
		name string
		id   string
		cfg  map[string]any
		conn map[string]string
		want string
	}{
		{"no name", pipedrive.IDCreatePerson, map[string]any{"email": "a@b.c"}, conn(f), `"name": required`},
		{"no title", pipedrive.IDCreateDeal, map[string]any{}, conn(f), `"title": required`},
		{"bad id", pipedrive.IDCreateDeal, map[string]any{"title": "t", "person_id": 1.5}, conn(f), "whole number"},
		{"bad currency", pipedrive.IDCreateDeal, map[string]any{"title": "t", "currency": "euro"}, conn(f), "currency code"},
		{"bad status", pipedrive.IDCreateDeal, map[string]any{"title": "t", "status": "maybe"}, conn(f), "not one of"},
		{"bad date", pipedrive.IDCreateDeal, map[string]any{"title": "t", "expected_close_date": "31/03/2026"}, conn(f), "YYYY-MM-DD"},
		{"custom collides", pipedrive.IDCreateDeal, map[string]any{"title": "t", "custom_fields": map[string]any{"title": "x"}}, conn(f), "already set"},
		{"bad custom key", pipedrive.IDCreatePerson, map[string]any{"name": "n", "custom_fields": map[string]any{"a b": "x"}}, conn(f), "field key"},
		{"no connection", pipedrive.IDCreatePerson, map[string]any{"name": "n"}, nil, "name a connection"},
		{"no token", pipedrive.IDCreatePerson, map[string]any{"name": "n"}, map[string]string{"base_url": f.URL}, "no api_token"},
		{"bad base", pipedrive.IDCreatePerson, map[string]any{"name": "n"}, map[string]string{"api_token": apiToken, "base_url": "ftp://x"}, "https:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execute(t, tt.id, tt.cfg, tt.conn, false)
			if err == nil {
				t.Fatal("no error")
			}
			if retry, _ := connectors.IsRetryable(err); retry {
				t.Errorf("retryable: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("config errors sent %d requests", n)
	}
}

func TestDryRun(t *testing.T) {
	f := conntest.NewServer(t, reply(201, nil, `{}`))
	res, err := execute(t, pipedrive.IDCreatePerson, map[string]any{"connection": "pd", "name": "Ada"}, conn(f), true)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(res.Output)
	if strings.Contains(string(out), apiToken) {
		t.Errorf("dry run leaks the token: %s", out)
	}
	for _, s := range []string{`"dry_run":true`, `"method":"POST"`, f.URL + `/api/v1/persons"`, `"name":"Ada"`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("dry run output %s lacks %s", out, s)
		}
	}
	if len(f.Requests()) != 0 {
		t.Error("dry run sent a request")
	}
}

func TestDefaultBaseURL(t *testing.T) {
	// Nothing listens there for a test: the dry run shows the URL used.
	res, err := execute(t, pipedrive.IDCreateDeal, map[string]any{"title": "t"}, map[string]string{"api_token": apiToken}, true)
	if err != nil {
		t.Fatal(err)
	}
	req := res.Output.(map[string]any)["request"].(map[string]any)
	if req["url"] != "https://api.pipedrive.com/v1/deals" {
		t.Errorf("url = %v", req["url"])
	}
	res, err = execute(t, pipedrive.IDCreateDeal, map[string]any{"title": "t"}, map[string]string{"api_token": apiToken, "base_url": "https://acme.pipedrive.com/"}, true)
	if err != nil {
		t.Fatal(err)
	}
	req = res.Output.(map[string]any)["request"].(map[string]any)
	if req["url"] != "https://acme.pipedrive.com/api/v1/deals" {
		t.Errorf("url = %v", req["url"])
	}
}

func TestSpecs(t *testing.T) {
	for _, id := range []string{pipedrive.IDCreatePerson, pipedrive.IDCreateDeal} {
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
	ct, err := connectors.LookupConnectionType(pipedrive.ConnType)
	if err != nil {
		t.Fatal(err)
	}
	if f := ct.Fields[0]; f.Name != "api_token" || f.Type != connectors.TypeSecret || !f.Required {
		t.Errorf("api_token field = %+v", f)
	}
}
