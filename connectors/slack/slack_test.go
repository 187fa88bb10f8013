package slack_test

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
	"github.com/switchyard/switchyard/connectors/slack"
)

const token = "xoxb-1111-2222-s3cr3tT0k3n"

func jsonReply(status int, body string, header ...string) http.HandlerFunc {
	return conntest.Reply(status, "application/json; charset=utf-8", body, header...)
}

func textReply(status int, body string, header ...string) http.HandlerFunc {
	return conntest.Reply(status, "text/html", body, header...)
}

func run(t *testing.T, id string, cfg map[string]any, conn map[string]string, dry bool) (connectors.Result, error) {
	t.Helper()
	return conntest.Execute(t, id, connectors.Input{
		Config: cfg, Connection: conn,
		RunID: "run1", StepID: "step1", IdempotencyKey: "run1:step1", Attempt: 1,
		DryRun: dry,
	})
}

const postOK = `{"ok":true,"channel":"C123ABC456","ts":"1503435956.000247","message":{"text":"Here's a message for you","username":"ecto1","bot_id":"B123ABC456","type":"message","subtype":"bot_message","ts":"1503435956.000247"}}`

func TestPostMessageRequest(t *testing.T) {
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*Big* order <@U123> & co"}}}
	tests := []struct {
		name string
		cfg  map[string]any
		body string
	}{
		{
			name: "text",
			cfg:  map[string]any{"channel": "C123ABC456", "text": "Hello <@U123> & welcome"},
			body: `{"channel":"C123ABC456","text":"Hello <@U123> & welcome"}`,
		},
		{
			name: "blocks and options",
			cfg: map[string]any{
				"channel": " #vip ", "text": "fallback", "blocks": blocks, "thread_ts": "1503435956.000247",
				"reply_broadcast": true, "unfurl_links": false, "unfurl_media": "true", "mrkdwn": false,
				"username": "Orders", "icon_emoji": ":moneybag:", "icon_url": "",
			},
			body: `{"blocks":[{"text":{"text":"*Big* order <@U123> & co","type":"mrkdwn"},"type":"section"}],"channel":"#vip","icon_emoji":":moneybag:","mrkdwn":false,"reply_broadcast":true,"text":"fallback","thread_ts":"1503435956.000247","unfurl_links":false,"unfurl_media":true,"username":"Orders"}`,
		},
		{
			name: "blocks as lines of text",
			cfg:  map[string]any{"channel": "C1", "blocks": []any{"*Hot lead*", map[string]any{"type": "divider"}, "Score 85"}},
			body: `{"blocks":[{"text":{"text":"*Hot lead*","type":"mrkdwn"},"type":"section"},{"type":"divider"},{"text":{"text":"Score 85","type":"mrkdwn"},"type":"section"}],"channel":"C1"}`,
		},
		{
			name: "blocks as one text",
			cfg:  map[string]any{"channel": "C1", "blocks": "New lead <@U1>"},
			body: `{"blocks":[{"text":{"text":"New lead <@U1>","type":"mrkdwn"},"type":"section"}],"channel":"C1"}`,
		},
		{
			name: "blocks as JSON text from Block Kit Builder",
			cfg:  map[string]any{"channel": "C1", "blocks": `{"blocks":[{"type":"divider"}]}`},
			body: `{"blocks":[{"type":"divider"}],"channel":"C1"}`,
		},
		{
			name: "unset bools are not sent",
			cfg:  map[string]any{"channel": "C1", "text": "x", "unfurl_links": nil, "reply_broadcast": ""},
			body: `{"channel":"C1","text":"x"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := conntest.NewServer(t, jsonReply(200, postOK))
			res, err := run(t, slack.PostMessageID, tt.cfg, map[string]string{"token": token, "base_url": srv.URL + "/api"}, false)
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Only(t)
			if got.Method != http.MethodPost || got.Path != "/api/chat.postMessage" {
				t.Errorf("request %s %s, want POST /api/chat.postMessage", got.Method, got.Path)
			}
			if a := got.Header.Get("Authorization"); a != "Bearer "+token {
				t.Errorf("Authorization = %q", a)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got.Header.Get("Idempotency-Key") != "" {
				t.Error("sent an Idempotency-Key header Slack does not support")
			}
			if got.Body != tt.body {
				t.Errorf("body\n got %s\nwant %s", got.Body, tt.body)
			}
			out := res.Output.(map[string]any)
			if out["ok"] != true || out["ts"] != "1503435956.000247" || out["channel"] != "C123ABC456" {
				t.Errorf("output = %v", out)
			}
			if msg, _ := out["message"].(map[string]any); msg["bot_id"] != "B123ABC456" {
				t.Errorf("output message = %v", out["message"])
			}
			conntest.NoSecret(t, token, res, err)
		})
	}
}

func TestPostMessageWarningsKept(t *testing.T) {
	srv := conntest.NewServer(t, jsonReply(200, `{"ok":true,"channel":"C1","ts":"1.2","warning":"missing_charset","response_metadata":{"warnings":["missing_charset"]}}`))
	res, err := run(t, slack.PostMessageID, map[string]any{"channel": "C1", "text": "x"}, map[string]string{"token": token, "base_url": srv.URL}, false)
	if err != nil {
		t.Fatal(err)
	}
	out := res.Output.(map[string]any)
	want := map[string]any{"warnings": []any{"missing_charset"}}
	if out["warning"] != "missing_charset" || !reflect.DeepEqual(out["response_metadata"], want) {
		t.Errorf("output = %v", out)
	}
}

func TestPostMessageDefaultBaseURL(t *testing.T) {
	res, err := run(t, slack.PostMessageID, map[string]any{"channel": "C1", "text": "x"}, map[string]string{"token": token}, true)
	if err != nil {
		t.Fatal(err)
	}
	req := res.Output.(map[string]any)["request"].(map[string]any)
	if req["url"] != "https://slack.com/api/chat.postMessage" {
		t.Errorf("url = %v", req["url"])
	}
}

func TestPostMessageErrors(t *testing.T) {
	tests := []struct {
		name      string
		reply     http.HandlerFunc
		retryable bool
		after     time.Duration
		status    int
		contains  []string
	}{
		{name: "ok false permanent", reply: jsonReply(200, `{"ok":false,"error":"channel_not_found"}`),
			status: 200, contains: []string{"channel_not_found", "slack.post_message"}},
		{name: "missing scope detail", reply: jsonReply(200, `{"ok":false,"error":"missing_scope","needed":"chat:write","provided":"users:read"}`),
			status: 200, contains: []string{"missing_scope", "needed chat:write", "provided users:read"}},
		{name: "invalid blocks messages", reply: jsonReply(200, `{"ok":false,"error":"invalid_blocks","response_metadata":{"messages":["[ERROR] missing required field: text [json-pointer:/blocks/0]"]}}`),
			status: 200, contains: []string{"invalid_blocks", "missing required field: text"}},
		{name: "ratelimited in body", reply: jsonReply(200, `{"ok":false,"error":"ratelimited"}`, "Retry-After", "7"),
			retryable: true, after: 7 * time.Second, status: 200, contains: []string{"ratelimited"}},
		{name: "http 429", reply: jsonReply(429, `{"ok":false,"error":"ratelimited"}`, "Retry-After", "7"),
			retryable: true, after: 7 * time.Second, status: 429, contains: []string{"ratelimited"}},
		{name: "http 429 no body", reply: textReply(429, "", "Retry-After", "7"),
			retryable: true, after: 7 * time.Second, status: 429, contains: []string{"429"}},
		{name: "internal_error", reply: jsonReply(200, `{"ok":false,"error":"internal_error"}`),
			retryable: true, status: 200, contains: []string{"internal_error"}},
		{name: "fatal_error", reply: jsonReply(200, `{"ok":false,"error":"fatal_error"}`),
			retryable: true, status: 200, contains: []string{"fatal_error"}},
		{name: "service_unavailable", reply: jsonReply(200, `{"ok":false,"error":"service_unavailable"}`),
			retryable: true, status: 200, contains: []string{"service_unavailable"}},
		{name: "http 503", reply: textReply(503, "<html>upstream down</html>"),
			retryable: true, status: 503, contains: []string{"503", "upstream down"}},
		{name: "http 404 text", reply: textReply(404, "not found here"),
			status: 404, contains: []string{"404", "not found here"}},
		{name: "http 400 json", reply: jsonReply(400, `{"ok":false,"error":"invalid_json"}`),
			status: 400, contains: []string{"invalid_json"}},
		{name: "200 not json", reply: textReply(200, "<html>proxy</html>"),
			status: 0, contains: []string{"not a JSON object", "proxy"}},
		{name: "token echoed", reply: jsonReply(200, `{"ok":false,"error":"invalid_auth","response_metadata":{"messages":["bad token `+token+`"]}}`),
			status: 200, contains: []string{"invalid_auth", "[redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := conntest.NewServer(t, tt.reply)
			res, err := run(t, slack.PostMessageID, map[string]any{"channel": "C1", "text": "x"}, map[string]string{"token": token, "base_url": srv.URL}, false)
			if err == nil {
				t.Fatalf("no error; output %v", res.Output)
			}
			se := conntest.StepError(t, err)
			if se.Retryable != tt.retryable || se.RetryAfter != tt.after || se.Status != tt.status {
				t.Errorf("retryable=%v after=%v status=%d, want %v %v %d (%v)", se.Retryable, se.RetryAfter, se.Status, tt.retryable, tt.after, tt.status, err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			conntest.NoSecret(t, token, res, err)
		})
	}
}

func TestPostMessageAPIErrorCode(t *testing.T) {
	srv := conntest.NewServer(t, jsonReply(200, `{"ok":false,"error":"not_in_channel"}`))
	_, err := run(t, slack.PostMessageID, map[string]any{"channel": "C1", "text": "x"}, map[string]string{"token": token, "base_url": srv.URL}, false)
	var ae *slack.APIError
	if !errors.As(err, &ae) || ae.Code != "not_in_channel" {
		t.Fatalf("error %v: want an APIError with code not_in_channel", err)
	}
}

func TestPostMessageConfigErrors(t *testing.T) {
	conn := map[string]string{"token": token, "base_url": "http://127.0.0.1:1"}
	tests := []struct {
		name  string
		cfg   map[string]any
		conn  map[string]string
		field string
		msg   string
	}{
		{name: "no channel", cfg: map[string]any{"text": "x"}, conn: conn, field: "channel", msg: "required"},
		{name: "blank channel", cfg: map[string]any{"channel": "  ", "text": "x"}, conn: conn, field: "channel", msg: "required"},
		{name: "no text or blocks", cfg: map[string]any{"channel": "C1"}, conn: conn, field: "text", msg: "text or blocks"},
		{name: "empty blocks", cfg: map[string]any{"channel": "C1", "blocks": []any{}}, conn: conn, field: "text", msg: "text or blocks"},
		{name: "blocks not a list", cfg: map[string]any{"channel": "C1", "blocks": float64(3)}, conn: conn, field: "blocks", msg: "list"},
		{name: "blocks bad json", cfg: map[string]any{"channel": "C1", "blocks": "[{"}, conn: conn, field: "blocks", msg: "JSON"},
		{name: "block not object", cfg: map[string]any{"channel": "C1", "blocks": []any{float64(1)}}, conn: conn, field: "blocks[0]", msg: "block object"},
		{name: "thread_ts number", cfg: map[string]any{"channel": "C1", "text": "x", "thread_ts": 1.5}, conn: conn, field: "thread_ts", msg: "as text"},
		{name: "bad bool", cfg: map[string]any{"channel": "C1", "text": "x", "unfurl_links": "maybe"}, conn: conn, field: "unfurl_links", msg: "true or false"},
		{name: "no connection", cfg: map[string]any{"channel": "C1", "text": "x"}, conn: nil, field: "connection", msg: "type slack"},
		{name: "token with newline", cfg: map[string]any{"channel": "C1", "text": "x"}, conn: map[string]string{"token": "xoxb-a\r\nX: y"}, field: "connection", msg: "line break"},
		{name: "base_url not http", cfg: map[string]any{"channel": "C1", "text": "x"}, conn: map[string]string{"token": token, "base_url": "ftp://x"}, field: "connection", msg: "https://"},
		{name: "base_url with query", cfg: map[string]any{"channel": "C1", "text": "x"}, conn: map[string]string{"token": token, "base_url": "https://x/api?a=1"}, field: "connection", msg: "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, dry := range []bool{false, true} {
				res, err := run(t, slack.PostMessageID, tt.cfg, tt.conn, dry)
				se := conntest.StepError(t, err)
				if se.Retryable {
					t.Errorf("config error is retryable: %v", err)
				}
				var ce *connectors.ConfigError
				if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("error %v: want a config error on %q containing %q", err, tt.field, tt.msg)
				}
				conntest.NoSecret(t, token, res, err)
			}
		})
	}
}

func TestPostMessageDryRun(t *testing.T) {
	srv := conntest.NewServer(t, jsonReply(200, postOK))
	cfg := map[string]any{"channel": "C1", "text": "hi", "unfurl_links": true}
	res, err := run(t, slack.PostMessageID, cfg, map[string]string{"token": token, "base_url": srv.URL}, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Count(); n != 0 {
		t.Fatalf("dry run sent %d requests", n)
	}
	want := map[string]any{
		"dry_run": true,
		"request": map[string]any{
			"method":  "POST",
			"url":     srv.URL + "/chat.postMessage",
			"headers": map[string]any{"Authorization": "[redacted]", "Content-Type": "application/json; charset=utf-8"},
			"body":    map[string]any{"channel": "C1", "text": "hi", "unfurl_links": true},
		},
	}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output\n got %#v\nwant %#v", res.Output, want)
	}
	conntest.NoSecret(t, token, res, err)
}

const hookPath = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

func TestIncomingWebhook(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]any
		body string
	}{
		{name: "text", cfg: map[string]any{"text": "Hello, <@U1> & all"}, body: `{"text":"Hello, <@U1> & all"}`},
		{name: "blocks", cfg: map[string]any{"text": "fb", "blocks": []any{map[string]any{"type": "divider"}}},
			body: `{"blocks":[{"type":"divider"}],"text":"fb"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := conntest.NewServer(t, textReply(200, "ok"))
			hook := srv.URL + hookPath
			res, err := run(t, slack.IncomingWebhookID, tt.cfg, map[string]string{"url": hook}, false)
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Only(t)
			if got.Method != http.MethodPost || got.Path != hookPath {
				t.Errorf("request %s %s", got.Method, got.Path)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got.Header.Get("Authorization") != "" {
				t.Error("sent an Authorization header")
			}
			if got.Body != tt.body {
				t.Errorf("body\n got %s\nwant %s", got.Body, tt.body)
			}
			if !reflect.DeepEqual(res.Output, map[string]any{"ok": true}) {
				t.Errorf("output = %v", res.Output)
			}
			conntest.NoSecret(t, hookPath, res, err)
		})
	}
}

func TestIncomingWebhookErrors(t *testing.T) {
	tests := []struct {
		name      string
		reply     http.HandlerFunc
		retryable bool
		after     time.Duration
		status    int
		contains  string
	}{
		{name: "invalid_payload", reply: textReply(400, "invalid_payload"), status: 400, contains: "invalid_payload"},
		{name: "action_prohibited", reply: textReply(403, "action_prohibited"), status: 403, contains: "action_prohibited"},
		{name: "no_service", reply: textReply(404, "no_service"), status: 404, contains: "no_service"},
		{name: "channel_is_archived", reply: textReply(410, "channel_is_archived"), status: 410, contains: "channel_is_archived"},
		{name: "429", reply: textReply(429, "rate_limited", "Retry-After", "7"), retryable: true, after: 7 * time.Second, status: 429, contains: "rate_limited"},
		{name: "500", reply: textReply(500, "rollup_error"), retryable: true, status: 500, contains: "rollup_error"},
		{name: "url echoed", reply: textReply(400, "bad request to "+hookPath), status: 400, contains: "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := conntest.NewServer(t, tt.reply)
			res, err := run(t, slack.IncomingWebhookID, map[string]any{"text": "x"}, map[string]string{"url": srv.URL + hookPath}, false)
			se := conntest.StepError(t, err)
			if se.Retryable != tt.retryable || se.RetryAfter != tt.after || se.Status != tt.status {
				t.Errorf("retryable=%v after=%v status=%d, want %v %v %d (%v)", se.Retryable, se.RetryAfter, se.Status, tt.retryable, tt.after, tt.status, err)
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.Contains(err.Error(), slack.IncomingWebhookID) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			conntest.NoSecret(t, hookPath, res, err)
		})
	}
}

func TestIncomingWebhookTransportErrorHidesURL(t *testing.T) {
	// Nothing listens on port 1; the error must not show the secret path.
	res, err := run(t, slack.IncomingWebhookID, map[string]any{"text": "x"}, map[string]string{"url": "http://127.0.0.1:1" + hookPath}, false)
	if se := conntest.StepError(t, err); !se.Retryable {
		t.Errorf("connection refused should be retryable: %v", err)
	}
	conntest.NoSecret(t, hookPath, res, err)
	// A refused destination names the URL in egress errors.
	c, _ := connectors.Lookup(slack.IncomingWebhookID)
	res, err = c.Execute(context.Background(), connectors.Input{
		Config: map[string]any{"text": "x"}, Connection: map[string]string{"url": "http://127.0.0.1:9" + hookPath},
		HTTP: egress.NewClient(nil),
	})
	if err == nil {
		t.Fatal("egress refusal: no error")
	}
	conntest.NoSecret(t, hookPath, res, err)
}

func TestIncomingWebhookConfigAndDryRun(t *testing.T) {
	srv := conntest.NewServer(t, textReply(200, "ok"))
	hook := srv.URL + hookPath
	res, err := run(t, slack.IncomingWebhookID, map[string]any{"text": "hi"}, map[string]string{"url": hook}, true)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Count() != 0 {
		t.Fatal("dry run sent a request")
	}
	req := res.Output.(map[string]any)["request"].(map[string]any)
	if !reflect.DeepEqual(req["body"], map[string]any{"text": "hi"}) || res.Output.(map[string]any)["dry_run"] != true {
		t.Errorf("dry run output = %v", res.Output)
	}
	conntest.NoSecret(t, hookPath, res, err)

	for _, tc := range []struct {
		name string
		cfg  map[string]any
		conn map[string]string
		msg  string
	}{
		{"no text", map[string]any{}, map[string]string{"url": hook}, "text or blocks"},
		{"no url", map[string]any{"text": "x"}, nil, "slack_webhook"},
		{"bad scheme", map[string]any{"text": "x"}, map[string]string{"url": "ftp://h" + hookPath}, "https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, slack.IncomingWebhookID, tc.cfg, tc.conn, false)
			se := conntest.StepError(t, err)
			if se.Retryable || !errors.Is(err, connectors.ErrBadConfig) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v: want a permanent config error containing %q", err, tc.msg)
			}
			conntest.NoSecret(t, hookPath, res, err)
		})
	}
}

