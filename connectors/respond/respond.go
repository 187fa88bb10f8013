// Package respond is the webhook.respond connector: it sets the answer a
// sync webhook gives its caller.
package respond

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// ID is the connector id a step's `use` names.
const ID = "webhook.respond"

// Config keys.
const (
	fieldStatus  = "status"
	fieldHeaders = "headers"
	fieldBody    = "body"
)

// Status limits and default.
const (
	DefaultStatus = http.StatusOK
	MinStatus     = 100
	MaxStatus     = 599
)

func init() { connectors.Register(&Respond{}) }

// Respond is the webhook.respond connector.
type Respond struct{}

// Spec describes webhook.respond.
func (*Respond) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       ID,
		Category: "Core",
		Label:    "Respond to webhook",
		Help:     "Sets the status, headers and body a webhook with respond: sync answers its caller with. The last such step in a run wins.",
		Fields: []connectors.Field{
			{Name: fieldStatus, Label: "Status", Type: connectors.TypeNumber, Default: DefaultStatus, Help: "An HTTP status from 100 to 599."},
			{Name: fieldHeaders, Label: "Headers", Type: connectors.TypeKeyValue},
			{Name: fieldBody, Label: "Body", Type: connectors.TypeJSON, Shape: connectors.ShapeObject, Help: "Sent as JSON, unless it is a string, which is sent as is."},
		},
		SideEffects: false,
	}
}

// Execute builds the response. It only records the answer; the webhook
// sends it, so a dry run does the same.
func (*Respond) Execute(_ context.Context, in connectors.Input) (connectors.Result, error) {
	resp, err := build(in.Config)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, err))
	}
	headers := make(map[string]any, len(resp.Headers))
	for k, v := range resp.Headers {
		headers[k] = v
	}
	out := map[string]any{"status": resp.Status, "headers": headers, "body": resp.Body}
	return connectors.Result{Output: out, Respond: resp}, nil
}

func build(cfg map[string]any) (*connectors.Response, error) {
	status := DefaultStatus
	n, ok, err := connectors.ConfigNumber(cfg, fieldStatus)
	if err != nil {
		return nil, err
	}
	if ok {
		if n != math.Trunc(n) || n < MinStatus || n > MaxStatus {
			return nil, &connectors.ConfigError{Field: fieldStatus, Msg: fmt.Sprintf("%v is not a whole number from %d to %d", n, MinStatus, MaxStatus)}
		}
		status = int(n)
	}
	values, err := connectors.ConfigValues(cfg, fieldHeaders)
	if err != nil {
		return nil, err
	}
	var headers map[string]string
	if len(values) > 0 {
		headers = make(map[string]string, len(values))
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs := values[name]
		for _, v := range vs {
			if err := connectors.CheckHeader(fieldHeaders, name, v); err != nil {
				return nil, err
			}
		}
		key := http.CanonicalHeaderKey(name)
		joined := strings.Join(vs, ", ")
		if prev, dup := headers[key]; dup {
			joined = prev + ", " + joined
		}
		headers[key] = joined
	}
	return &connectors.Response{Status: status, Headers: headers, Body: cfg[fieldBody]}, nil
}

var _ connectors.Connector = (*Respond)(nil)
