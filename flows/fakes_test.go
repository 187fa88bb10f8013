package flows

import (
	"context"

	"github.com/switchyard/switchyard/connectors"
)

// fakeConnector stands in for the real connectors, which live in packages
// this test binary does not import; only the spec matters to flows.
type fakeConnector struct{ spec connectors.Spec }

func (f fakeConnector) Spec() connectors.Spec { return f.spec }

func (f fakeConnector) Execute(context.Context, connectors.Input) (connectors.Result, error) {
	return connectors.Result{}, nil
}

// fakeSpecs mirror the field declarations of the first-milestone
// connectors, plus test.strict, which has one field of every type.
var fakeSpecs = []connectors.Spec{
	{
		ID: "http.request", Category: "Core", Label: "HTTP request", SideEffects: true,
		Fields: []connectors.Field{
			{Name: "method", Label: "Method", Type: connectors.TypeSelect, Default: "GET", Options: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}},
			{Name: "url", Label: "URL", Type: connectors.TypeString, Required: true},
			{Name: "headers", Label: "Headers", Type: connectors.TypeKeyValue},
			{Name: "query", Label: "Query", Type: connectors.TypeKeyValue},
			{Name: "body", Label: "Body", Type: connectors.TypeJSON},
			{Name: "body_type", Label: "Body type", Type: connectors.TypeSelect, Options: []string{"json", "form", "raw"}, Default: "json"},
			{Name: "auth", Label: "Auth", Type: connectors.TypeSelect, Options: []string{"none", "bearer", "basic", "header"}, Default: "none"},
			{Name: "connection", Label: "Connection", Type: connectors.TypeConnection},
			{Name: "timeout", Label: "Timeout", Type: connectors.TypeDuration, Advanced: true},
			{Name: "idempotency_key", Label: "Send Idempotency-Key", Type: connectors.TypeBool, Default: true, Advanced: true},
		},
	},
	{
		ID: UseFlowCall, Category: "Core", Label: "Call another flow", SideEffects: true,
		Fields: []connectors.Field{
			{Name: CallFlow, Label: "Flow", Type: connectors.TypeFlow, Required: true},
			{Name: CallPayload, Label: "Payload", Type: connectors.TypeJSON, Shape: connectors.ShapeObject},
		},
	},
	{
		ID: "data.set", Category: "Core", Label: "Set data", Help: "Builds an object from expressions.",
		Fields: []connectors.Field{{Name: WildcardField, Label: "Any key", Type: connectors.TypeJSON}},
	},
	{
		ID: "webhook.respond", Category: "Core", Label: "Respond to webhook",
		Fields: []connectors.Field{
			{Name: "status", Label: "Status", Type: connectors.TypeNumber, Default: 200},
			{Name: "headers", Label: "Headers", Type: connectors.TypeKeyValue},
			{Name: "body", Label: "Body", Type: connectors.TypeJSON},
		},
	},
	{
		ID: "flow.delay", Category: "Core", Label: "Delay",
		Fields: []connectors.Field{{Name: "duration", Label: "Duration", Type: connectors.TypeDuration, Required: true}},
	},
	{
		ID: "test.strict", Category: "Test", Label: "Every field type", Help: "Test connector.",
		Fields: []connectors.Field{
			{Name: "s", Label: "String", Type: connectors.TypeString, Required: true},
			{Name: "text", Label: "Text", Type: connectors.TypeText},
			{Name: "token", Label: "Token", Type: connectors.TypeSecret},
			{Name: "n", Label: "Number", Type: connectors.TypeNumber},
			{Name: "b", Label: "Bool", Type: connectors.TypeBool},
			{Name: "sel", Label: "Select", Type: connectors.TypeSelect, Options: []string{"a", "b"}},
			{Name: "d", Label: "Duration", Type: connectors.TypeDuration},
			{Name: "j", Label: "JSON", Type: connectors.TypeJSON},
			{Name: "kv", Label: "Key-value", Type: connectors.TypeKeyValue},
			{Name: "conn", Label: "Connection", Type: connectors.TypeConnection, ConnectionTypes: []string{"secret"}},
		},
	},
}

func init() {
	for _, s := range fakeSpecs {
		connectors.Register(fakeConnector{spec: s})
	}
}