func TestSpecs(t *testing.T) {
	for _, id := range []string{slack.PostMessageID, slack.IncomingWebhookID} {
		c, err := connectors.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		s := c.Spec()
		if s.Category != "Chat" || !s.SideEffects || s.Label == "" || s.Help == "" {
			t.Errorf("%s: spec %+v", id, s)
		}
		for _, f := range s.Fields {
			if f.Help == "" || f.Label == "" {
				t.Errorf("%s: field %s lacks label or help", id, f.Name)
			}
		}
		if f, ok := s.Field("connection"); !ok || !f.Required || f.Type != connectors.TypeConnection {
			t.Errorf("%s: connection field %+v", id, f)
		}
	}
	for _, typ := range []string{slack.ConnBot, slack.ConnWebhook} {
		ct, err := connectors.LookupConnectionType(typ)
		if err != nil {
			t.Fatal(err)
		}
		if ct.Fields[0].Type != connectors.TypeSecret || !ct.Fields[0].Required {
			t.Errorf("%s: first field %+v should be a required secret", typ, ct.Fields[0])
		}
	}
}

func ExampleAPIError() {
	err := &slack.APIError{Service: "slack.post_message: chat.postMessage", Code: "is_archived"}
	fmt.Println(err)
	// Output: slack.post_message: chat.postMessage: Slack answered is_archived (the channel is archived)
}
