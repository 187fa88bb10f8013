package hubspot_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/hubspot"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
)

const token = "pat-na1-11111111-2222-3333-4444-s3cr3tt0k3n"

func reply(status int, body string, header ...string) http.HandlerFunc {
	contentType := ""
	if strings.HasPrefix(body, "{") {
		contentType = "application/json;charset=utf-8"
	}
	return conntest.Reply(status, contentType, body, header...)
}

func conn(srv *conntest.Server) map[string]string {
	return map[string]string{"token": token, "base_url": srv.URL}
}

func run(t *testing.T, id string, cfg map[string]any, conn map[string]string, dry bool) (connectors.Result, error) {
	t.Helper()
	return conntest.Execute(t, id, connectors.Input{
		Config: cfg, Connection: conn,
		RunID: "run1", StepID: "step1", IdempotencyKey: "run1:step1", Attempt: 1,
		DryRun: dry,
	})
}

func noToken(t *testing.T, res connectors.Result, err error) {
	t.Helper()
	conntest.NoSecret(t, token, res, err)
}

const upsertOK = `{"status":"COMPLETE","results":[{"id":"512","properties":{"createdate":"2024-05-01T10:00:00Z","email":"ada@example.com","firstname":"Ada","hs_object_id":"512","lastmodifieddate":"2024-05-01T10:00:00Z"},"createdAt":"2024-05-01T10:00:00Z","updatedAt":"2024-05-01T10:00:00Z","archived":false,"new":true}],"startedAt":"2024-05-01T10:00:00Z","completedAt":"2024-05-01T10:00:00Z"}`

const dealOK = `{"id":"9001","properties":{"amount":"1500","dealname":"Acme – 50 seats","dealstage":"qualifiedtobuy","pipeline":"default","hs_object_id":"9001"},"createdAt":"2024-05-01T10:00:00Z","updatedAt":"2024-05-01T10:00:00Z","archived":false}`

