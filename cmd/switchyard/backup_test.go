package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBackupFromServerNeverLeavesAShortFile: a copy cut short by the
// server (the connection drops before Content-Length bytes), a body that is
// not a database, or an error answer leave --out as it was (absent, or
// the previous backup) and no temporary file beside it.
func TestBackupFromServerNeverLeavesAShortFile(t *testing.T) {
	cases := map[string]http.HandlerFunc{
		"cut short": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(1<<20))
			w.WriteHeader(200)
			w.Write(make([]byte, 4096))
			// The handler returns with the body short: the server closes.
		},
		"not a database": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Repeat("x", 8192)))
		},
		"refused": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			w.Write([]byte(`{"error":"storage unavailable: try again later"}`))
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			var auth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth = r.Header.Get("Authorization")
				h(w, r)
			}))
			defer srv.Close()
			dir := t.TempDir()
			out := filepath.Join(dir, "b.db")
			os.WriteFile(out, []byte("yesterday's backup"), 0o600)
			t.Setenv("SWITCHYARD_TOKEN", "tok")
			code, _, errOut := runCLI(t, "backup", "--server", srv.URL, "--out", out)
			if code != 1 {
				t.Errorf("exit %d, want 1: %s", code, errOut)
			}
			if auth != "Bearer tok" {
				t.Errorf("Authorization %q", auth)
			}
			if b, _ := os.ReadFile(out); string(b) != "yesterday's backup" {
				t.Errorf("a failed backup changed %s", out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("a failed backup left %v", entries)
			}
			t.Logf("%s", strings.TrimSpace(errOut))
		})
	}
	// Giving both a server and a data dir on the command line is a usage error.
	if code, _, _ := runCLI(t, "backup", "--server", "http://127.0.0.1:1", "--token", "t", "--data", t.TempDir(), "--out", "x"); code != 2 {
		t.Errorf("--server with --data: exit %d, want 2", code)
	}
}
