package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBin runs the real binary with extra environment variables.
func runBin(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestHelpOnEveryCommand: --help and -h on every command print its usage
// on stdout, with every flag, its environment variable and its default,
// and exit 0.
func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands {
		path := strings.Fields(c.name)
		flags := flagsOf(c.name)
		for _, h := range []string{"--help", "-h"} {
			code, out, errOut := runBin(t, nil, append(path, h)...)
			if code != 0 || !strings.HasPrefix(out, "Usage: switchyard "+c.name) || errOut != "" {
				t.Errorf("%s %s: exit %d\nstdout: %s\nstderr: %s", c.name, h, code, out, errOut)
				continue
			}
			for _, f := range flags {
				line := ""
				for _, l := range strings.Split(out, "\n  --"+f.Name)[1:] {
					line = l
				}
				if line == "" {
					t.Errorf("%s %s: flag --%s missing:\n%s", c.name, h, f.Name, out)
					continue
				}
				if !strings.Contains(line, "default") {
					t.Errorf("%s %s: --%s has no default shown", c.name, h, f.Name)
				}
			}
		}
	}
	// Every serve setting names its variable.
	_, out, _ := runBin(t, nil, "serve", "--help")
	for _, v := range []string{"SWITCHYARD_ADDR", "SWITCHYARD_DATA", "SWITCHYARD_WORKERS", "SWITCHYARD_QUEUE_LIMIT", "SWITCHYARD_RETENTION",
		"SWITCHYARD_LOG_LEVEL", "SWITCHYARD_METRICS_ADDR", "SWITCHYARD_PUBLIC_URL", "SWITCHYARD_HOOKS_ADDR", "SWITCHYARD_EGRESS_ALLOW",
		"SWITCHYARD_RETENTION_RUNS", "SWITCHYARD_RETENTION_SIZE", "SWITCHYARD_COMPACT_FREE"} {
		if !strings.Contains(out, "env "+v) {
			t.Errorf("serve --help does not name %s", v)
		}
	}
	if !strings.Contains(out, `default "64"`) && !strings.Contains(out, "--workers INT\n        runs advanced at once (env SWITCHYARD_WORKERS; default") {
		t.Errorf("serve --help shows no default for --workers:\n%s", out)
	}
	// Groups and the top level.
	for _, args := range [][]string{{"flows", "--help"}, {"token", "-h"}, {"keys", "--help"}, {"--help"}, {"help"}, {"help", "serve"}} {
		if code, out, _ := runBin(t, nil, args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}

// TestBadFlagsAndEnvRefusedAlike: an unknown flag, a flag with an invalid
// value and an environment variable with an invalid value are refused with
// one line on stderr and exit 2, before anything else happens.
func TestBadFlagsAndEnvRefusedAlike(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"serve", "--no-such-flag"}, "no-such-flag"},
		{"unknown flag of a subcommand", nil, []string{"flows", "validate", "--strict", "x.json"}, "strict"},
		{"bad flag value", nil, []string{"serve", "--workers", "abc"}, "abc"},
		{"bad workers", []string{"SWITCHYARD_WORKERS=abc"}, []string{"serve"}, "SWITCHYARD_WORKERS"},
		{"bad queue limit", []string{"SWITCHYARD_QUEUE_LIMIT=lots"}, []string{"serve"}, "SWITCHYARD_QUEUE_LIMIT"},
		{"bad retention", []string{"SWITCHYARD_RETENTION=forever"}, []string{"serve"}, "SWITCHYARD_RETENTION"},
		{"bad log level", []string{"SWITCHYARD_LOG_LEVEL=loud"}, []string{"serve"}, "SWITCHYARD_LOG_LEVEL"},
		{"bad retention size", []string{"SWITCHYARD_RETENTION_SIZE=lots"}, []string{"serve"}, "SWITCHYARD_RETENTION_SIZE"},
		{"bad compact threshold", nil, []string{"serve", "--compact-free", "-1MiB"}, "compact-free"},
		{"bad log level flag", nil, []string{"serve", "--log-level", "loud"}, "loud"},
		{"bad healthcheck timeout", nil, []string{"healthcheck", "--timeout", "soon"}, "soon"},
		{"unknown completion shell", nil, []string{"completion", "tcsh"}, "tcsh"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runBin(t, append(tc.env, "SWITCHYARD_DATA="+data), tc.args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line naming %q", code, out, errOut, tc.want)
			}
		})
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a refused command touched the data dir: %v", err)
	}
}

// TestCompletionScripts: the scripts parse in their shells and complete
// commands, subcommands and each command's flags.
func TestCompletionScripts(t *testing.T) {
	code, script, errOut := runBin(t, nil, "completion", "bash")
	if code != 0 {
		t.Fatalf("completion bash: %d %s", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "c.bash")
	os.WriteFile(file, []byte(script), 0o644)
	probe := `source ` + file + `
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _switchyard; echo "${COMPREPLY[*]}"; }
complete_words switchyard ser
complete_words switchyard flows va
complete_words switchyard serve --metr
complete_words switchyard flows export --o
complete_words switchyard completion f
`
	out, err := exec.Command("bash", "-c", probe).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	want := []string{"serve", "validate", "--metrics-addr", "--out", "fish"}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(want) {
		t.Fatalf("completions %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("completion %d: %q, want %q", i, got[i], want[i])
		}
	}
	for _, shell := range []string{"zsh", "fish"} {
		code, script, errOut := runBin(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(script, "metrics-addr") || !strings.Contains(script, "healthcheck") {
			t.Errorf("completion %s: exit %d %s", shell, code, errOut)
			continue
		}
		sh, err := exec.LookPath(shell)
		if err != nil {
			continue // the shell is not installed here
		}
		f := filepath.Join(t.TempDir(), "c."+shell)
		os.WriteFile(f, []byte(script), 0o644)
		if out, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
	}
}
