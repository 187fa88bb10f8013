package main

import (
	"strings"
	"testing"
)

// TestFlowsValidateCalls: flows validate checks the flows that flow.call
// and on_failure name against the files given: unknown ones and call
// cycles are errors at their field.
func TestFlowsValidateCalls(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return writeTestFile(t, dir, name, body) }
	a := write("a.json", `{"id": "a", "name": "A", "enabled": true, "trigger": {"type": "manual"}, "on_failure": {"flow": "alert"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "b", "payload": {"x": "{{ trigger.body.x }}"}}}]}`)
	b := write("b.json", `{"id": "b", "name": "B", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "a"}}]}`)
	alert := write("alert.json", `{"id": "alert", "name": "Alert", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "n", "use": "data.set", "with": {"x": 1}}]}`)

	code, out, _ := runCLI(t, "flows", "validate", a)
	if code != 1 || !strings.Contains(out, a+`:steps[0].with.flow: unknown flow "b"`) || !strings.Contains(out, a+`:on_failure.flow: unknown flow "alert"`) {
		t.Fatalf("a alone: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "flows", "validate", a, b, alert)
	if code != 1 || !strings.Contains(out, a+":steps[0].with.flow: calling \"b\" makes a cycle (a → b → a)") ||
		!strings.Contains(out, b+":steps[0].with.flow: calling \"a\" makes a cycle (b → a → b)") || strings.Contains(out, alert) {
		t.Fatalf("the cycle: exit %d\n%s", code, out)
	}
	write("b.json", `{"id": "b", "name": "B", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "c", "use": "data.set", "with": {"y": "{{ trigger.body.x }}"}}]}`)
	if code, out, errOut := runCLI(t, "flows", "validate", dir); code != 0 {
		t.Fatalf("valid set: exit %d\n%s%s", code, out, errOut)
	}
}
