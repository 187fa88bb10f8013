package flows

import (
	"strings"
	"testing"
)

// TestCallValidation: what one flow can check alone about flow.call,
// the call trigger, on_failure and notify.
func TestCallValidation(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []wantErr
	}{
		{"flow id as a template", `{"id": "a", "name": "A", "trigger": {"type": "manual"},
		  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "{{ trigger.body.f }}"}}]}`,
			[]wantErr{{"steps[0].with.flow", "not a {{ }} template"}}},
		{"flow missing", `{"id": "a", "name": "A", "trigger": {"type": "manual"},
		  "steps": [{"id": "c", "use": "flow.call", "with": {"payload": {"x": 1}}}]}`,
			[]wantErr{{"steps[0].with.flow", "required"}}},
		{"flow not a string", `{"id": "a", "name": "A", "trigger": {"type": "manual"},
		  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": 3}}]}`,
			[]wantErr{{"steps[0].with.flow", "must be the id of a flow"}}},
		{"bad flow id", `{"id": "a", "name": "A", "trigger": {"type": "manual"},
		  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "Not An Id"}}]}`,
			[]wantErr{{"steps[0].with.flow", "not a valid flow id"}}},
		{"payload template checked", `{"id": "a", "name": "A", "trigger": {"type": "manual"},
		  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "b", "payload": {"x": "{{ steps.later.output }}"}}}]}`,
			[]wantErr{{"steps[0].with.payload.x", `unknown step "later"`}}},
		{"call trigger takes no path", `{"id": "a", "name": "A", "trigger": {"type": "call", "path": "x"},
		  "steps": [{"id": "c", "use": "data.set", "with": {"x": 1}}]}`,
			[]wantErr{{"trigger.path", "not allowed for call triggers"}}},
		{"on_failure without flow", `{"id": "a", "name": "A", "trigger": {"type": "manual"}, "on_failure": {"flow": ""},
		  "steps": [{"id": "c", "use": "data.set", "with": {"x": 1}}]}`,
			[]wantErr{{"on_failure.flow", "required"}}},
		{"notify", `{"id": "a", "name": "A", "trigger": {"type": "manual"}, "notify": {"url": "ftp://x", "events": ["run.done"]},
		  "steps": [{"id": "c", "use": "data.set", "with": {"x": 1}}]}`,
			[]wantErr{{"notify.url", "not an absolute http or https URL"}, {"notify.secret", "required"}, {"notify.events[0]", `unknown event "run.done"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode([]byte(tc.raw))
			if err == nil {
				_, err = Compile(f)
			}
			checkDetails(t, err, tc.want, true)
		})
	}
	ok := `{"id": "a", "name": "A", "trigger": {"type": "call"}, "on_failure": {"flow": "alert"},
	  "notify": {"url": "https://hooks.example.com/sy", "secret": "notify_key", "events": ["run.failed", "step.failed"]},
	  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "b", "payload": {"email": "{{ trigger.body.email }}"}}}]}`
	f, err := Decode([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(f); err != nil {
		t.Fatal(err)
	}
	if !f.Notify.Wants(EventStepFailed) || f.Notify.Wants(EventRunSucceeded) {
		t.Fatal("notify events")
	}
	if refs := ConnectionRefs(f); len(refs) != 1 || refs[0].Field != "notify.secret" {
		t.Fatalf("connection refs %v", refs)
	}
}

// TestCheckFlowRefs: unknown flows and cycles, as `flows validate` and a
// save see them.
func TestCheckFlowRefs(t *testing.T) {
	mk := func(id string, calls ...string) *Flow {
		f := &Flow{ID: id}
		for i, c := range calls {
			f.Steps = append(f.Steps, Step{ID: "s" + string(rune('0'+i)), Use: UseFlowCall, With: map[string]any{CallFlow: c}})
		}
		return f
	}
	all := map[string]*Flow{"a": mk("a", "b"), "b": mk("b", "c"), "c": mk("c"), "d": mk("d")}
	lookup := func(id string) *Flow { return all[id] }
	if u, c := CheckFlowRefs(mk("c", "d"), lookup); len(u)+len(c) != 0 {
		t.Fatalf("c calling d: %v %v", u, c)
	}
	u, c := CheckFlowRefs(mk("c", "x", "a"), lookup)
	if len(u) != 1 || u[0].Field != "steps[0].with.flow" || len(c) != 1 || c[0].Field != "steps[1].with.flow" || !strings.Contains(c[0].Message, "c → a → b → c") {
		t.Fatalf("unknown %v cycles %v", u, c)
	}
	f := mk("d")
	f.OnFailure = &FailureHandler{Flow: "a"}
	if u, c := CheckFlowRefs(f, lookup); len(u)+len(c) != 0 {
		t.Fatalf("on_failure is no call edge: %v %v", u, c)
	}
}
