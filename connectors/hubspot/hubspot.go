// Package hubspot holds the HubSpot CRM connectors, speaking the CRM v3
// objects API with a private-app access token: hubspot.upsert_contact
// (create or update a contact by email), hubspot.create_deal (optionally
// associated with a contact) and hubspot.update_object (any CRM record by
// id).
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// ConnType is the connection type holding a private-app access token.
const ConnType = "hubspot"

// Connection value keys.
const (
	connToken   = "token"
	connBaseURL = "base_url"
)

// DefaultBaseURL is where the HubSpot API lives.
const DefaultBaseURL = "https://api.hubapi.com"

// Limits and defaults.
const (
	// Timeout bounds one request, response body included.
	Timeout = 30 * time.Second
	// MaxResponseBody is the largest response read; a longer one fails
	// the step.
	MaxResponseBody = 4 << 20
	// DefaultRateLimitWait is the retry delay after a 429 that names no
	// Retry-After: HubSpot's burst limits count per ten seconds.
	DefaultRateLimitWait = 10 * time.Second
)

// Redacted replaces credentials in dry-run output.
const Redacted = connectors.Redacted

// Config keys shared by the connectors.
const (
	fieldConnection = connectors.KeyConnection
	fieldProperties = "properties"
)

// now is the clock Retry-After dates are read against.
var now = time.Now

func init() {
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnType,
		Label: "HubSpot private app",
		Help:  "A HubSpot private app's access token. In HubSpot go to Settings > Integrations > Private Apps, create an app with the CRM scopes your flows need (such as crm.objects.contacts.write and crm.objects.deals.write) and copy its access token.",
		Fields: []connectors.Field{
			{Name: connToken, Label: "Access token", Type: connectors.TypeSecret, Required: true,
				Help: "Starts with pat-."},
			{Name: connBaseURL, Label: "API base URL", Type: connectors.TypeString, Advanced: true, Default: DefaultBaseURL,
				Help: "Leave empty to use HubSpot itself. Only for test servers and proxies that speak the HubSpot API."},
		},
	})
	connectors.Register(&UpsertContact{})
	connectors.Register(&CreateDeal{})
	connectors.Register(&UpdateObject{})
}

func connectionField() connectors.Field {
	return connectors.ConnectionField("HubSpot connection", "The stored HubSpot private-app token to use.", ConnType)
}

// APIError is an error answer of the HubSpot API.
type APIError struct {
	// Service names the step and call, e.g. "hubspot.create_deal: POST /crm/v3/objects/deals".
	Service string
	// Status is the HTTP status.
	Status int
	// Category is HubSpot's error category, e.g. "VALIDATION_ERROR".
	Category string
	// Message is HubSpot's message, or the start of a body that was not
	// HubSpot's JSON error.
	Message string
	// CorrelationID identifies the request to HubSpot support.
	CorrelationID string
}

// Error implements error:
// `<service>: 400 Bad Request: VALIDATION_ERROR: <message> (correlationId <id>)`.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d", e.Service, e.Status)
	if text := http.StatusText(e.Status); text != "" {
		b.WriteString(" " + text)
	}
	if e.Category != "" {
		b.WriteString(": " + e.Category)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " (correlationId %s)", e.CorrelationID)
	}
	return b.String()
}

// client is a HubSpot API caller for one step attempt.
type client struct {
	id    string // connector id, for messages
	base  *url.URL
	token string
}

// newClient reads the connection. Its errors are config errors.
func newClient(id string, conn map[string]string) (*client, error) {
	token := strings.TrimSpace(conn[connToken])
	if token == "" {
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("needs a connection of type %s with an access token", ConnType)}
	}
	if !connectors.ValidHeaderValue(token) {
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "the token holds a line break or control character"}
	}
	base, err := connectors.BaseURL(conn, connBaseURL, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	return &client{id: id, base: base, token: token}, nil
}

// call is one request: path segments are escaped one by one.
type call struct {
	method string
	path   []string
	body   any
}

func (c *client) url(k call) string { return c.base.JoinPath(escapeAll(k.path)...).String() }

func escapeAll(segs []string) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = url.PathEscape(s)
	}
	return out
}

// service names the call in messages, e.g.
// "hubspot.create_deal: POST /crm/v3/objects/deals".
func (c *client) service(k call) string {
	return fmt.Sprintf("%s: %s /%s", c.id, k.method, strings.Join(escapeAll(k.path), "/"))
}

// dryRun describes the request k without sending it.
func (c *client) dryRun(k call) map[string]any {
	return connectors.DryRunRequest(k.method, c.url(k),
		map[string]any{"Authorization": Redacted, "Content-Type": "application/json"}, k.body)
}

// execute runs a step that is one call, built by build: a dry run
// describes the call, otherwise HubSpot's answer is the output.
func execute(ctx context.Context, in connectors.Input, id string, build func(connectors.Input) (*client, call, error)) (connectors.Result, error) {
	c, k, err := build(in)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", id, err))
	}
	if in.DryRun {
		return connectors.Result{Output: c.dryRun(k)}, nil
	}
	_, obj, err := c.do(ctx, in.HTTP, k)
	if err != nil {
		return connectors.Result{}, err
	}
	return connectors.Result{Output: obj}, nil
}

