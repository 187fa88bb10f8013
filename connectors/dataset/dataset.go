// Package dataset is the data.set connector: it builds an object from its
// config, so later steps can refer to computed values by name.
package dataset

import (
	"context"
	"maps"

	"github.com/switchyard/switchyard/connectors"
)

// ID is the connector id a step's `use` names.
const ID = "data.set"

// fieldAny is the field name the flows validator reads as "any key
// allowed".
const fieldAny = "*"

func init() { connectors.Register(&Set{}) }

// Set is the data.set connector.
type Set struct{}

// Spec describes data.set.
func (*Set) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       ID,
		Category: "Core",
		Label:    "Set data",
		Help:     "Builds an object from its fields; the output is the rendered fields, e.g. steps.<id>.output.email.",
		Fields: []connectors.Field{
			{Name: fieldAny, Label: "Fields", Type: connectors.TypeJSON, Help: "any keys; each value may use {{ }} templates"},
		},
		SideEffects: false,
	}
}

// Execute returns the rendered config as the output. It has no effects,
// so a dry run does the same.
func (*Set) Execute(_ context.Context, in connectors.Input) (connectors.Result, error) {
	out := make(map[string]any, len(in.Config))
	maps.Copy(out, in.Config)
	return connectors.Result{Output: out}, nil
}

var _ connectors.Connector = (*Set)(nil)
