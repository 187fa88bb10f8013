// Package flowcall declares the flow.call step: it runs another flow with a
// payload as its trigger body and returns that flow's result. The step only
// has meaning inside the engine, which starts and follows the called run;
// this package gives it the self-description forms, docs and validation
// read.
package flowcall

import (
	"context"
	"errors"

	"github.com/switchyard/switchyard/connectors"
)

// ID is the connector id a step's `use` names.
const ID = "flow.call"

// Config keys.
const (
	FieldFlow    = "flow"
	FieldPayload = "payload"
)

// ErrOutsideEngine is what Execute answers: only the engine can start and
// follow another flow's run.
var ErrOutsideEngine = errors.New("flow.call: another flow can only be called by a running Switchyard (serve), not here")

func init() { connectors.Register(&Call{}) }

// Call is the flow.call connector.
type Call struct{}

// Spec describes flow.call.
func (*Call) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       ID,
		Category: "Core",
		Label:    "Call another flow",
		Help:     "Runs another flow with the payload as its trigger body and waits for it; the output is that flow's answer (its Respond step, else its last step's output). The run waits on disk, so a restart never starts the other flow twice.",
		Fields: []connectors.Field{
			{Name: FieldFlow, Label: "Flow", Type: connectors.TypeFlow, Required: true, Help: "The flow to run. Flows whose trigger is “Called by other flows” have no webhook of their own."},
			{Name: FieldPayload, Label: "Payload", Type: connectors.TypeJSON, Shape: connectors.ShapeObject, Help: "What the called flow sees as trigger.body."},
		},
		SideEffects: true,
	}
}

// Execute refuses: the engine runs flow.call steps itself.
func (*Call) Execute(context.Context, connectors.Input) (connectors.Result, error) {
	return connectors.Result{}, connectors.Permanent(ErrOutsideEngine)
}

var _ connectors.Connector = (*Call)(nil)