func TestRequests(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		cfg    map[string]any
		answer string
		status int
		method string
		path   string
		body   string
		check  func(t *testing.T, out map[string]any)
	}{
		{
			name: "upsert contact",
			id:   hubspot.UpsertContactID,
			cfg: map[string]any{"connection": "hs", "email": " ada@example.com ", "properties": map[string]any{
				"firstname": "Ada", "lastname": "Lovelace", "phone": float64(5551234), "hs_marketable_status": true,
				"lifecyclestage": "lead", "interests": []any{"math", "engines"}, "company": nil,
			}},
			answer: upsertOK, status: 200,
			method: "POST", path: "/crm/v3/objects/contacts/batch/upsert",
			body: `{"inputs":[{"id":"ada@example.com","idProperty":"email","properties":{"company":"","email":"ada@example.com","firstname":"Ada","hs_marketable_status":"true","interests":"math;engines","lastname":"Lovelace","lifecyclestage":"lead","phone":"5551234"}}]}`,
			check: func(t *testing.T, out map[string]any) {
				if out["id"] != "512" || out["created"] != true || out["createdAt"] != "2024-05-01T10:00:00Z" || out["updatedAt"] == nil {
					t.Errorf("output = %v", out)
				}
				if p, _ := out["properties"].(map[string]any); p["firstname"] != "Ada" {
					t.Errorf("properties = %v", out["properties"])
				}
			},
		},
		{
			name:   "upsert existing contact, properties as UI pairs",
			id:     hubspot.UpsertContactID,
			cfg:    map[string]any{"email": "ada@example.com", "properties": []any{map[string]any{"key": "firstname", "value": "Ada"}}},
			answer: strings.Replace(upsertOK, `"new":true`, `"new":false`, 1), status: 200,
			method: "POST", path: "/crm/v3/objects/contacts/batch/upsert",
			body: `{"inputs":[{"id":"ada@example.com","idProperty":"email","properties":{"email":"ada@example.com","firstname":"Ada"}}]}`,
			check: func(t *testing.T, out map[string]any) {
				if out["created"] != false || out["id"] != "512" {
					t.Errorf("output = %v", out)
				}
			},
		},
		{
			name: "create deal with contact",
			id:   hubspot.CreateDealID,
			cfg: map[string]any{"dealname": "Acme – 50 seats", "amount": 1500.5, "pipeline": "default", "dealstage": "qualifiedtobuy",
				"closedate": "2025-03-31", "associate_contact_id": "512", "properties": map[string]any{"dealtype": "newbusiness"}},
			answer: dealOK, status: 201,
			method: "POST", path: "/crm/v3/objects/deals",
			body: `{"associations":[{"to":{"id":"512"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":3}]}],"properties":{"amount":"1500.5","closedate":"2025-03-31","dealname":"Acme – 50 seats","dealstage":"qualifiedtobuy","dealtype":"newbusiness","pipeline":"default"}}`,
			check: func(t *testing.T, out map[string]any) {
				if out["id"] != "9001" {
					t.Errorf("output = %v", out)
				}
			},
		},
		{
			name:   "create deal minimal, amount as text, contact id as number",
			id:     hubspot.CreateDealID,
			cfg:    map[string]any{"dealname": "D", "amount": "1500", "associate_contact_id": float64(512)},
			answer: dealOK, status: 201,
			method: "POST", path: "/crm/v3/objects/deals",
			body: `{"associations":[{"to":{"id":"512"},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":3}]}],"properties":{"amount":"1500","dealname":"D"}}`,
		},
		{
			name:   "create deal without association",
			id:     hubspot.CreateDealID,
			cfg:    map[string]any{"dealname": "D"},
			answer: dealOK, status: 201,
			method: "POST", path: "/crm/v3/objects/deals",
			body: `{"properties":{"dealname":"D"}}`,
		},
		{
			name:   "update object",
			id:     hubspot.UpdateObjectID,
			cfg:    map[string]any{"object_type": "deals", "object_id": float64(9001), "properties": map[string]any{"dealstage": "closedwon", "amount": float64(2000)}},
			answer: dealOK, status: 200,
			method: "PATCH", path: "/crm/v3/objects/deals/9001",
			body: `{"properties":{"amount":"2000","dealstage":"closedwon"}}`,
			check: func(t *testing.T, out map[string]any) {
				if out["id"] != "9001" {
					t.Errorf("output = %v", out)
				}
			},
		},
		{
			name:   "update custom object",
			id:     hubspot.UpdateObjectID,
			cfg:    map[string]any{"object_type": "2-1234567", "object_id": "77", "properties": map[string]any{"x": "y"}},
			answer: `{"id":"77","properties":{"x":"y"}}`, status: 200,
			method: "PATCH", path: "/crm/v3/objects/2-1234567/77",
			body: `{"properties":{"x":"y"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := conntest.NewServer(t, reply(tt.status, tt.answer))
			res, err := run(t, tt.id, tt.cfg, conn(srv), false)
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Only(t)
			if got.Method != tt.method || got.EscapedPath != tt.path {
				t.Errorf("request %s %s, want %s %s", got.Method, got.EscapedPath, tt.method, tt.path)
			}
			if a := got.Header.Get("Authorization"); a != "Bearer "+token {
				t.Errorf("Authorization = %q", a)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got.Header.Get("Idempotency-Key") != "" {
				t.Error("sent an Idempotency-Key header HubSpot does not support")
			}
			if got.Body != tt.body {
				t.Errorf("body\n got %s\nwant %s", got.Body, tt.body)
			}
			if tt.check != nil {
				tt.check(t, res.Output.(map[string]any))
			}
			noToken(t, res, err)
		})
	}
}

func TestErrors(t *testing.T) {
	validation := `{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"favorite_color\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"favorite_color\"}]","correlationId":"aeb5f871-7f07-4993-9211-075dc63e7cbf","category":"VALIDATION_ERROR"}`
	tests := []struct {
		name      string
		reply     http.HandlerFunc
		retryable bool
		after     time.Duration
		status    int
		contains  []string
	}{
		{name: "400 validation", reply: reply(400, validation), status: 400,
			contains: []string{"400 Bad Request", "VALIDATION_ERROR", `Property \"favorite_color\" does not exist`, "aeb5f871"}},
		{name: "401", reply: reply(401, `{"status":"error","message":"Authentication credentials not found.","correlationId":"c1","category":"INVALID_AUTHENTICATION"}`),
			status: 401, contains: []string{"INVALID_AUTHENTICATION", "Authentication credentials not found"}},
		{name: "404 object", reply: reply(404, `{"status":"error","message":"resource not found","correlationId":"c2","category":"OBJECT_NOT_FOUND"}`),
			status: 404, contains: []string{"OBJECT_NOT_FOUND", "resource not found"}},
		{name: "409 conflict", reply: reply(409, `{"status":"error","message":"Contact already exists. Existing ID: 512","category":"CONFLICT"}`),
			status: 409, contains: []string{"CONFLICT", "Existing ID: 512"}},
		{name: "429 with Retry-After", reply: reply(429, `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","correlationId":"c3","policyName":"SECONDLY"}`, "Retry-After", "7"),
			retryable: true, after: 7 * time.Second, status: 429, contains: []string{"RATE_LIMIT", "secondly limit"}},
		{name: "429 without Retry-After", reply: reply(429, `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`),
			retryable: true, after: hubspot.DefaultRateLimitWait, status: 429, contains: []string{"ten_secondly_rolling"}},
		{name: "429 daily", reply: reply(429, `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}`),
			retryable: true, after: connectors.MaxRetryAfter, status: 429, contains: []string{"daily limit"}},
		{name: "429 no body", reply: reply(429, "", "Retry-After", "7"),
			retryable: true, after: 7 * time.Second, status: 429, contains: []string{"429"}},
		{name: "502 text", reply: reply(502, "<html>Bad gateway</html>"),
			retryable: true, status: 502, contains: []string{"502", "Bad gateway"}},
		{name: "500 json", reply: reply(500, `{"status":"error","message":"internal error","category":"INTERNAL_ERROR"}`),
			retryable: true, status: 500, contains: []string{"INTERNAL_ERROR"}},
		{name: "token echoed", reply: reply(401, `{"status":"error","message":"bad token `+token+`","category":"INVALID_AUTHENTICATION"}`),
			status: 401, contains: []string{"[redacted]"}},
		{name: "200 not json", reply: reply(200, "<html>proxy</html>"),
			contains: []string{"not a JSON object"}},
	}
	calls := []struct {
		id  string
		cfg map[string]any
	}{
		{hubspot.UpsertContactID, map[string]any{"email": "a@b.co"}},
		{hubspot.CreateDealID, map[string]any{"dealname": "D"}},
		{hubspot.UpdateObjectID, map[string]any{"object_type": "contacts", "object_id": "1", "properties": map[string]any{"a": "b"}}},
	}
	for _, tt := range tests {
		for _, c := range calls {
			t.Run(tt.name+"/"+c.id, func(t *testing.T) {
				srv := conntest.NewServer(t, tt.reply)
				res, err := run(t, c.id, c.cfg, conn(srv), false)
				if err == nil {
					t.Fatalf("no error; output %v", res.Output)
				}
				se := conntest.StepError(t, err)
				if se.Retryable != tt.retryable || se.RetryAfter != tt.after || se.Status != tt.status {
					t.Errorf("retryable=%v after=%v status=%d, want %v %v %d (%v)", se.Retryable, se.RetryAfter, se.Status, tt.retryable, tt.after, tt.status, err)
				}
				for _, s := range append(tt.contains, c.id) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				noToken(t, res, err)
			})
		}
	}
}

