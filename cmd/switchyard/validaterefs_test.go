package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
)

// TestFlowsValidateStoredRefs: with --data, `flows validate` checks the
// flows a file calls and the connections it names against the data
// dir's as well as the files given; without it, only the files.
func TestFlowsValidateStoredRefs(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	write := func(name, body string) string { return writeTestFile(t, dir, name, body) }
	// Stored: flow "notify" (called) and "loop", which calls "caller".
	notify := write("notify.json", `{"id": "notify", "name": "Notify", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "n", "use": "data.set", "with": {"x": 1}}]}`)
	loop := write("loop.json", `{"id": "loop", "name": "Loop", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "caller"}}]}`)
	if code, out, errOut := runCLI(t, "flows", "import", "--data", data, notify, loop); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	s, err := boltstore.Open(data, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutConnection(context.Background(), engine.ConnectionRecord{Name: "crm", Type: "http_bearer", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	os.Remove(notify)
	os.Remove(loop)

	calls := write("calls.json", `{"id": "calls", "name": "Calls", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "notify"}},
	            {"id": "h", "use": "http.request", "with": {"method": "GET", "url": "https://example.com", "connection": "crm"}}]}`)
	code, out, errOut := runCLI(t, "flows", "validate", "--data", data, calls)
	if code != 0 {
		t.Fatalf("a call of a stored flow, a stored connection: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "flows", "validate", calls); code != 1 || !strings.Contains(out, calls+`:steps[0].with.flow: unknown flow "notify"`) {
		t.Fatalf("without --data the stored flow is unknown: exit %d\n%s", code, out)
	}

	ghost := write("ghost.json", `{"id": "ghost", "name": "Ghost", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "nowhere"}},
	            {"id": "h", "use": "http.request", "with": {"method": "GET", "url": "https://example.com", "connection": "erp"}}]}`)
	code, out, _ = runCLI(t, "flows", "validate", "--data", data, ghost)
	if code != 1 || !strings.Contains(out, ghost+`:steps[0].with.flow: unknown flow "nowhere"`) ||
		!strings.Contains(out, ghost+`:steps[1].with.connection: connection "erp" does not exist`) {
		t.Fatalf("unknown flow and connection: exit %d\n%s", code, out)
	}

	// caller → loop (stored) → caller: a cycle through the data dir.
	caller := write("caller.json", `{"id": "caller", "name": "Caller", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "loop"}}]}`)
	code, out, _ = runCLI(t, "flows", "validate", "--data", data, caller)
	if code != 1 || !strings.Contains(out, caller+`:steps[0].with.flow: calling "loop" makes a cycle (caller → loop → caller)`) {
		t.Fatalf("a cycle through a stored flow: exit %d\n%s", code, out)
	}
	// A file replaces the stored flow of its id: a loop.json that no
	// longer calls back breaks the cycle.
	write("loop.json", `{"id": "loop", "name": "Loop", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "n", "use": "data.set", "with": {"x": 1}}]}`)
	if code, out, errOut := runCLI(t, "flows", "validate", "--data", data, caller, filepath.Join(dir, "loop.json")); code != 0 {
		t.Fatalf("the file's version of loop: exit %d\n%s%s", code, out, errOut)
	}

	if code, _, errOut := runCLI(t, "flows", "validate", "--data", data, "--server", "http://127.0.0.1:1", caller); code != 2 || !strings.Contains(errOut, "not several") {
		t.Fatalf("--data with --server: exit %d %s", code, errOut)
	}
}

// writeTestFile writes body to dir/name and returns its path.
func writeTestFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
