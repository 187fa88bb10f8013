package views

import (
	"github.com/switchyard/switchyard/flows"
)

// FlowChoice is a flow a picker offers: flow.call's flow, on_failure.
type FlowChoice struct {
	ID, Name string
	// Callable is true for flows whose trigger is "call".
	Callable bool
}

// Label is how a picker names the flow.
func (c FlowChoice) Label() string {
	l := c.Name
	if l == "" {
		l = c.ID
	}
	if c.Callable {
		l += " (called by other flows)"
	}
	return l + " · " + c.ID
}

func hasFlow(list []FlowChoice, id string) bool {
	for _, c := range list {
		if c.ID == id {
			return true
		}
	}
	return false
}

func failureFlow(f *flows.Flow) string {
	if f.OnFailure == nil {
		return ""
	}
	return f.OnFailure.Flow
}

// notifyOf is n, or an empty endpoint (which wants the default events).
func notifyOf(n *flows.Notify) *flows.Notify {
	if n == nil {
		return &flows.Notify{}
	}
	return n
}

// eventWords says what a notification event means.
func eventWords(ev string) string {
	switch ev {
	case flows.EventRunSucceeded:
		return "A run succeeded (run.succeeded)"
	case flows.EventRunFailed:
		return "A run failed (run.failed)"
	case flows.EventStepFailed:
		return "A step failed, even if the run went on (step.failed)"
	}
	return ev
}
