package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/pgstore"
	"github.com/switchyard/switchyard/engine/pgstore/pgtest"
)

// TestFlowsValidateDatabase: `flows validate --database` checks called
// flows and connections against a PostgreSQL store's (the cluster mode).
func TestFlowsValidateDatabase(t *testing.T) {
	url := pgtest.Database(t)
	ctx := context.Background()
	s, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFlow(ctx, "notify", []byte(`{"id": "notify", "name": "Notify", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "n", "use": "data.set", "with": {"x": 1}}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConnection(ctx, engine.ConnectionRecord{Name: "crm", Type: "http_bearer", Sealed: []byte("sealed, never read here"), CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	dir := t.TempDir()
	good := writeTestFile(t, dir, "good.json", `{"id": "good", "name": "Good", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "notify"}},
	            {"id": "h", "use": "http.request", "with": {"method": "GET", "url": "https://example.com", "connection": "crm"}}]}`)
	bad := writeTestFile(t, dir, "bad.json", `{"id": "bad", "name": "Bad", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "nowhere"}},
	            {"id": "h", "use": "http.request", "with": {"method": "GET", "url": "https://example.com", "connection": "erp"}}]}`)
	if code, out, errOut := runCLI(t, "flows", "validate", "--database", url, good); code != 0 {
		t.Fatalf("good: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ := runCLI(t, "flows", "validate", "--database", url, bad)
	if code != 1 || !strings.Contains(out, bad+`:steps[0].with.flow: unknown flow "nowhere"`) ||
		!strings.Contains(out, bad+`:steps[1].with.connection: connection "erp" does not exist`) {
		t.Fatalf("bad: exit %d\n%s", code, out)
	}
}