// do sends k and returns the decoded JSON object HubSpot answered with
// (2xx), or a step error.
func (c *client) do(ctx context.Context, hc *http.Client, k call) (int, map[string]any, error) {
	status, obj, err := c.send(ctx, hc, k)
	if err != nil {
		return 0, nil, connectors.Scrub(err, c.token)
	}
	return status, obj, nil
}

func (c *client) send(ctx context.Context, hc *http.Client, k call) (int, map[string]any, error) {
	service := c.service(k)
	if hc == nil {
		return 0, nil, connectors.Permanentf("%s: no HTTP client", service)
	}
	body, err := connectors.EncodeJSON(k.body)
	if err != nil {
		return 0, nil, connectors.Permanentf("%s: encode body: %w", service, err)
	}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+c.token)
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/json")
	resp, err := connectors.Do(ctx, hc, connectors.Call{
		Service: service, Method: k.method, URL: c.url(k), Header: header, Body: body,
		Timeout: Timeout, MaxBody: MaxResponseBody,
	})
	if err != nil {
		return 0, nil, err
	}
	// Whatever HubSpot answers goes into run history; it never echoes the
	// token, but make sure.
	raw := bytes.ReplaceAll(resp.Body, []byte(c.token), []byte(Redacted))
	if resp.Status < 200 || resp.Status > 299 {
		return 0, nil, errorFromResponse(resp.Status, resp.Header, raw, service)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		// The write may have happened; trying again could repeat it.
		return 0, nil, connectors.Permanentf("%s: unexpected answer from HubSpot (%d, not a JSON object): %s", service, resp.Status, connectors.Excerpt(raw, connectors.ExcerptLen))
	}
	return resp.Status, obj, nil
}

// errorBody is HubSpot's JSON error shape.
type errorBody struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	Category      string `json:"category"`
	ErrorType     string `json:"errorType"`
	CorrelationID string `json:"correlationId"`
	PolicyName    string `json:"policyName"`
	Errors        []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// errorFromResponse maps a non-2xx answer: 429 and 5xx are retryable
// (Retry-After honoured; a 429 without one waits DefaultRateLimitWait, or
// an hour for the daily limit), other statuses permanent. The message
// carries HubSpot's category and message.
func errorFromResponse(status int, header http.Header, raw []byte, service string) error {
	var eb errorBody
	if json.Unmarshal(raw, &eb) != nil || eb.Message == "" && eb.Category == "" && len(eb.Errors) == 0 {
		return connectors.FromHTTPResponse(status, header, raw, service)
	}
	msg := eb.Message
	if msg == "" {
		var parts []string
		for _, e := range eb.Errors {
			if e.Message != "" {
				parts = append(parts, e.Message)
			}
		}
		msg = strings.Join(parts, "; ")
	}
	category := eb.Category
	if category == "" {
		category = eb.ErrorType
	}
	se := &connectors.StepError{
		Status: status,
		Err: &APIError{
			Service: service, Status: status, Category: category,
			Message:       connectors.Excerpt([]byte(msg), 2*connectors.ExcerptLen),
			CorrelationID: eb.CorrelationID,
		},
	}
	if status == http.StatusTooManyRequests || status >= 500 && status <= 599 {
		se.Retryable = true
		se.RetryAfter = connectors.ParseRetryAfter(header.Get("Retry-After"), now())
		if se.RetryAfter == 0 && status == http.StatusTooManyRequests {
			se.RetryAfter = DefaultRateLimitWait
			if strings.EqualFold(eb.PolicyName, "DAILY") {
				// The daily limit resets at midnight in the account's time
				// zone; waiting ten seconds would only burn attempts.
				se.RetryAfter = connectors.MaxRetryAfter
			}
		}
	}
	return se
}

// readProperties reads a key-value field of HubSpot properties. HubSpot
// takes every property value as a string: numbers and bools are sent as
// text, null as "" (which clears the property), and a list as its items
// joined with ";" (HubSpot's format for multiple checkboxes).
func readProperties(cfg map[string]any, key string) (map[string]string, error) {
	values, err := connectors.ConfigValues(cfg, key)
	if err != nil {
		return nil, err
	}
	props := make(map[string]string, len(values))
	for name, vs := range values {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, &connectors.ConfigError{Field: key, Msg: "a property has an empty name"}
		}
		props[name] = strings.Join(vs, ";")
	}
	return props, nil
}

// setProperty puts value under name unless props holds a different one.
func setProperty(props map[string]string, name, value, field string) error {
	if old, ok := props[name]; ok && old != value {
		return &connectors.ConfigError{Field: fieldProperties + "." + name, Msg: fmt.Sprintf("conflicts with field %q; set it in one place", field)}
	}
	props[name] = value
	return nil
}
