package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeService is a local server standing in for a SaaS API: handle checks
// each request and answers it; problems found are reported by check.
type fakeService struct {
	url string
	mu  sync.Mutex
	// bodies are the request bodies received, in order.
	bodies   [][]byte
	problems []string
}

func newFakeService(t *testing.T, handle func(r *http.Request, body []byte) (status int, answer string, problems []string)) *fakeService {
	t.Helper()
	fs := &fakeService{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs.url = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status, answer, problems := handle(r, body)
		fs.mu.Lock()
		fs.bodies = append(fs.bodies, body)
		for _, p := range problems {
			fs.problems = append(fs.problems, fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, p))
		}
		fs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return fs
}

// received returns the request bodies and fails the test on every problem
// the handler found.
func (fs *fakeService) received(t *testing.T, name string) [][]byte {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, p := range fs.problems {
		t.Errorf("%s: %s", name, p)
	}
	return append([][]byte(nil), fs.bodies...)
}

// expect collects mismatches between what a request carried and what the
// service's documentation asks for.
type expect []string

func (e *expect) eq(what, got, want string) {
	if got != want {
		*e = append(*e, fmt.Sprintf("%s = %q, want %q", what, got, want))
	}
}

// TestChatbotLeadToHubSpotAndSlack runs the gallery flow
// chatbot-lead-to-hubspot-slack through the real binary: a chatbot-style
// webhook, hubspot.upsert_contact against a local HubSpot, and
// slack.post_message against a local Slack quoting the contact id HubSpot
// returned. Then it searches the database file, the logs and every API
// answer for the two tokens and finds neither.
func TestChatbotLeadToHubSpotAndSlack(t *testing.T) {
	const (
		hubToken   = "pat-na1-7e3c9b1d-HUBSECRET-44f0aa12"
		slackToken = "xoxb-2210-98765-SLACKSECRET-Zq8vLm3"
		contactID  = "51234567001"
		messageTS  = "1712345678.000100"
	)
	hubspot := newFakeService(t, func(r *http.Request, body []byte) (int, string, []string) {
		// POST /crm/v3/objects/contacts/batch/upsert, as HubSpot's CRM v3
		// reference documents the batch upsert by a unique property.
		var e expect
		e.eq("method", r.Method, "POST")
		e.eq("path", r.URL.Path, "/crm/v3/objects/contacts/batch/upsert")
		e.eq("Authorization", r.Header.Get("Authorization"), "Bearer "+hubToken)
		e.eq("Content-Type", r.Header.Get("Content-Type"), "application/json")
		var req struct {
			Inputs []struct {
				IDProperty string            `json:"idProperty"`
				ID         string            `json:"id"`
				Properties map[string]string `json:"properties"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(body, &req); err != nil || len(req.Inputs) != 1 {
			return 400, `{"status":"error","message":"Invalid input JSON","category":"VALIDATION_ERROR"}`, append(e, fmt.Sprintf("body %s: %v", body, err))
		}
		in := req.Inputs[0]
		e.eq("inputs[0].idProperty", in.IDProperty, "email")
		e.eq("inputs[0].id", in.ID, "ada@example.com")
		e.eq("properties.email", in.Properties["email"], "ada@example.com")
		e.eq("properties.firstname", in.Properties["firstname"], "Ada")
		e.eq("properties.company", in.Properties["company"], "Analytical Engines Ltd")
		e.eq("properties.lifecyclestage", in.Properties["lifecyclestage"], "lead")
		props, _ := json.Marshal(in.Properties)
		return 200, fmt.Sprintf(`{"status":"COMPLETE","results":[{"id":%q,"properties":%s,
		  "createdAt":"2025-04-01T10:00:00.000Z","updatedAt":"2025-04-01T10:00:00.000Z","archived":false,"new":true}],
		  "startedAt":"2025-04-01T10:00:00.000Z","completedAt":"2025-04-01T10:00:00.050Z"}`, contactID, props), e
	})
	slack := newFakeService(t, func(r *http.Request, body []byte) (int, string, []string) {
		// POST https://slack.com/api/chat.postMessage with a bot token in
		// the Authorization header and a JSON body, as Slack's Web API
		// reference documents it.
		var e expect
		e.eq("method", r.Method, "POST")
		e.eq("path", r.URL.Path, "/api/chat.postMessage")
		e.eq("Authorization", r.Header.Get("Authorization"), "Bearer "+slackToken)
		e.eq("Content-Type", r.Header.Get("Content-Type"), "application/json; charset=utf-8")
		var msg map[string]any
		if err := json.Unmarshal(body, &msg); err != nil {
			return 200, `{"ok":false,"error":"invalid_json"}`, append(e, fmt.Sprintf("body %s: %v", body, err))
		}
		channel, _ := msg["channel"].(string)
		e.eq("channel", channel, "#sales-leads")
		if _, ok := msg["token"]; ok {
			e = append(e, "the token travelled in the body")
		}
		return 200, fmt.Sprintf(`{"ok":true,"channel":"C0SALES01","ts":%q,"message":{"type":"message","text":%q,"ts":%q}}`,
			messageTS, msg["text"], messageTS), e
	})

	in := newInstance(t, "--log-level", "debug")
	in.start()
	var answers [][]byte
	keep := func(b []byte) []byte { answers = append(answers, b); return b }
	keep(in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "hubspot", "type": "hubspot",
		"values": map[string]string{"token": hubToken, "base_url": hubspot.url}}))
	keep(in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "sales_slack", "type": "slack",
		"values": map[string]string{"token": slackToken, "base_url": slack.url + "/api"}}))
	flow, err := os.ReadFile(filepath.Join("..", "..", "flows", "examples", "chatbot-lead-to-hubspot-slack.json"))
	if err != nil {
		t.Fatal(err)
	}
	keep(in.mustAPI(201, "POST", "/api/flows", flow))

	resp, data, err := in.hook("chatbot/lead", "application/json", []byte(`{
	  "conversation_id": "conv-8842",
	  "lead": {"email": " Ada@Example.com ", "first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines Ltd"},
	  "summary": "asked for a demo of the enterprise plan"}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v %s", resp, err, data)
	}
	answers = append(answers, data)
	runID := resp.Header.Get("Switchyard-Run-Id")
	in.waitIdle(15 * time.Second)

	rd, raw := in.run(runID)
	answers = append(answers, raw)
	if rd.Status != "succeeded" {
		t.Fatalf("run %s: %s\n%s", rd.Status, rd.Error, raw)
	}
	outputs := map[string]map[string]any{}
	for _, s := range rd.Steps {
		if s.Status != "succeeded" {
			t.Errorf("step %s: %s %s", s.ID, s.Status, s.Error)
		}
		out, _ := s.Output.(map[string]any)
		outputs[s.ID] = out
	}
	if got := outputs["contact"]["id"]; got != contactID {
		t.Errorf("contact output id = %v, want %s (output %v)", got, contactID, outputs["contact"])
	}
	if got := outputs["contact"]["created"]; got != true {
		t.Errorf("contact output created = %v, want true", got)
	}
	if got := outputs["notify_sales"]["ts"]; got != messageTS {
		t.Errorf("slack output ts = %v, want %s (output %v)", got, messageTS, outputs["notify_sales"])
	}

	if n := len(hubspot.received(t, "HubSpot")); n != 1 {
		t.Errorf("HubSpot got %d requests, want 1", n)
	}
	posts := slack.received(t, "Slack")
	if len(posts) != 1 {
		t.Fatalf("Slack got %d requests, want 1", len(posts))
	}
	var msg struct {
		Text string `json:"text"`
	}
	json.Unmarshal(posts[0], &msg)
	if !strings.Contains(msg.Text, "HubSpot contact "+contactID) || !strings.Contains(msg.Text, "New chatbot lead") {
		t.Errorf("Slack message does not quote the contact id %s: %q", contactID, msg.Text)
	}

	for _, path := range []string{"/api/connections", "/api/runs", "/api/runs?flow=chatbot-lead-to-hubspot-slack",
		"/api/flows", "/api/flows/chatbot-lead-to-hubspot-slack", "/api/connectors"} {
		answers = append(answers, in.mustAPI(200, "GET", path, nil))
	}
	in.stop()
	assertNoSecrets(t, in, answers, hubToken, slackToken, "HUBSECRET", "SLACKSECRET")
}

// rotationFlow sends the connection "crm" as a bearer token to url.
func rotationFlow(url string) string {
	return fmt.Sprintf(`{"id": "rot", "name": "Key rotation", "enabled": true,
	  "trigger": {"type": "webhook", "path": "rot"},
	  "steps": [{"id": "call", "use": "http.request",
	             "with": {"method": "POST", "url": "%s/crm", "auth": "bearer", "connection": "crm",
	                      "body": {"n": "{{ trigger.body.n }}"}}}]}`, url)
}

// runRotationFlow posts one webhook and checks that its run succeeded and
// that the downstream got the token.
func runRotationFlow(t *testing.T, in *instance, auth *syncString, token string, n int) {
	t.Helper()
	resp, data, err := in.hook("rot", "application/json", []byte(fmt.Sprintf(`{"n": %d}`, n)))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v %s", resp, err, data)
	}
	in.waitIdle(15 * time.Second)
	rd, raw := in.run(resp.Header.Get("Switchyard-Run-Id"))
	if rd.Status != "succeeded" {
		t.Fatalf("run %s: %s\n%s", rd.Status, rd.Error, raw)
	}
	if got := auth.get(); got != "Bearer "+token {
		t.Fatalf("downstream got Authorization %q", got)
	}
	auth.set("")
}

type syncString struct {
	mu sync.Mutex
	s  string
}

func (s *syncString) get() string  { s.mu.Lock(); defer s.mu.Unlock(); return s.s }
func (s *syncString) set(v string) { s.mu.Lock(); s.s = v; s.mu.Unlock() }

// keysRotate runs `switchyard keys rotate` on the instance's data dir.
func keysRotate(t *testing.T, in *instance, env ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.bin, "keys", "rotate", "--data", in.data)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("keys rotate hung: %s", errb.String())
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestKeysRotateEndToEnd stores a connection, stops the server, rotates
// the key with the real binary, starts again and runs a flow that uses the
// connection. It also rebuilds the state a crash between the database
// commit and the key file's rename leaves, and checks the next rotation
// recovers it.
func TestKeysRotateEndToEnd(t *testing.T) {
	const token = "sk-rotate-5d2e8f60-CRMSECRET"
	auth := &syncString{}
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		auth.set(r.Header.Get("Authorization"))
		return 200, `{"ok": true}`
	})
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "secret", "values": map[string]string{"value": token}})
	in.mustAPI(201, "POST", "/api/flows", rotationFlow(rec.url))
	runRotationFlow(t, in, auth, token, 1)

	// While the server holds the data dir, rotation fails fast.
	start := time.Now()
	if code, _, errOut := keysRotate(t, in); code == 0 || !strings.Contains(errOut, "another switchyard") {
		t.Fatalf("rotate while serving: exit %d: %s", code, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("rotate while serving took %s", d)
	}
	in.stop()

	keyPath := filepath.Join(in.data, "switchyard.key")
	oldKey, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := keysRotate(t, in)
	if code != 0 || !strings.Contains(out, "1 connection(s) re-encrypted") {
		t.Fatalf("keys rotate: exit %d\n%s%s", code, out, errOut)
	}
	newKey, _ := os.ReadFile(keyPath)
	if bytes.Equal(oldKey, newKey) {
		t.Fatal("key file unchanged by rotation")
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file after rotation: %v %v", fi.Mode(), err)
	}
	in.start()
	runRotationFlow(t, in, auth, token, 2)
	in.stop()

	// The old key no longer opens the data, with a clear message.
	os.WriteFile(keyPath, oldKey, 0o600)
	if outb, err := exec.Command(in.bin, "flows", "export", "--data", in.data).CombinedOutput(); err == nil ||
		!strings.Contains(string(outb), "secret key does not match") {
		t.Errorf("old key after rotation: err=%v output %s", err, outb)
	}

	// A crash after the commit and before the rename leaves the new key in
	// switchyard.key.new and the old one in place.
	os.WriteFile(keyPath+".new", newKey, 0o600)
	code, out, errOut = keysRotate(t, in)
	if code != 0 || !strings.Contains(errOut, "finished a key rotation that was interrupted") {
		t.Fatalf("rotate after a crash: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(keyPath + ".new"); !os.IsNotExist(err) {
		t.Errorf("switchyard.key.new left behind: %v", err)
	}
	in.start()
	runRotationFlow(t, in, auth, token, 3)
	in.stop()
	assertNoSecrets(t, in, nil, token, "CRMSECRET")
}

// TestKeysRotateEnvKey: with SWITCHYARD_SECRET_KEY set, rotation prints
// the new key instead of writing a file, and the server runs with it.
func TestKeysRotateEnvKey(t *testing.T) {
	const token = "sk-envkey-91c0-CRMSECRET"
	oldKey := strings.Repeat("3c", 32)
	t.Setenv("SWITCHYARD_SECRET_KEY", oldKey)
	auth := &syncString{}
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		auth.set(r.Header.Get("Authorization"))
		return 200, `{"ok": true}`
	})
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "secret", "values": map[string]string{"value": token}})
	in.mustAPI(201, "POST", "/api/flows", rotationFlow(rec.url))
	in.stop()

	code, out, errOut := keysRotate(t, in)
	if code != 0 {
		t.Fatalf("keys rotate: exit %d\n%s%s", code, out, errOut)
	}
	newKey := strings.TrimSpace(out)
	if len(newKey) != 64 || newKey == oldKey {
		t.Fatalf("stdout is not a new key: %q", out)
	}
	if !strings.Contains(errOut, "SWITCHYARD_SECRET_KEY") {
		t.Errorf("no instruction to update the variable: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(in.data, "switchyard.key")); !os.IsNotExist(err) {
		t.Errorf("rotation with SWITCHYARD_SECRET_KEY wrote a key file: %v", err)
	}
	t.Setenv("SWITCHYARD_SECRET_KEY", newKey)
	in.start()
	runRotationFlow(t, in, auth, token, 1)
	in.stop()
}