func TestUpsertBatchErrors(t *testing.T) {
	srv := conntest.NewServer(t, reply(207, `{"status":"COMPLETE","results":[],"numErrors":1,"errors":[{"status":"error","category":"VALIDATION_ERROR","message":"Property values were not valid","context":{}}]}`))
	res, err := run(t, hubspot.UpsertContactID, map[string]any{"email": "a@b.co"}, conn(srv), false)
	se := conntest.StepError(t, err)
	if se.Retryable || !strings.Contains(err.Error(), "VALIDATION_ERROR") || !strings.Contains(err.Error(), "Property values were not valid") {
		t.Errorf("error %v: want a permanent error with HubSpot's message", err)
	}
	var ae *hubspot.APIError
	if !errors.As(err, &ae) || ae.Category != "VALIDATION_ERROR" {
		t.Errorf("error %v: want an APIError", err)
	}
	noToken(t, res, err)
}

func TestConfigErrors(t *testing.T) {
	good := map[string]string{"token": token, "base_url": "http://127.0.0.1:1"}
	tests := []struct {
		name  string
		id    string
		cfg   map[string]any
		conn  map[string]string
		field string
		msg   string
	}{
		{"upsert no email", hubspot.UpsertContactID, map[string]any{}, good, "email", "required"},
		{"upsert bad email", hubspot.UpsertContactID, map[string]any{"email": "nobody"}, good, "email", "not an email"},
		{"upsert conflicting email", hubspot.UpsertContactID, map[string]any{"email": "a@b.co", "properties": map[string]any{"email": "c@d.co"}}, good, "properties.email", "conflicts"},
		{"upsert nested property", hubspot.UpsertContactID, map[string]any{"email": "a@b.co", "properties": map[string]any{"x": map[string]any{}}}, good, "properties.x", "want text"},
		{"upsert properties not object", hubspot.UpsertContactID, map[string]any{"email": "a@b.co", "properties": "x"}, good, "properties", "object"},
		{"deal no name", hubspot.CreateDealID, map[string]any{"amount": 5.0}, good, "dealname", "required"},
		{"deal bad amount", hubspot.CreateDealID, map[string]any{"dealname": "D", "amount": "lots"}, good, "amount", "number"},
		{"deal name twice", hubspot.CreateDealID, map[string]any{"dealname": "D", "properties": map[string]any{"dealname": "E"}}, good, "properties.dealname", "conflicts"},
		{"update no type", hubspot.UpdateObjectID, map[string]any{"object_id": "1", "properties": map[string]any{"a": "b"}}, good, "object_type", "required"},
		{"update bad type", hubspot.UpdateObjectID, map[string]any{"object_type": "../owners", "object_id": "1", "properties": map[string]any{"a": "b"}}, good, "object_type", "not a HubSpot object type"},
		{"update no id", hubspot.UpdateObjectID, map[string]any{"object_type": "deals", "properties": map[string]any{"a": "b"}}, good, "object_id", "required"},
		{"update bad id", hubspot.UpdateObjectID, map[string]any{"object_type": "deals", "object_id": "1/../2", "properties": map[string]any{"a": "b"}}, good, "object_id", "not a record ID"},
		{"update no properties", hubspot.UpdateObjectID, map[string]any{"object_type": "deals", "object_id": "1"}, good, "properties", "at least one"},
		{"no connection", hubspot.CreateDealID, map[string]any{"dealname": "D"}, nil, "connection", "type hubspot"},
		{"token with newline", hubspot.CreateDealID, map[string]any{"dealname": "D"}, map[string]string{"token": "pat\r\nX: y"}, "connection", "line break"},
		{"base_url not http", hubspot.CreateDealID, map[string]any{"dealname": "D"}, map[string]string{"token": token, "base_url": "file:///etc"}, "connection", "https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, dry := range []bool{false, true} {
				res, err := run(t, tt.id, tt.cfg, tt.conn, dry)
				se := conntest.StepError(t, err)
				if se.Retryable {
					t.Errorf("config error is retryable: %v", err)
				}
				var ce *connectors.ConfigError
				if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("error %v: want a config error on %q containing %q", err, tt.field, tt.msg)
				}
				noToken(t, res, err)
			}
		})
	}
}

