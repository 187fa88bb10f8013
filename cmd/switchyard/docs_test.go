package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/web"
)

// connectorDocsFile is docs/connectors.md from this package's directory.
var connectorDocsFile = filepath.Join("..", "..", "docs", "connectors.md")

// TestConnectorDocsCurrent fails when docs/connectors.md no longer matches
// what the connectors' specs generate.
func TestConnectorDocsCurrent(t *testing.T) {
	var want bytes.Buffer
	if err := writeConnectorDocs(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(connectorDocsFile)
	if err != nil {
		t.Fatalf("read %s: %v; generate it with:\n\t%s", connectorDocsFile, err, connectorDocsCommand)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("docs/connectors.md is stale (first difference at line %d); regenerate it from the repository root with:\n\t%s",
			firstDiffLine(got, want.Bytes()), connectorDocsCommand)
	}
}

// TestOpenAPIDocsCurrent fails when docs/openapi.json is not the document
// the server serves at /api/openapi.json.
func TestOpenAPIDocsCurrent(t *testing.T) {
	file := filepath.Join("..", "..", "docs", "openapi.json")
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v; generate it with:\n\t%s", file, err, openAPIDocsCommand)
	}
	if want := web.OpenAPI(); !bytes.Equal(got, want) {
		t.Fatalf("docs/openapi.json is stale (first difference at line %d); regenerate it from the repository root with:\n\t%s",
			firstDiffLine(got, want), openAPIDocsCommand)
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestConnectorDocsCommand: the command prints the same bytes every time,
// and they describe every registered connector, connection type and field.
func TestConnectorDocsCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "docs", "connectors")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, again, _ := runCLI(t, "docs", "connectors"); again != out {
		t.Fatal("docs connectors is not deterministic")
	}
	specs := connectors.Specs()
	if len(specs) < 10 {
		t.Fatalf("only %d connectors registered", len(specs))
	}
	last := -1
	for _, s := range specs {
		heading := "\n## `" + s.ID + "`\n"
		at := strings.Index(out, heading)
		if at < 0 {
			t.Errorf("no section for connector %s", s.ID)
			continue
		}
		if at < last {
			t.Errorf("connector %s is out of order", s.ID)
		}
		last = at
		section := out[at:]
		if end := strings.Index(section[len(heading):], "\n## "); end >= 0 {
			section = section[:len(heading)+end]
		}
		for _, f := range s.Fields {
			if !strings.Contains(section, "| `"+f.Name+"`") {
				t.Errorf("connector %s: field %s missing", s.ID, f.Name)
			}
		}
		if want := "side effects: " + map[bool]string{true: "yes", false: "none"}[s.SideEffects]; !strings.Contains(section, want) {
			t.Errorf("connector %s: %q missing", s.ID, want)
		}
	}
	for _, ct := range connectors.ConnectionTypes() {
		heading := "\n## Connection type `" + ct.ID + "`\n"
		at := strings.Index(out, heading)
		if at < 0 {
			t.Errorf("no section for connection type %s", ct.ID)
			continue
		}
		section := out[at:]
		if end := strings.Index(section[len(heading):], "\n## "); end >= 0 {
			section = section[:len(heading)+end]
		}
		for _, f := range ct.Fields {
			row := "| `" + f.Name + "`"
			if f.Type == connectors.TypeSecret {
				row += " **(secret)**"
			}
			if !strings.Contains(section, row+" |") {
				t.Errorf("connection type %s: no row %q", ct.ID, row)
			}
		}
	}
	// Spot checks of the table cells.
	for _, want := range []string{
		"| `token` **(secret)** | `secret` | yes |",
		"| `security` | `select` | no | `starttls` | `starttls`, `tls`, `none` |",
		"| `connection` | `connection`: [`hubspot`](#connection-type-hubspot) | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestDocsUsage(t *testing.T) {
	if code, _, _ := runCLI(t, "docs", "nonsense"); code != 2 {
		t.Errorf("docs nonsense: exit %d, want 2", code)
	}
	_, out, _ := runCLI(t, "help")
	for _, want := range []string{"switchyard docs connectors", "switchyard keys rotate"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func TestCellEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"a|b":          `a\|b`,
		"line\nbreak":  "line<br>break",
		"Shop <a@b.c>": "Shop &lt;a@b.c&gt;",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
	if got := code("a`b"); got != "`` a`b ``" {
		t.Errorf("code with a backtick: %q", got)
	}
}
