package main

import (
	"strings"
	"testing"
)

// TestFlowsValidateServer: `flows validate --server` checks the flows a
// file calls and the connections it names against a running server's,
// through its API (the data dir is the server's, locked).
func TestFlowsValidateServer(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAPI(201, "POST", "/api/flows", map[string]any{"id": "notify", "name": "Notify", "enabled": true,
		"trigger": map[string]any{"type": "call"},
		"steps":   []any{map[string]any{"id": "n", "use": "data.set", "with": map[string]any{"x": 1}}}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "http_bearer", "values": map[string]string{"token": "tok-1"}})

	dir := t.TempDir()
	write := func(name, body string) string { return writeTestFile(t, dir, name, body) }
	good := write("good.json", `{"id": "good", "name": "Good", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "notify"}},
	            {"id": "h", "use": "http.request", "with": {"method": "GET", "url": "https://example.com", "connection": "crm"}}]}`)
	bad := write("bad.json", `{"id": "bad", "name": "Bad", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "nowhere"}},
	            {"id": "h", "use": "http.request", "with": {"method": "GET", "url": "https://example.com", "connection": "erp"}}]}`)
	remote := []string{"flows", "validate", "--server", "http://" + in.addr, "--token", in.token}
	if out, errOut, code := cli(t, in.bin, nil, append(remote, good)...); code != 0 {
		t.Fatalf("good against the server: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code := cli(t, in.bin, nil, append(remote, bad)...)
	if code != 1 || !strings.Contains(out, bad+`:steps[0].with.flow: unknown flow "nowhere"`) ||
		!strings.Contains(out, bad+`:steps[1].with.connection: connection "erp" does not exist`) {
		t.Fatalf("bad against the server: exit %d\n%s", code, out)
	}
	// A wrong token is one line and exit 1, nothing checked.
	if _, errOut, code := cli(t, in.bin, nil, "flows", "validate", "--server", "http://"+in.addr, "--token", "syt_wrong", good); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("wrong token: exit %d %s", code, errOut)
	}
}
