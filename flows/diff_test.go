package flows

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	dec := func(s string) *Flow {
		t.Helper()
		f, err := Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a := dec(`{"id": "f", "name": "Leads", "enabled": true, "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"email": "{{ trigger.body.email }}"}},
	            {"id": "to_crm", "use": "http.request", "with": {"url": "https://crm.example.com/a"}},
	            {"id": "route", "switch": [{"when": "true", "steps": [{"id": "deep", "use": "data.set", "with": {"x": 1}}]}]}]}`)
	b := dec(`{"id": "f", "name": "Leads to CRM", "enabled": false, "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [{"id": "to_crm", "use": "http.request", "with": {"url": "https://crm.example.com/b"}},
	            {"id": "notify", "use": "data.set", "with": {"y": 2}},
	            {"id": "route", "switch": [{"when": "true", "steps": [{"id": "deep", "use": "data.set", "with": {"x": 2}}]}]}]}`)
	var got []string
	for _, c := range Diff(a, b) {
		got = append(got, c.Kind+" "+c.Path+" "+c.Old+" → "+c.New)
	}
	want := []string{
		"changed name Leads → Leads to CRM",
		"changed steps[to_crm].with.url https://crm.example.com/a → https://crm.example.com/b",
		`added steps[notify]  → {"id":"notify","use":"data.set","with":{"y":2}}`,
		"changed steps[route].switch[0].steps[deep].with.x 1 → 2",
		`removed steps[shape] {"id":"shape","use":"data.set","with":{"email":"{{ trigger.body.email }}"}} → `,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := SummarizeChanges(Diff(a, b)); s != "changed name; added step notify; removed step shape; changed step to_crm (with.url); changed step deep (with.x)" {
		t.Errorf("summary: %q", s)
	}
	// Enabled alone is not content; a reordering is one change.
	c := dec(`{"id": "f", "name": "Leads", "enabled": false, "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [{"id": "to_crm", "use": "http.request", "with": {"url": "https://crm.example.com/a"}},
	            {"id": "shape", "use": "data.set", "with": {"email": "{{ trigger.body.email }}"}},
	            {"id": "route", "switch": [{"when": "true", "steps": [{"id": "deep", "use": "data.set", "with": {"x": 1}}]}]}]}`)
	if !SameContent(a, dec(strings.Replace(`{"id": "f", "name": "Leads", "enabled": false, "trigger": {"type": "webhook", "path": "leads"}, "steps": []}`, `"steps": []`, `"steps": [{"id": "shape", "use": "data.set", "with": {"email": "{{ trigger.body.email }}"}}, {"id": "to_crm", "use": "http.request", "with": {"url": "https://crm.example.com/a"}}, {"id": "route", "switch": [{"when": "true", "steps": [{"id": "deep", "use": "data.set", "with": {"x": 1}}]}]}]`, 1))) {
		t.Error("enabled counted as content")
	}
	if s := SummarizeChanges(Diff(a, c)); s != "reordered steps" {
		t.Errorf("reorder summary: %q (%v)", s, Diff(a, c))
	}
}
