package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchyard/switchyard/flows"
)

// TestFlowsSchemaCommand: `flows schema` prints the schema the server
// serves, with its $id, and every example flow validates against it with a
// JSON Schema validator library, "$schema" key included.
func TestFlowsSchemaCommand(t *testing.T) {
	bin := binary(t)
	out, err := exec.Command(bin, "flows", "schema").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, flows.JSONSchema()) {
		t.Fatal("flows schema prints something else than the served schema")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if doc.(map[string]any)["$id"] != flows.SchemaID {
		t.Fatalf("$id = %v", doc.(map[string]any)["$id"])
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(flows.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(flows.SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../flows/examples/*.json")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestFlowsValidateDirAndStdin: `flows validate` takes a directory (its
// .json files) and - for standard input; a flow file may carry "$schema".
func TestFlowsValidateDirAndStdin(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	good := `{"$schema": "./flow.schema.json", "id": "g", "name": "g", "trigger": {"type": "manual"}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`
	bad := `{"id": "b", "name": "b", "trigger": {"type": "manual"}, "steps": [{"id": "a", "use": "nope"}]}`
	os.WriteFile(filepath.Join(dir, "good.json"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a flow"), 0o644)

	cmd := exec.Command(bin, "flows", "validate", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "1 files valid") {
		t.Fatalf("dir: %v\n%s%s", err, stdout.String(), stderr.String())
	}

	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(bad), 0o644)
	cmd = exec.Command(bin, "flows", "validate", dir)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), filepath.Join(dir, "bad.json")+":steps[0].use:") {
		t.Fatalf("dir with a bad flow: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}

	for _, tc := range []struct {
		in   string
		code int
	}{{good, 0}, {bad, 1}} {
		cmd = exec.Command(bin, "flows", "validate", "-")
		cmd.Stdin = strings.NewReader(tc.in)
		out, _ = cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != tc.code {
			t.Errorf("stdin: exit %d, want %d\n%s", cmd.ProcessState.ExitCode(), tc.code, out)
		}
		if tc.code == 1 && !strings.Contains(string(out), "-:steps[0].use:") {
			t.Errorf("stdin: problems not named after -:\n%s", out)
		}
	}
}
