package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/flows"
)

// cli runs the binary with args and the environment env (added to ours
// without any SWITCHYARD_ variable) and returns stdout, stderr and the
// exit code.
func cli(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHYARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestRemoteCLI: flows import and export, run, token create and backup work
// against a running server (whose data dir is locked) with --server and a
// token, or SWITCHYARD_SERVER and SWITCHYARD_TOKEN; an unchanged import
// makes no new version; errors are one line with the right exit code.
func TestRemoteCLI(t *testing.T) {
	in := newInstance(t)
	in.start()
	bin, server := in.bin, "http://"+in.addr
	remote := []string{"--server", server, "--token", in.token}
	dir := t.TempDir()
	flowFile := filepath.Join(dir, "greet.json")
	os.WriteFile(flowFile, []byte(`{"id": "greet", "name": "Greet", "enabled": true,
	  "trigger": {"type": "webhook", "path": "greet"},
	  "steps": [{"id": "hello", "use": "data.set", "with": {"text": "hello {{ trigger.body.who }}"}}]}`), 0o644)
	payload := filepath.Join(t.TempDir(), "payload.json")
	os.WriteFile(payload, []byte(`{"who": "ada"}`), 0o644)

	// The data dir is the server's: offline commands fail fast on its lock.
	if _, stderr, code := cli(t, bin, nil, "flows", "export", "--data", in.data); code != 1 || !strings.Contains(stderr, "lock") {
		t.Fatalf("offline export of a served data dir: exit %d, %s", code, stderr)
	}

	// Import, then import the same file again: no new version.
	stdout, stderr, code := cli(t, bin, nil, append([]string{"flows", "import", dir}, remote...)...)
	if code != 0 || !strings.Contains(stdout, `imported flow "greet" (version 1)`) {
		t.Fatalf("flows import --server: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = cli(t, bin, nil, append([]string{"flows", "import", flowFile}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "content unchanged (version 1)") {
		t.Fatalf("second import: exit %d\n%s%s", code, stdout, stderr)
	}
	var hist struct {
		Versions []json.RawMessage `json:"versions"`
	}
	json.Unmarshal(in.mustAPI(200, "GET", "/api/flows/greet/versions", nil), &hist)
	if len(hist.Versions) != 1 {
		t.Errorf("after importing an unchanged flow: %d versions, want 1", len(hist.Versions))
	}
	// The API itself answers 200 (not 201) to an unchanged import.
	data, _ := os.ReadFile(flowFile)
	var ans importAnswerT
	json.Unmarshal(in.mustAPI(200, "POST", "/api/flows/import", data), &ans)
	if ans.Changed || ans.Flow.Version != 1 {
		t.Errorf("unchanged import answered %+v", ans)
	}

	// An invalid file: its field error on one line, exit 1, the rest goes on.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"id": "bad", "name": "Bad", "trigger": {"type": "webhook", "path": "bad"},
	  "steps": [{"id": "x", "use": "data.set", "if": "1 +", "with": {}}]}`), 0o644)
	stdout, stderr, code = cli(t, bin, nil, append([]string{"flows", "import", bad, flowFile}, remote...)...)
	if code != 1 || !strings.Contains(stdout, "bad.json: "+server+" answered 400 Bad Request: steps[0].if:") ||
		!strings.Contains(stdout, "content unchanged") || !strings.Contains(stderr, "1 of 2 files failed") {
		t.Errorf("import of an invalid file: exit %d\n%s%s", code, stdout, stderr)
	}

	// Export reads what the data dir's export would: the canonical file.
	want, _ := flows.Decode(data)
	wantBytes, _ := flows.Encode(want)
	wantJSON := strings.TrimSpace(string(wantBytes))
	stdout, stderr, code = cli(t, bin, nil, append([]string{"flows", "export", "greet"}, remote...)...)
	if code != 0 || strings.TrimSpace(stdout) != wantJSON {
		t.Errorf("flows export --server greet: exit %d\n%s%s\nwant %s", code, stdout, stderr, wantJSON)
	}
	outDir := t.TempDir()
	// From the environment this time.
	env := []string{"SWITCHYARD_SERVER=" + server, "SWITCHYARD_TOKEN=" + in.token}
	if stdout, stderr, code = cli(t, bin, env, "flows", "export", "--out", outDir); code != 0 {
		t.Fatalf("flows export with SWITCHYARD_SERVER: exit %d\n%s%s", code, stdout, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(outDir, "greet.json")); strings.TrimSpace(string(got)) != wantJSON {
		t.Errorf("exported file %s, want %s", got, wantJSON)
	}
	if _, stderr, code = cli(t, bin, nil, append([]string{"flows", "export", "nope"}, remote...)...); code != 1 ||
		strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "404") {
		t.Errorf("export of a missing flow: exit %d, %q (want one line naming 404)", code, stderr)
	}

	// run on the server: each step printed, nothing stored.
	runsBefore := len(in.allRuns(""))
	stdout, stderr, code = cli(t, bin, nil, append([]string{"run", flowFile, "--payload", payload}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "== step hello (data.set): succeeded") ||
		!strings.Contains(stdout, `"text": "hello ada"`) || !strings.Contains(stdout, "== run succeeded") {
		t.Errorf("run --server: exit %d\n%s%s", code, stdout, stderr)
	}
	failing := filepath.Join(t.TempDir(), "fail.json")
	os.WriteFile(failing, []byte(`{"id": "fail", "name": "Fail", "trigger": {"type": "manual"},
	  "steps": [{"id": "boom", "use": "data.set", "with": {"x": "{{ trigger.body.missing.deeper }}"}}]}`), 0o644)
	if stdout, _, code = cli(t, bin, env, "run", failing, "--payload", payload); code != 1 || !strings.Contains(stdout, "== run failed") {
		t.Errorf("run --server of a failing flow: exit %d\n%s", code, stdout)
	}
	if n := len(in.allRuns("")); n != runsBefore {
		t.Errorf("run --server stored runs: %d, want %d", n, runsBefore)
	}

	// token create: the new token works.
	stdout, stderr, code = cli(t, bin, nil, append([]string{"token", "create", "--name", "ci"}, remote...)...)
	tok := strings.TrimSpace(stdout)
	if code != 0 || !strings.HasPrefix(tok, "syt_") {
		t.Fatalf("token create --server: exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout, stderr, code = cli(t, bin, nil, "flows", "export", "--server", server, "--token", tok); code != 0 {
		t.Errorf("the new token: exit %d\n%s%s", code, stdout, stderr)
	}

	// backup: a whole database.
	bk := filepath.Join(t.TempDir(), "bk.db")
	if stdout, stderr, code = cli(t, bin, env, "backup", "--out", bk); code != 0 {
		t.Fatalf("backup with SWITCHYARD_SERVER: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := boltstore.CheckBackup(bk); err != nil {
		t.Error(err)
	}

	// Refusals: one line each, exit 1 for what the server refused or
	// could not be reached, 2 for the command line.
	for _, c := range []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"wrong token", []string{"flows", "export", "--server", server, "--token", "syt_nope"}, nil, 1, "answered 401 Unauthorized: invalid or revoked token"},
		{"no server there", []string{"token", "create", "--name", "x", "--server", "http://" + freeAddr(t), "--token", "t"}, nil, 1, "connection refused"},
		{"no token", []string{"backup", "--out", bk, "--server", server}, nil, 2, "--server needs --token"},
		{"both", []string{"flows", "export", "--server", server, "--token", "t", "--data", in.data}, nil, 2, "not both"},
		{"not a URL", []string{"run", flowFile, "--server", "localhost:1", "--token", "t"}, nil, 2, "want a URL"},
		{"env token of another server", []string{"token", "create", "--name", "x"}, []string{"SWITCHYARD_SERVER=" + server, "SWITCHYARD_TOKEN=bad"}, 1, "401"},
	} {
		_, stderr, code := cli(t, bin, c.env, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit %d, one line with %q", c.name, code, stderr, c.code, c.want)
		}
	}
}

// importAnswerT is the answer of POST /api/flows/import.
type importAnswerT struct {
	Flow struct {
		Version int64 `json:"version"`
	} `json:"flow"`
	Changed bool `json:"changed"`
}
