package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFlowsValidateExamples(t *testing.T) {
	files, _ := filepath.Glob("../../flows/examples/*.json")
	if len(files) == 0 {
		t.Fatal("no example flows")
	}
	code, out, errOut := runCLI(t, append([]string{"flows", "validate"}, files...)...)
	if code != 0 {
		t.Fatalf("examples invalid (exit %d):\n%s%s", code, out, errOut)
	}
}

func TestFlowsValidateReportsFieldPaths(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"id": "Bad Id", "name": "x", "enabled": true, "concurrency": 5000,
	  "trigger": {"type": "webhook", "path": "x"},
	  "steps": [{"id": "a", "use": "http.request", "with": {"method": "POST"}},
	            {"id": "b", "if": "trigger.body.(", "use": "data.set", "with": {"v": "{{ 1 + }}"}}]}`), 0o644)
	code, out, _ := runCLI(t, "flows", "validate", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{bad + ":id:", bad + ":concurrency:", bad + ":steps[0].with.url:", bad + ":steps[1].if:", bad + ":steps[1].with.v:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunCommandDry(t *testing.T) {
	dir := t.TempDir()
	flow := filepath.Join(dir, "f.json")
	payload := filepath.Join(dir, "p.json")
	os.WriteFile(flow, []byte(`{"id": "f", "name": "f", "enabled": true,
	  "trigger": {"type": "manual"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"total": "{{ trigger.body.qty * trigger.body.price }}"}},
	            {"id": "vip", "use": "data.set", "if": "check(trigger.body.score, \">=\", 70)", "with": {"vip": true}},
	            {"id": "send", "use": "http.request", "with": {"method": "POST", "url": "https://crm.example.com/api", "body": {"total": "{{ steps.shape.output.total }}"}}}]}`), 0o644)
	os.WriteFile(payload, []byte(`{"qty": 3, "price": 5}`), 0o644)
	code, out, errOut := runCLI(t, "run", flow, "--payload", payload, "--dry", "--data", filepath.Join(dir, "none"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"step shape", `"total": 15`, "step vip (data.set): skipped", "(score is missing)", "step send", "dry_run", "crm.example.com", "run succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestImportExportRoundTrip(t *testing.T) {
	data := t.TempDir()
	files, _ := filepath.Glob("../../flows/examples/*.json")
	code, out, errOut := runCLI(t, "flows", "import", "../../flows/examples", "--data", data)
	if code != 0 {
		t.Fatalf("import exit %d: %s %s", code, out, errOut)
	}
	outDir := t.TempDir()
	code, out, errOut = runCLI(t, "flows", "export", "--data", data, "--out", outDir)
	if code != 0 {
		t.Fatalf("export exit %d: %s %s", code, out, errOut)
	}
	exported, _ := filepath.Glob(filepath.Join(outDir, "*.json"))
	if len(exported) != len(files) {
		t.Fatalf("exported %d flows, imported %d", len(exported), len(files))
	}
	// Re-importing an export changes nothing but the version.
	code, _, errOut = runCLI(t, "flows", "import", outDir, "--data", data)
	if code != 0 {
		t.Fatalf("re-import: %s", errOut)
	}
	code, out, _ = runCLI(t, "flows", "export", filepath.Base(strings.TrimSuffix(exported[0], ".json")), "--data", data)
	if code != 0 {
		t.Fatal("export one")
	}
	want, _ := os.ReadFile(exported[0])
	if strings.TrimSpace(out) != strings.TrimSpace(string(want)) {
		t.Errorf("export is not stable:\n%s\nvs\n%s", out, want)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Errorf("export is not JSON: %v", err)
	}
}

func TestVersionCommand(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "switchyard ") {
		t.Fatalf("%d %q", code, out)
	}
	if code, _, _ := runCLI(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

// TestFlowsValidateCron: a cron expression that does not parse is reported
// by `flows validate`, not first at save time.
func TestFlowsValidateCron(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "cron.json")
	os.WriteFile(bad, []byte(`{"id": "c", "name": "c", "enabled": true, "trigger": {"type": "schedule", "cron": "61 * * * *"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`), 0o644)
	code, out, _ := runCLI(t, "flows", "validate", bad)
	if code != 1 || !strings.Contains(out, bad+":trigger.cron:") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
