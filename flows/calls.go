package flows

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// UseFlowCall is the `use` of a step that runs another flow and waits for
// its result: {"use": "flow.call", "with": {"flow": "<id>", "payload": {…}}}.
// The connector is declared in connectors/flowcall; the engine runs it.
const UseFlowCall = "flow.call"

// Keys of a flow.call step's `with`.
const (
	CallFlow    = "flow"
	CallPayload = "payload"
)

// MaxCallDepth is how deep flow.call runs may nest: a run started by a
// flow.call of a run that was itself called, eight times over, fails its
// flow.call step instead of starting a ninth. It stops cycles that no save
// could see (a flow changed after the flows that call it were saved).
const MaxCallDepth = 8

// Notification events a flow's notify may list.
const (
	EventRunSucceeded = "run.succeeded"
	EventRunFailed    = "run.failed"
	EventStepFailed   = "step.failed"
)

// NotifyEvents are the events a notify endpoint may receive, in the order
// messages name them; DefaultNotifyEvents are those sent when a notify
// lists none.
var (
	NotifyEvents        = []string{EventRunSucceeded, EventRunFailed, EventStepFailed}
	DefaultNotifyEvents = []string{EventRunSucceeded, EventRunFailed}
)

// FailureHandler names the flow a run starts when it fails for good (a
// flow's `on_failure`).
type FailureHandler struct {
	Flow string `json:"flow"`
}

// Notify names an endpoint that run outcomes are POSTed to, signed the
// Standard Webhooks way with the `whsec_` secret held by the connection
// Secret (of type secret).
type Notify struct {
	URL    string   `json:"url"`
	Secret string   `json:"secret"`
	Events []string `json:"events,omitempty"`
}

// Wants reports whether the endpoint receives event.
func (n *Notify) Wants(event string) bool {
	if n == nil {
		return false
	}
	if len(n.Events) == 0 {
		return slices.Contains(DefaultNotifyEvents, event)
	}
	return slices.Contains(n.Events, event)
}

// FlowRef is one place where a flow names another flow.
type FlowRef struct {
	// Field is the field path, such as "steps[2].with.flow" or
	// "on_failure.flow".
	Field string
	// Flow is the id named there.
	Flow string
	// Call is true for a flow.call step (false: on_failure).
	Call bool
}

// FlowRefs lists the flows f names: its flow.call steps at any depth, then
// its on_failure.
func FlowRefs(f *Flow) []FlowRef {
	var out []FlowRef
	Walk(f.Steps, func(path string, s *Step) {
		if s.Use != UseFlowCall {
			return
		}
		if id, ok := s.With[CallFlow].(string); ok && id != "" {
			out = append(out, FlowRef{Field: path + ".with." + CallFlow, Flow: id, Call: true})
		}
	})
	if f.OnFailure != nil && f.OnFailure.Flow != "" {
		out = append(out, FlowRef{Field: "on_failure.flow", Flow: f.OnFailure.Flow})
	}
	return out
}

// CheckFlowRefs checks the flows f names against the others there are
// (lookup returns a flow by id as it is stored, nil when there is none):
// unknown lists the names of flows that do not exist, cycles the flow.calls
// that lead back to f, directly or through the flows they call, and a flow
// named as its own on_failure.
func CheckFlowRefs(f *Flow, lookup func(id string) *Flow) (unknown, cycles []FieldError) {
	get := func(id string) *Flow {
		if id == f.ID {
			return f
		}
		return lookup(id)
	}
	for _, ref := range FlowRefs(f) {
		switch {
		case get(ref.Flow) == nil:
			unknown = append(unknown, FieldError{Field: ref.Field, Message: fmt.Sprintf("unknown flow %q", ref.Flow)})
		case !ref.Call && ref.Flow == f.ID:
			cycles = append(cycles, FieldError{Field: ref.Field, Message: "a flow cannot be its own failure flow"})
		case ref.Call:
			if path := callPath(ref.Flow, f.ID, get); path != nil {
				chain := append([]string{f.ID}, path...)
				cycles = append(cycles, FieldError{Field: ref.Field, Message: fmt.Sprintf("calling %q makes a cycle (%s): each run would call the next forever", ref.Flow, strings.Join(chain, " → "))})
			}
		}
	}
	return unknown, cycles
}

// callPath returns the chain of flow.call edges from `from` to `to` (from
// first, to last), or nil when there is none.
func callPath(from, to string, get func(string) *Flow) []string {
	seen := map[string]bool{}
	var visit func(id string) []string
	visit = func(id string) []string {
		if id == to {
			return []string{id}
		}
		if seen[id] {
			return nil
		}
		seen[id] = true
		fl := get(id)
		if fl == nil {
			return nil
		}
		for _, ref := range FlowRefs(fl) {
			if !ref.Call {
				continue
			}
			if rest := visit(ref.Flow); rest != nil {
				return append([]string{id}, rest...)
			}
		}
		return nil
	}
	return visit(from)
}

// flowLinks validates on_failure and notify (what one flow can check
// alone; which flows exist is CheckFlowRefs's part).
func (v *validator) flowLinks(f *Flow) {
	if h := f.OnFailure; h != nil {
		switch {
		case h.Flow == "":
			v.errs.add("on_failure.flow", "required: the id of the flow to start when a run fails")
		case !flowIDPattern.MatchString(h.Flow):
			v.errs.add("on_failure.flow", fmt.Sprintf("%q is not a valid flow id", h.Flow))
		}
	}
	if n := f.Notify; n != nil {
		CheckNotify("notify", n, v.errs.add)
	}
}

// CheckNotify validates a notify endpoint (a flow's, or the settings'),
// reporting each problem under prefix.
func CheckNotify(prefix string, n *Notify, add func(field, msg string)) {
	if n.URL == "" {
		add(prefix+".url", "required")
	} else if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add(prefix+".url", fmt.Sprintf("%q is not an absolute http or https URL", n.URL))
	}
	if n.Secret == "" {
		add(prefix+".secret", "required: the connection (type secret) holding the whsec_ signing secret")
	}
	for i, e := range n.Events {
		if !slices.Contains(NotifyEvents, e) {
			add(fmt.Sprintf("%s.events[%d]", prefix, i), fmt.Sprintf("unknown event %q (use %s)", e, strings.Join(NotifyEvents, ", ")))
		}
	}
}

// callStep checks what only a flow.call step needs: a literal flow id (a
// template could not be checked for cycles, nor followed in history).
func (v *validator) callStep(p string, s *Step) {
	id, ok := s.With[CallFlow].(string)
	if !ok || id == "" {
		return // "required" or the type error comes from the spec
	}
	switch {
	case isTemplate(id):
		v.errs.add(p+".with."+CallFlow, "must name a flow by its id, not a {{ }} template")
	case !flowIDPattern.MatchString(id):
		v.errs.add(p+".with."+CallFlow, fmt.Sprintf("%q is not a valid flow id", id))
	}
}
