package main

import (
	"bytes"
	le "encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The storage under the server damaged or failing, with the real binary.

const simpleFlow = `{"id": %q, "name": "storage", "enabled": true,
  "trigger": {"type": "webhook", "path": %q},
  "steps": [{"id": "s", "use": "data.set", "with": {"n": "{{ trigger.body.n }}"}}]}`

// crashOutput reports whether a command's output shows a crash rather
// than an error message.
func crashOutput(out string) bool {
	for _, sign := range []string{"goroutine ", "panic:", "SIGBUS", "SIGSEGV", "fatal error", "[signal"} {
		if strings.Contains(out, sign) {
			return true
		}
	}
	return false
}

// TestDamagedDatabaseE2E: a database file cut short or overwritten with
// garbage used to end the server in a SIGBUS or a panic with a stack dump.
// Now every command that opens it says in one paragraph that the file is
// damaged and where the restore instructions are, and exits with 1.
func TestDamagedDatabaseE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	src := newInstance(t)
	src.start()
	src.mustAPI(201, "POST", "/api/flows", fmt.Sprintf(simpleFlow, "db", "db"))
	for i := range 300 {
		if resp, _, err := src.hook("db", "application/json", fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 300))); err != nil || resp.StatusCode != 202 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
	}
	src.waitIdle(30 * time.Second)
	src.stop()
	good, err := os.ReadFile(filepath.Join(src.data, "switchyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(src.data, "switchyard.key"))
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	// From the newer meta page (0 or 1): the root page of the bucket tree
	// and the end of the used pages. The file itself runs further: bbolt
	// grows it ahead in large steps.
	meta := good[16:]
	if le.LittleEndian.Uint64(good[page+16+48:]) > le.LittleEndian.Uint64(meta[48:]) {
		meta = good[page+16:]
	}
	root := int(le.LittleEndian.Uint64(meta[16:]))
	used := int(le.LittleEndian.Uint64(meta[40:])) * page
	if used < 40*page {
		t.Fatalf("%d bytes of pages in use: too few to damage in the middle", used)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		damage func(db []byte) []byte
	}{
		{"cut in half", func(db []byte) []byte { return db[:used/2/page*page] }},
		{"cut inside the second meta page", func(db []byte) []byte { return db[:page+1000] }},
		{"cut mid-page", func(db []byte) []byte { return db[:used-page-123] }},
		{"garbage over the used pages", func(db []byte) []byte { copy(db[2*page:], garbage(used-2*page)); return db }},
		{"garbage over the root page", func(db []byte) []byte { copy(db[root*page:], garbage(page)); return db }},
		{"garbage over both meta pages", func(db []byte) []byte { copy(db, garbage(2*page)); return db }},
		{"one page zeroed", func(db []byte) []byte { clear(db[root*page : (root+1)*page]); return db }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newInstance(t)
			if err := os.WriteFile(filepath.Join(in.data, "switchyard.db"), tc.damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(in.data, "switchyard.key"), key, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"serve", "--addr", in.addr, "--data", in.data},
				{"token", "create", "--name", "x", "--data", in.data},
			} {
				out, code := in.cli(args...)
				if code != 1 || crashOutput(out) {
					t.Fatalf("%s over a damaged database: exit %d:\n%s", args[0], code, out)
				}
				for _, want := range []string{"switchyard.db is damaged", "docs/operations.md"} {
					if !strings.Contains(out, want) {
						t.Errorf("%s: the error does not say %q:\n%s", args[0], want, out)
					}
				}
				if lines := strings.Count(strings.TrimSpace(out), "\n"); lines != 0 {
					t.Errorf("%s: the error takes %d lines, want one paragraph:\n%s", args[0], lines+1, out)
				}
			}
		})
	}
}
