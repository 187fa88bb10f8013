package main

import (
	"fmt"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecretsStaySecret stores a credential, runs a flow that sends it,
// then searches the database file, the logs and every API answer for its
// bytes and finds none; the downstream is the only place it reaches.
func TestSecretsStaySecret(t *testing.T) {
	const token = "sk-live-3f9a7c21-SECRET-d41d8cd98f00"
	const other = "hdr-SECRET-77aa0bb1"
	var gotAuth, gotHeader string
	rec := newRecorder(t, func(n int, r *http.Request) (int, string) {
		gotAuth, gotHeader = r.Header.Get("Authorization"), r.Header.Get("X-Other")
		// A careless service echoing the credential back must not leak
		// it into run history either.
		return 200, fmt.Sprintf(`{"echo": %q}`, r.Header.Get("Authorization"))
	})
	in := newInstance(t, "--log-level", "debug")
	in.start()
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "secret", "values": map[string]string{"value": token}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "other", "type": "secret", "values": map[string]string{"value": other}})
	in.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(`{"id": "s", "name": "s", "enabled": true,
	  "trigger": {"type": "webhook", "path": "s"},
	  "steps": [{"id": "call", "use": "http.request",
	             "with": {"method": "POST", "url": "%s/x", "auth": "bearer", "connection": "crm",
	                      "headers": {"X-Other": "{{ secrets.other.value }}"},
	                      "body": {"note": "key {{ secrets.other.value }}"}}}]}`, rec.url))
	resp, _, err := in.hook("s", "application/json", []byte(`{"a": 1}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("%v %v", resp, err)
	}
	runID := resp.Header.Get("Switchyard-Run-Id")
	in.waitIdle(10 * time.Second)
	if gotAuth != "Bearer "+token || gotHeader != other {
		t.Fatalf("downstream got Authorization %q, X-Other %q", gotAuth, gotHeader)
	}
	rd, raw := in.run(runID)
	if rd.Status != "succeeded" {
		t.Fatalf("run %s: %s", rd.Status, rd.Error)
	}
	if !strings.Contains(string(raw), "[redacted]") {
		t.Errorf("run detail shows no redaction: %s", raw)
	}
	answers := [][]byte{raw}
	for _, path := range []string{"/api/connections", "/api/runs", "/api/flows", "/api/flows/s", "/api/connectors"} {
		answers = append(answers, in.mustAPI(200, "GET", path, nil))
	}
	// Killed, not stopped: a clean stop empties the write-ahead log into
	// the database, a crash leaves the recent history in the log.
	in.kill()
	if walBytes(t, in.data) == 0 {
		t.Fatal("the write-ahead log is empty after the kill: the check below would not cover it")
	}
	assertNoSecrets(t, in, answers, token, other, "3f9a7c21-SECRET", "SECRET-77aa")
	// Restarting with another key fails with a clear error, not garbage.
	key := filepath.Join(in.data, "switchyard.key")
	os.WriteFile(key, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	outb, err := osexec.Command(in.bin, "flows", "export", "--data", in.data).CombinedOutput()
	out := string(outb)
	if err == nil || !strings.Contains(out, "secret key does not match") {
		t.Errorf("wrong key: err=%v output %s", err, out)
	}
}
