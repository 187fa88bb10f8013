package httpreq_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
	"github.com/switchyard/switchyard/connectors/httpreq"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
)

// newRecorder starts a server that records requests and answers with
// reply, or with {"ok":true} when reply is nil.
func newRecorder(t *testing.T, reply http.HandlerFunc) *conntest.Server {
	t.Helper()
	if reply == nil {
		reply = conntest.Reply(http.StatusOK, "application/json", `{"ok":true}`)
	}
	return conntest.NewServer(t, reply)
}

func execute(t *testing.T, cfg map[string]any, conn map[string]string) (connectors.Result, error) {
	t.Helper()
	return conntest.Execute(t, httpreq.ID, connectors.Input{
		Config: cfg, Connection: conn,
		RunID: "run1", StepID: "step1", IdempotencyKey: "run1:step1", Attempt: 1,
	})
}

func TestMethods(t *testing.T) {
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "post"} {
		t.Run(m, func(t *testing.T) {
			rec := newRecorder(t, nil)
			res, err := execute(t, map[string]any{"method": m, "url": rec.URL + "/things"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := rec.Only(t)
			if got.Method != strings.ToUpper(m) || got.Path != "/things" {
				t.Errorf("server saw %s %s", got.Method, got.Path)
			}
			out := res.Output.(map[string]any)
			if out["status"] != 200 {
				t.Errorf("status = %v", out["status"])
			}
			if m == "HEAD" {
				if out["body"] != nil {
					t.Errorf("HEAD body = %#v, want nil", out["body"])
				}
			} else if !reflect.DeepEqual(out["body"], map[string]any{"ok": true}) {
				t.Errorf("body = %#v", out["body"])
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	tests := []struct {
		name        string
		cfg         map[string]any
		query       string
		contentType string
		body        string
		headers     map[string]string
	}{
		{
			name:        "json object",
			cfg:         map[string]any{"method": "POST", "body": map[string]any{"b": []any{float64(1), 2.5}, "a": "x<y&z"}},
			contentType: "application/json",
			body:        `{"a":"x<y&z","b":[1,2.5]}`,
		},
		{
			name:        "json array",
			cfg:         map[string]any{"method": "PUT", "body": []any{"a", true, nil}},
			contentType: "application/json",
			body:        `["a",true,null]`,
		},
		{
			name:        "json string",
			cfg:         map[string]any{"method": "POST", "body": "hello", "body_type": "json"},
			contentType: "application/json",
			body:        `"hello"`,
		},
		{
			name:        "json number",
			cfg:         map[string]any{"method": "POST", "body": float64(42)},
			contentType: "application/json",
			body:        `42`,
		},
		{
			name:        "json with own content type",
			cfg:         map[string]any{"method": "POST", "body": map[string]any{}, "headers": map[string]any{"content-type": "application/vnd.api+json"}},
			contentType: "application/vnd.api+json",
			body:        `{}`,
		},
		{
			name:        "form",
			cfg:         map[string]any{"method": "POST", "body_type": "form", "body": map[string]any{"name": "Ann Lee", "n": float64(3), "tags": []any{"a", "b&c"}}},
			contentType: "application/x-www-form-urlencoded",
			body:        "n=3&name=Ann+Lee&tags=a&tags=b%26c",
		},
		{
			name:        "raw with content type",
			cfg:         map[string]any{"method": "POST", "body_type": "raw", "body": "a,b\n1,2\n", "headers": map[string]any{"Content-Type": "text/csv"}},
			contentType: "text/csv",
			body:        "a,b\n1,2\n",
		},
		{
			name:        "raw default content type",
			cfg:         map[string]any{"method": "PATCH", "body_type": "raw", "body": `{"not":"re-encoded"}`},
			contentType: "text/plain; charset=utf-8",
			body:        `{"not":"re-encoded"}`,
		},
		{
			name: "no body",
			cfg:  map[string]any{"method": "GET"},
		},
		{
			name:  "query merged and stringified",
			cfg:   map[string]any{"url": "/p?x=1", "query": map[string]any{"y": "2 3", "n": float64(4), "ok": true}},
			query: "n=4&ok=true&x=1&y=2+3",
		},
		{
			name:  "url query kept as written",
			cfg:   map[string]any{"url": "/p?b=2&a=1"},
			query: "b=2&a=1",
		},
		{
			name:    "headers stringified",
			cfg:     map[string]any{"headers": map[string]any{"X-Num": float64(5), "x-bool": true, "X-Text": "a b", "User-Agent": "mine/1"}},
			headers: map[string]string{"X-Num": "5", "X-Bool": "true", "X-Text": "a b", "User-Agent": "mine/1"},
		},
		{
			name:    "default user agent",
			cfg:     map[string]any{},
			headers: map[string]string{"User-Agent": "Switchyard"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, nil)
			cfg := tt.cfg
			u, _ := cfg["url"].(string)
			cfg["url"] = rec.URL + u
			if _, err := execute(t, cfg, nil); err != nil {
				t.Fatal(err)
			}
			got := rec.Only(t)
			if got.Body != tt.body {
				t.Errorf("body = %q, want %q", got.Body, tt.body)
			}
			if ct := got.Header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			if got.RawQuery != tt.query {
				t.Errorf("query = %q, want %q", got.RawQuery, tt.query)
			}
			for k, v := range tt.headers {
				if got.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, got.Header.Get(k), v)
				}
			}
		})
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name       string
		auth       string
		conn       map[string]string
		header     string
		want       string
		permErrMsg string
	}{
		{name: "bearer", auth: "bearer", conn: map[string]string{"token": "t0k"}, header: "Authorization", want: "Bearer t0k"},
		{name: "bearer from secret", auth: "bearer", conn: map[string]string{"value": "s3cr"}, header: "Authorization", want: "Bearer s3cr"},
		{name: "basic", auth: "basic", conn: map[string]string{"username": "u", "password": "p"}, header: "Authorization", want: "Basic dTpw"},
		{name: "header", auth: "header", conn: map[string]string{"name": "X-API-Key", "value": "k3y"}, header: "X-Api-Key", want: "k3y"},
		{name: "none", auth: "none", header: "Authorization", want: ""},
		{name: "unset", header: "Authorization", want: ""},
		{name: "inferred bearer", conn: map[string]string{"token": "t0k"}, header: "Authorization", want: "Bearer t0k"},
		{name: "inferred basic", auth: "none", conn: map[string]string{"username": "u", "password": "p"}, header: "Authorization", want: "Basic dTpw"},
		{name: "inferred header", conn: map[string]string{"name": "X-Key", "value": "v"}, header: "X-Key", want: "v"},
		{name: "bearer without connection", auth: "bearer", permErrMsg: "needs a connection"},
		{name: "bearer with basic connection", auth: "bearer", conn: map[string]string{"username": "user-cred"}, permErrMsg: "http_bearer"},
		{name: "header without name", auth: "header", conn: map[string]string{"value": "v"}, permErrMsg: "http_header"},
		{name: "bad auth", auth: "digest", conn: map[string]string{"token": "tok-cred"}, permErrMsg: "not one of"},
		{name: "credential with newline", auth: "bearer", conn: map[string]string{"token": "a\r\nX-Evil: 1"}, permErrMsg: "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, nil)
			cfg := map[string]any{"url": rec.URL, "headers": map[string]any{"Authorization": "from-headers"}}
			if tt.auth != "" {
				cfg["auth"] = tt.auth
			}
			if tt.want == "" && tt.permErrMsg == "" {
				delete(cfg, "headers")
			}
			_, err := execute(t, cfg, tt.conn)
			if tt.permErrMsg != "" {
				assertPermanent(t, err, tt.permErrMsg)
				if rec.Count() != 0 {
					t.Error("request sent despite the config error")
				}
				for _, v := range tt.conn {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q shows a credential", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.Only(t).Header.Get(tt.header); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

// TestAuthConcealed: the credential values the connector builds (the
// encoded Basic credentials, with and without the scheme) are handed to
// Input.Conceal, so the engine can hide them should a remote echo them.
func TestAuthConcealed(t *testing.T) {
	rec := newRecorder(t, nil)
	var concealed []string
	_, err := conntest.Execute(t, httpreq.ID, connectors.Input{
		Config:     map[string]any{"url": rec.URL, "auth": "basic"},
		Connection: map[string]string{"username": "u", "password": "p"},
		RunID:      "run1", StepID: "step1", Attempt: 1,
		Conceal: func(v string) { concealed = append(concealed, v) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(concealed, " | ") != "dTpw | Basic dTpw" {
		t.Errorf("concealed %q", concealed)
	}
}

func TestIdempotencyKey(t *testing.T) {
	tests := []struct {
		setting any
		want    string
	}{
		{nil, "run1:step1"},
		{true, "run1:step1"},
		{false, ""},
		{"false", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.setting), func(t *testing.T) {
			rec := newRecorder(t, nil)
			cfg := map[string]any{"method": "POST", "url": rec.URL}
			if tt.setting != nil {
				cfg["idempotency_key"] = tt.setting
			}
			if _, err := execute(t, cfg, nil); err != nil {
				t.Fatal(err)
			}
			got := rec.Only(t).Header
			if got.Get("Idempotency-Key") != tt.want || (tt.want == "" && len(got.Values("Idempotency-Key")) != 0) {
				t.Errorf("Idempotency-Key = %q, want %q", got.Values("Idempotency-Key"), tt.want)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        any
	}{
		{"json", "application/json; charset=utf-8", `{"id":7,"tags":["a"]}`, map[string]any{"id": float64(7), "tags": []any{"a"}}},
		{"problem json", "application/problem+json", `{"title":"x"}`, map[string]any{"title": "x"}},
		{"json list", "application/json", `[1,2]`, []any{float64(1), float64(2)}},
		{"empty json", "application/json", ``, nil},
		{"broken json kept as text", "application/json", `{"id":`, `{"id":`},
		{"text", "text/plain", "hello\nworld", "hello\nworld"},
		{"html", "text/html", "<p>hi</p>", "<p>hi</p>"},
		{"json-looking text", "text/plain", `{"id":7}`, `{"id":7}`},
		{"no content type", "", "raw", "raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{tt.contentType}
				w.Header().Set("X-Request-Id", "abc")
				w.Header().Add("Set-Cookie", "a=1")
				w.Header().Add("Set-Cookie", "b=2")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, tt.body)
			})
			res, err := execute(t, map[string]any{"url": rec.URL}, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := res.Output.(map[string]any)
			if out["status"] != http.StatusCreated {
				t.Errorf("status = %#v", out["status"])
			}
			if !reflect.DeepEqual(out["body"], tt.want) {
				t.Errorf("body = %#v, want %#v", out["body"], tt.want)
			}
			h := out["headers"].(map[string]any)
			if h["x-request-id"] != "abc" || h["set-cookie"] != "a=1, b=2" {
				t.Errorf("headers = %v", h)
			}
		})
	}
}

func assertPermanent(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if retry, _ := connectors.IsRetryable(err); retry {
		t.Errorf("err %v is retryable, want permanent", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("err = %q, want it to contain %q", err, msg)
	}
}

func assertRetryable(t *testing.T, err error, msg string, after time.Duration) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	retry, got := connectors.IsRetryable(err)
	if !retry {
		t.Errorf("err %v is permanent, want retryable", err)
	}
	if got < after-2*time.Second || got > after {
		t.Errorf("retry after %v, want about %v", got, after)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("err = %q, want it to contain %q", err, msg)
	}
}

func TestStatusErrors(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		retryable  bool
		after      time.Duration
		msg        string
	}{
		{"429 seconds", 429, "7", "slow down", true, 7 * time.Second, "429 Too Many Requests: slow down"},
		{"429 date", 429, date, "", true, 90 * time.Second, "429"},
		{"500", 500, "", "boom", true, 0, "500 Internal Server Error: boom"},
		{"503", 503, "", "", true, 0, "503 Service Unavailable"},
		{"400", 400, "", `{"error": "bad",` + "\n" + `  "field": "email"}`, false, 0, `http.request: POST http://127.0.0.1`},
		{"404", 404, "", "nope", false, 0, "404 Not Found: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := execute(t, map[string]any{"method": "POST", "url": rec.URL + "/x?token=SECRET"}, nil)
			if tt.retryable {
				assertRetryable(t, err, tt.msg, tt.after)
			} else {
				assertPermanent(t, err, tt.msg)
			}
			var se *connectors.StepError
			if !errors.As(err, &se) || se.Status != tt.status {
				t.Errorf("StepError.Status missing in %#v", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q shows the query string", err)
			}
			if tt.status == 400 && !strings.Contains(err.Error(), `/x: 400 Bad Request: {"error": "bad", "field": "email"}`) {
				t.Errorf("err = %q, want status and collapsed body excerpt", err)
			}
		})
	}
}

func TestFailOnStatusOff(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"missing"}`)
	})
	res, err := execute(t, map[string]any{"url": rec.URL, "fail_on_status": false}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := res.Output.(map[string]any)
	if out["status"] != 404 || !reflect.DeepEqual(out["body"], map[string]any{"error": "missing"}) {
		t.Errorf("output = %v", out)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	start := time.Now()
	_, err := execute(t, map[string]any{"url": rec.URL, "timeout": "100ms"}, nil)
	assertRetryable(t, err, "no complete response within 100ms", 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v is not DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = execute(t, map[string]any{"url": "http://" + addr + "/"}, nil)
	assertRetryable(t, err, "connection refused", 0)
}

func TestOversizeResponse(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 1<<20)
		for range 10 {
			io.WriteString(w, chunk)
		}
		io.WriteString(w, "!")
	})
	_, err := execute(t, map[string]any{"url": rec.URL}, nil)
	assertPermanent(t, err, "too large")
	if !errors.Is(err, connectors.ErrResponseTooLarge) {
		t.Errorf("err %v is not ErrResponseTooLarge", err)
	}
}

func TestEgressRefused(t *testing.T) {
	rec := newRecorder(t, nil)
	c, _ := connectors.Lookup(httpreq.ID)
	_, err := c.Execute(context.Background(), connectors.Input{
		Config: map[string]any{"url": rec.URL}, HTTP: egress.NewClient(nil),
	})
	assertPermanent(t, err, "egress: refused to connect to 127.0.0.1")
	if !errors.Is(err, egress.ErrRefused) {
		t.Errorf("err %v is not ErrRefused", err)
	}
	if rec.Count() != 0 {
		t.Error("request reached the server")
	}
}

func TestDryRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c, _ := connectors.Lookup(httpreq.ID)
	res, err := c.Execute(context.Background(), connectors.Input{
		Config: map[string]any{
			"method": "POST", "url": srv.URL + "/hook", "query": map[string]any{"a": "1"},
			"headers": map[string]any{"X-Trace": "t"}, "body": map[string]any{"k": "v"}, "auth": "bearer",
		},
		Connection:     map[string]string{"token": "SECRET-TOKEN"},
		IdempotencyKey: "r:s",
		DryRun:         true,
		HTTP:           conntest.Client,
	})
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 {
		t.Fatalf("dry run sent %d requests", hits.Load())
	}
	out := res.Output.(map[string]any)
	if out["dry_run"] != true {
		t.Errorf("dry_run = %v", out["dry_run"])
	}
	req := out["request"].(map[string]any)
	h := req["headers"].(map[string]any)
	if req["method"] != "POST" || req["url"] != srv.URL+"/hook?a=1" || !reflect.DeepEqual(req["body"], map[string]any{"k": "v"}) {
		t.Errorf("request = %v", req)
	}
	if h["Authorization"] != httpreq.Redacted || h["X-Trace"] != "t" || h["Idempotency-Key"] != "r:s" || h["Content-Type"] != "application/json" {
		t.Errorf("headers = %v", h)
	}
	if strings.Contains(fmt.Sprint(out), "SECRET") {
		t.Errorf("dry run output shows the token: %v", out)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]any
		msg  string
	}{
		{"no url", map[string]any{}, `field "url": required`},
		{"url not text", map[string]any{"url": map[string]any{}}, `field "url"`},
		{"ftp", map[string]any{"url": "ftp://127.0.0.1/x"}, "not http or https"},
		{"relative", map[string]any{"url": "/x"}, "not http or https"},
		{"no host", map[string]any{"url": "http:///x"}, "no host"},
		{"bad url", map[string]any{"url": "http://[::1"}, "not a valid URL"},
		{"numeric host", map[string]any{"url": "http://2130706433/"}, "non-canonical"},
		{"octal host", map[string]any{"url": "http://0177.0.0.1/"}, "non-canonical"},
		{"method", map[string]any{"url": "http://example.com", "method": "TRACE"}, `"TRACE" is not one of`},
		{"body type", map[string]any{"url": "http://example.com", "body_type": "xml"}, "not one of"},
		{"form list", map[string]any{"url": "http://example.com", "body_type": "form", "body": []any{"a"}}, "form body"},
		{"raw object", map[string]any{"url": "http://example.com", "body_type": "raw", "body": map[string]any{}}, "raw body must be text"},
		{"timeout too long", map[string]any{"url": "http://example.com", "timeout": "10m"}, `field "timeout"`},
		{"timeout zero", map[string]any{"url": "http://example.com", "timeout": "0s"}, `field "timeout"`},
		{"timeout garbage", map[string]any{"url": "http://example.com", "timeout": "soon"}, `field "timeout"`},
		{"header newline", map[string]any{"url": "http://example.com", "headers": map[string]any{"X-A": "a\r\nX-Evil: 1"}}, "line break"},
		{"header name", map[string]any{"url": "http://example.com", "headers": map[string]any{"X A": "a"}}, "not a valid header name"},
		{"headers list", map[string]any{"url": "http://example.com", "headers": "X-A: b"}, `field "headers"`},
		{"query object value", map[string]any{"url": "http://example.com", "query": map[string]any{"a": map[string]any{}}}, `field "query.a"`},
		{"idempotency", map[string]any{"url": "http://example.com", "idempotency_key": "maybe"}, `field "idempotency_key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// DryRun too: config errors surface before anything is sent.
			for _, dry := range []bool{false, true} {
				c, _ := connectors.Lookup(httpreq.ID)
				_, err := c.Execute(context.Background(), connectors.Input{Config: tt.cfg, DryRun: dry, HTTP: egress.NewClient(nil)})
				assertPermanent(t, err, tt.msg)
				if !strings.HasPrefix(err.Error(), "http.request: ") {
					t.Errorf("err = %q, want the connector named", err)
				}
			}
		})
	}
}

func TestSpec(t *testing.T) {
	spec := (&httpreq.Request{}).Spec()
	if spec.ID != "http.request" || spec.Category != "Core" || !spec.SideEffects {
		t.Errorf("spec = %+v", spec)
	}
	want := map[string]connectors.FieldType{
		"method": connectors.TypeSelect, "url": connectors.TypeString, "query": connectors.TypeKeyValue,
		"headers": connectors.TypeKeyValue, "body": connectors.TypeJSON, "body_type": connectors.TypeSelect,
		"auth": connectors.TypeSelect, "connection": connectors.TypeConnection, "timeout": connectors.TypeDuration,
		"idempotency_key": connectors.TypeBool, "fail_on_status": connectors.TypeBool,
	}
	if len(spec.Fields) != len(want) {
		t.Errorf("%d fields, want %d", len(spec.Fields), len(want))
	}
	for name, typ := range want {
		f, ok := spec.Field(name)
		if !ok || f.Type != typ {
			t.Errorf("field %s = %+v, want type %s", name, f, typ)
		}
	}
	if f, _ := spec.Field("url"); !f.Required {
		t.Error("url not required")
	}
	for _, id := range []string{httpreq.ConnBearer, httpreq.ConnBasic, httpreq.ConnHeader, "secret"} {
		if _, err := connectors.LookupConnectionType(id); err != nil {
			t.Error(err)
		}
	}
}
