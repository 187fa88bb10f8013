package all_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	_ "github.com/switchyard/switchyard/connectors/all"
)

func TestAllRegistered(t *testing.T) {
	for _, id := range []string{"http.request", "data.set", "webhook.respond", "flow.delay",
		"slack.post_message", "slack.incoming_webhook", "hubspot.upsert_contact", "hubspot.create_deal", "hubspot.update_object",
		"salesforce.upsert", "salesforce.create", "pipedrive.create_person", "pipedrive.create_deal", "email.send", "flow.call", "webhook.send",
		"store.set", "store.get", "store.delete", "store.increment"} {
		if _, err := connectors.Lookup(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	for _, s := range connectors.Specs() {
		id := s.ID
		if s.Label == "" || s.Category == "" || len(s.Fields) == 0 {
			t.Errorf("%s: incomplete spec %+v", id, s)
		}
		for _, f := range s.Fields {
			if f.Name == "" || f.Label == "" || f.Type == "" {
				t.Errorf("%s: incomplete field %+v", id, f)
			}
		}
	}
}

// clientModules are the third-party modules connectors may depend on:
// golang.org/x/net, and fasthttp with what it needs, which is egress's
// client for plain HTTP (connectors/egress/direct.go).
var clientModules = []string{"golang.org/x/net/", "golang.org/x/text/", "github.com/valyala/",
	"github.com/klauspost/compress/", "github.com/molecule-man/go-brrr/"}

// TestImports keeps connectors free of engine, flows and web, and of
// third-party modules other than clientModules.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/switchyard/switchyard/connectors/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/switchyard/switchyard/connectors") || slices.ContainsFunc(clientModules, func(m string) bool {
			return strings.HasPrefix(pkg+"/", m)
		}) {
			continue
		}
		t.Errorf("connectors depend on %s", pkg)
	}
}
