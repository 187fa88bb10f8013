package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDerivedSecretsStaySecret: no function of a secret is recorded (a
// template's toBase64, lower or slice of one, the Basic credentials a
// connector encodes and a remote echoes), only secret fields are hidden
// (a host, a user name, "none" stay readable), and later steps read the
// real values: the database, the write-ahead log, the logs and the API
// answers hold none of the secrets or their encodings.
func TestDerivedSecretsStaySecret(t *testing.T) {
	const (
		key      = "K-SECRET-9f8e7d6c5b4a"
		password = "P-SECRET-1a2b3c4d"
		mailPass = "M-SECRET-5e6f7a8b"
		user     = "alice-user"
	)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	b64 := base64.StdEncoding.EncodeToString([]byte(key))
	var rec *recorder
	rec = newRecorder(t, func(n int, r *http.Request) (int, string) {
		if r.URL.Path != "/echo" {
			return 200, `{"ok": true}`
		}
		// A careless service that echoes what it got.
		var body any
		json.Unmarshal(rec.all()[n-1].Body, &body)
		out, _ := json.Marshal(map[string]any{"headers": map[string]string{
			"authorization": r.Header.Get("Authorization"), "x-b64": r.Header.Get("X-B64"),
			"x-lower": r.Header.Get("X-Lower"), "x-slice": r.Header.Get("X-Slice"),
		}, "body": body, "credentials": strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")})
		return 200, string(out)
	})
	in := newInstance(t, "--log-level", "debug")
	in.start()
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "k", "type": "secret", "values": map[string]string{"value": key}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "basic", "type": "http_basic",
		"values": map[string]string{"username": user, "password": password}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "mail", "type": "smtp",
		"values": map[string]string{"host": "127.0.0.1", "username": "mailer-name", "password": mailPass, "security": "none"}})
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "d", "name": "d", "enabled": true,
	  "trigger": {"type": "webhook", "path": "d"},
	  "steps": [
	    {"id": "echo", "use": "http.request",
	     "with": {"method": "POST", "url": "%[1]s/echo", "auth": "basic", "connection": "basic",
	              "headers": {"X-B64": "{{ toBase64(secrets.k.value) }}", "X-Lower": "{{ lower(secrets.k.value) }}",
	                          "X-Slice": "{{ secrets.k.value[0:12] }}"},
	              "body": {"host": "{{ secrets.mail.host }}", "user": "{{ secrets.mail.username }}",
	                       "sec": "{{ secrets.mail.security }}", "id": "{{ trigger.body.id }}"}}},
	    {"id": "next", "use": "http.request",
	     "with": {"method": "POST", "url": "%[1]s/next",
	              "body": {"auth": "{{ steps.echo.output.body.headers.authorization }}",
	                       "b64": "{{ steps.echo.output.body.headers['x-b64'] }}",
	                       "upper": "{{ upper(steps.echo.output.body.credentials) }}",
	                       "user": "{{ steps.echo.output.body.body.user }}"}}}
	  ]}`, rec.url))
	resp, _, err := in.hook("d", "application/json", []byte(`{"id": "o-1"}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("%v %v", resp, err)
	}
	runID := resp.Header.Get("Switchyard-Run-Id")
	in.waitIdle(10 * time.Second)
	rd, raw := in.run(runID)
	if rd.Status != "succeeded" {
		t.Fatalf("run %s: %s", rd.Status, rd.Error)
	}

	// Later steps read the real values.
	var next struct{ Auth, B64, Upper, User string }
	for _, r := range rec.all() {
		if r.Path == "/next" {
			json.Unmarshal(r.Body, &next)
		}
	}
	if next.Auth != "Basic "+basic || next.B64 != b64 || next.User != "mailer-name" || next.Upper != strings.ToUpper(basic) {
		t.Errorf("the next step sent %+v", next)
	}

	// Fields computed from secrets are recorded masked whole; the rest,
	// non-secret connection values included, as they were.
	echo := rd.Steps[0].Input
	headers, _ := echo["headers"].(map[string]any)
	for _, h := range []string{"X-B64", "X-Lower", "X-Slice"} {
		if headers[h] != "[redacted]" {
			t.Errorf("recorded header %s = %v", h, headers[h])
		}
	}
	body, _ := echo["body"].(map[string]any)
	if body["host"] != "127.0.0.1" || body["user"] != "mailer-name" || body["sec"] != "none" || body["id"] != "o-1" ||
		!strings.Contains(fmt.Sprint(echo["url"]), "127.0.0.1") {
		t.Errorf("non-secret values were redacted: %v", echo)
	}

	answers := [][]byte{raw}
	for _, path := range []string{"/api/runs", "/api/runs?flow=d", "/api/flows/d"} {
		answers = append(answers, in.mustAPI(200, "GET", path, nil))
	}
	in.kill() // leaves the recent history in the write-ahead log
	assertNoSecrets(t, in, answers, key, password, mailPass, basic, b64, strings.ToLower(key), key[:12],
		strings.ToUpper(basic), base64.StdEncoding.EncodeToString([]byte(password)))
}