func TestDryRun(t *testing.T) {
	srv := conntest.NewServer(t, reply(200, dealOK))
	tests := []struct {
		id     string
		cfg    map[string]any
		method string
		url    string
		body   map[string]any
	}{
		{hubspot.UpsertContactID, map[string]any{"email": "a@b.co", "properties": map[string]any{"firstname": "A"}}, "POST", srv.URL + "/crm/v3/objects/contacts/batch/upsert",
			map[string]any{"inputs": []any{map[string]any{"idProperty": "email", "id": "a@b.co", "properties": map[string]string{"email": "a@b.co", "firstname": "A"}}}}},
		{hubspot.CreateDealID, map[string]any{"dealname": "D"}, "POST", srv.URL + "/crm/v3/objects/deals",
			map[string]any{"properties": map[string]string{"dealname": "D"}}},
		{hubspot.UpdateObjectID, map[string]any{"object_type": "tickets", "object_id": "3", "properties": map[string]any{"subject": "S"}}, "PATCH", srv.URL + "/crm/v3/objects/tickets/3",
			map[string]any{"properties": map[string]string{"subject": "S"}}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			res, err := run(t, tt.id, tt.cfg, conn(srv), true)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"dry_run": true, "request": map[string]any{
				"method": tt.method, "url": tt.url,
				"headers": map[string]any{"Authorization": "[redacted]", "Content-Type": "application/json"},
				"body":    tt.body,
			}}
			if !reflect.DeepEqual(res.Output, want) {
				t.Errorf("output\n got %#v\nwant %#v", res.Output, want)
			}
			noToken(t, res, err)
		})
	}
	if n := srv.Count(); n != 0 {
		t.Fatalf("dry runs sent %d requests", n)
	}
}

func TestDefaultBaseURL(t *testing.T) {
	res, err := run(t, hubspot.CreateDealID, map[string]any{"dealname": "D"}, map[string]string{"token": token}, true)
	if err != nil {
		t.Fatal(err)
	}
	if u := res.Output.(map[string]any)["request"].(map[string]any)["url"]; u != "https://api.hubapi.com/crm/v3/objects/deals" {
		t.Errorf("url = %v", u)
	}
}

func TestSpecs(t *testing.T) {
	for _, id := range []string{hubspot.UpsertContactID, hubspot.CreateDealID, hubspot.UpdateObjectID} {
		c, err := connectors.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		s := c.Spec()
		if s.Category != "CRM" || !s.SideEffects || s.Label == "" || s.Help == "" {
			t.Errorf("%s: spec %+v", id, s)
		}
		for _, f := range s.Fields {
			if f.Help == "" || f.Label == "" {
				t.Errorf("%s: field %s lacks label or help", id, f.Name)
			}
		}
		if f, ok := s.Field("connection"); !ok || !f.Required || !reflect.DeepEqual(f.ConnectionTypes, []string{hubspot.ConnType}) {
			t.Errorf("%s: connection field %+v", id, f)
		}
	}
	ct, err := connectors.LookupConnectionType(hubspot.ConnType)
	if err != nil {
		t.Fatal(err)
	}
	if ct.Fields[0].Name != "token" || ct.Fields[0].Type != connectors.TypeSecret || !ct.Fields[0].Required {
		t.Errorf("token field %+v", ct.Fields[0])
	}
}
