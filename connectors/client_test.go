package connectors_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
)

func TestEncodeJSON(t *testing.T) {
	got, err := connectors.EncodeJSON(map[string]any{"text": "<@U1> & <b>"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"text":"<@U1> & <b>"}`; string(got) != want {
		t.Errorf("EncodeJSON = %s, want %s", got, want)
	}
	if _, err := connectors.EncodeJSON(map[string]any{"f": func() {}}); err == nil {
		t.Error("EncodeJSON of a func: no error")
	}
}

func TestDo(t *testing.T) {
	srv := conntest.NewServer(t, conntest.Reply(201, "application/json", `{"id":1}`, "X-Id", "7"))
	header := http.Header{"X-Trace": {"t"}}
	ans, err := connectors.Do(context.Background(), conntest.Client, connectors.Call{
		Service: "test: POST /x", Method: http.MethodPost, URL: srv.URL + "/x?q=1", Header: header,
		Host: "api.example.com", Body: []byte(`{"a":1}`), Timeout: time.Second, MaxBody: 1 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Status != 201 || ans.Header.Get("X-Id") != "7" || string(ans.Body) != `{"id":1}` {
		t.Errorf("answer = %d %v %s", ans.Status, ans.Header, ans.Body)
	}
	got := srv.Only(t)
	if got.Method != http.MethodPost || got.RequestURI != "/x?q=1" || got.Body != `{"a":1}` || got.Header.Get("X-Trace") != "t" {
		t.Errorf("server saw %+v", got)
	}
	if ua := got.Header.Get("User-Agent"); ua != connectors.UserAgent {
		t.Errorf("User-Agent %q, want %q when the call names none", ua, connectors.UserAgent)
	}
	if header.Get("User-Agent") != "" {
		t.Error("Do changed the caller's header")
	}
	// A non-2xx status is the caller's to map; a User-Agent the call
	// names is kept.
	srv = conntest.NewServer(t, conntest.Reply(503, "", "down"))
	ans, err = connectors.Do(context.Background(), conntest.Client, connectors.Call{Service: "s", Method: http.MethodGet, URL: srv.URL,
		Header: http.Header{"User-Agent": {"mine/1"}}, MaxBody: 100})
	if err != nil || ans.Status != 503 {
		t.Errorf("503: %v, %v", ans, err)
	}
	if ua := srv.Only(t).Header.Get("User-Agent"); ua != "mine/1" {
		t.Errorf("User-Agent %q, want the call's own", ua)
	}
}

func TestDoErrors(t *testing.T) {
	slow := conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	big := conntest.NewServer(t, conntest.Reply(200, "text/plain", strings.Repeat("x", 101)))
	expired, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		call  connectors.Call
		retry bool
		msg   string
	}{
		{"own timeout", context.Background(), connectors.Call{Service: "svc", Method: "GET", URL: slow.URL, Timeout: 50 * time.Millisecond, MaxBody: 100},
			true, "svc: no complete response within 50ms"},
		{"caller's deadline", expired, connectors.Call{Service: "svc", Method: "GET", URL: slow.URL, MaxBody: 100},
			true, "svc: no answer in time"},
		{"body too large", context.Background(), connectors.Call{Service: "svc", Method: "GET", URL: big.URL, MaxBody: 100},
			false, "svc: read response body: response body too large"},
		{"bad method", context.Background(), connectors.Call{Service: "svc", Method: "BAD METHOD", URL: big.URL, MaxBody: 100},
			false, "svc: build request"},
		{"egress refused", context.Background(), connectors.Call{Service: "svc", Method: "GET", URL: "http://127.0.0.1:1/secret-path", MaxBody: 100},
			false, "svc: dial tcp 127.0.0.1:1: egress: refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := conntest.Client
			if tt.name == "egress refused" {
				client = egress.NewClient(nil)
			}
			_, err := connectors.Do(tt.ctx, client, tt.call)
			if err == nil {
				t.Fatal("no error")
			}
			if retry, _ := connectors.IsRetryable(err); retry != tt.retry {
				t.Errorf("retryable = %v, want %v: %v", retry, tt.retry, err)
			}
			if !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("error %q does not start with %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "secret-path") {
				t.Errorf("error quotes the URL's path: %v", err)
			}
		})
	}
	if _, err := connectors.Do(context.Background(), nil, connectors.Call{Service: "svc"}); err == nil || !strings.Contains(err.Error(), "no HTTP client") {
		t.Errorf("nil client: %v", err)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		conn    map[string]string
		def     string
		want    string
		errWant string
	}{
		{map[string]string{}, "https://api.example.com/v1", "https://api.example.com/v1", ""},
		{map[string]string{"base_url": " HTTP://127.0.0.1:8080/api "}, "https://x", "http://127.0.0.1:8080/api", ""},
		{map[string]string{}, "", "", "the connection has no base_url"},
		{map[string]string{"base_url": "ftp://x"}, "", "", "connection base_url must be an http:// or https:// URL"},
		{map[string]string{"base_url": "yourorg.my.salesforce.com"}, "", "", "must be an http:// or https:// URL"},
		{map[string]string{"base_url": "http://[::1"}, "", "", "connection base_url is not a valid URL"},
		{map[string]string{"base_url": "https:///x"}, "", "", "connection base_url has no host"},
		{map[string]string{"base_url": "https://u:p@x"}, "", "", "must not hold a user name or password"},
		{map[string]string{"base_url": "https://x/?a=1"}, "", "", "must not have a query or fragment"},
		{map[string]string{"base_url": "https://x/#f"}, "", "", "must not have a query or fragment"},
		{map[string]string{"base_url": "http://2130706433/"}, "", "", "connection base_url host is a non-canonical numeric address"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.conn, tt.def), func(t *testing.T) {
			u, err := connectors.BaseURL(tt.conn, "base_url", tt.def)
			if tt.errWant == "" {
				if err != nil || u.String() != tt.want {
					t.Fatalf("BaseURL = %v, %v; want %s", u, err, tt.want)
				}
				return
			}
			var ce *connectors.ConfigError
			if !errors.As(err, &ce) || ce.Field != connectors.KeyConnection || !strings.Contains(err.Error(), tt.errWant) {
				t.Fatalf("error %v: want a config error on connection containing %q", err, tt.errWant)
			}
			if strings.Contains(tt.conn["base_url"], "u:p") && strings.Contains(err.Error(), "u:p") {
				t.Errorf("error quotes the URL: %v", err)
			}
		})
	}
	_, err := connectors.BaseURL(map[string]string{"base_url": "http://0177.0.0.1/"}, "base_url", "")
	if !errors.Is(err, egress.ErrRefused) {
		t.Errorf("non-canonical host: %v does not match egress.ErrRefused", err)
	}
}

func TestScrub(t *testing.T) {
	const secret = "s3cr3t"
	if connectors.Scrub(nil, secret) != nil {
		t.Error("Scrub(nil) is not nil")
	}
	plain := errors.New("no secret here")
	if connectors.Scrub(plain, secret, "") != plain {
		t.Error("an error without the secret was replaced")
	}
	inner := errors.New("token " + secret + " refused")
	src := &connectors.StepError{Retryable: true, RetryAfter: time.Minute, Status: 429, Err: fmt.Errorf("svc: %w", inner)}
	err := connectors.Scrub(src, "", secret)
	if err.Error() != "svc: token [redacted] refused" {
		t.Errorf("scrubbed = %q", err)
	}
	if errors.Is(err, inner) {
		t.Error("scrubbed error still wraps the secret-bearing error")
	}
	var se *connectors.StepError
	if !errors.As(err, &se) || !se.Retryable || se.RetryAfter != time.Minute || se.Status != 429 {
		t.Errorf("classification lost: %+v", se)
	}
	if retry, _ := connectors.IsRetryable(connectors.Scrub(connectors.Permanentf("x %s", secret), secret)); retry {
		t.Error("a permanent error became retryable")
	}
	if retry, _ := connectors.IsRetryable(connectors.Scrub(errors.New(secret), secret)); !retry {
		t.Error("a plain error, retryable by default, became permanent")
	}
}

func TestDryRunRequest(t *testing.T) {
	got := connectors.DryRunRequest("POST", "https://x/y", map[string]any{"Authorization": connectors.Redacted}, map[string]any{"a": 1})
	want := map[string]any{"dry_run": true, "request": map[string]any{
		"method": "POST", "url": "https://x/y",
		"headers": map[string]any{"Authorization": "[redacted]"},
		"body":    map[string]any{"a": 1},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DryRunRequest = %v, want %v", got, want)
	}
	got = connectors.DryRunRequest("GET", "https://x/y", map[string]any{}, nil)
	if _, ok := got["request"].(map[string]any)["body"]; ok {
		t.Error("a nil body is shown")
	}
}

func TestConfigTimeoutAndRequired(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want time.Duration
		err  string
	}{
		{nil, 30 * time.Second, ""},
		{"2m", 2 * time.Minute, ""},
		{"0s", 0, "must be above 0 and at most 5m0s"},
		{"6m", 0, "must be above 0 and at most 5m0s"},
		{"soon", 0, "want a duration"},
	} {
		d, err := connectors.ConfigTimeout(map[string]any{"timeout": tt.v}, "timeout", 30*time.Second, 5*time.Minute)
		if tt.err == "" && (err != nil || d != tt.want) || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ConfigTimeout(%v) = %v, %v", tt.v, d, err)
		}
	}
	if s, err := connectors.ConfigRequired(map[string]any{"k": " v "}, "k"); s != "v" || err != nil {
		t.Errorf("ConfigRequired = %q, %v", s, err)
	}
	for _, v := range []any{nil, "  "} {
		if _, err := connectors.ConfigRequired(map[string]any{"k": v}, "k"); err == nil || err.Error() != `field "k": required` {
			t.Errorf("ConfigRequired(%v) error = %v", v, err)
		}
	}
}
