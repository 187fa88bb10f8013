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
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
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
const Redacted = "[redacted]"

const userAgent = "Switchyard"

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
	raw := strings.TrimSpace(conn[connBaseURL])
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "connection base_url is not a valid URL"}
	case base.Scheme != "http" && base.Scheme != "https":
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "connection base_url must start with https:// or http://"}
	case base.Hostname() == "":
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "connection base_url has no host"}
	case base.User != nil || base.RawQuery != "" || base.Fragment != "":
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "connection base_url must be a plain URL without user, query or fragment"}
	}
	if err := egress.CheckHost(base.Hostname()); err != nil {
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "connection base_url", Err: err}
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
	return map[string]any{
		"dry_run": true,
		"request": map[string]any{
			"method":  k.method,
			"url":     c.url(k),
			"headers": map[string]any{"Authorization": Redacted, "Content-Type": "application/json"},
			"body":    k.body,
		},
	}
}

// do sends k and returns the decoded JSON object HubSpot answered with
// (2xx), or a step error.
func (c *client) do(parent context.Context, hc *http.Client, k call) (int, map[string]any, error) {
	status, obj, err := c.send(parent, hc, k)
	if err != nil {
		return 0, nil, scrub(err, c.token)
	}
	return status, obj, nil
}

func (c *client) send(parent context.Context, hc *http.Client, k call) (int, map[string]any, error) {
	service := c.service(k)
	if hc == nil {
		return 0, nil, connectors.Permanentf("%s: no HTTP client", service)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(k.body); err != nil {
		return 0, nil, connectors.Permanentf("%s: encode body: %w", service, err)
	}
	ctx, cancel := context.WithTimeout(parent, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, k.method, c.url(k), bytes.NewReader(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))))
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, nil, connectors.Permanentf("%s: build request: %w", service, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, transportError(parent, ctx, err, service)
	}
	defer resp.Body.Close()
	raw, err := connectors.ReadBody(resp.Body, MaxResponseBody)
	if err != nil {
		return 0, nil, transportError(parent, ctx, err, service)
	}
	// Whatever HubSpot answers goes into run history; it never echoes the
	// token, but make sure.
	raw = bytes.ReplaceAll(raw, []byte(c.token), []byte(Redacted))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, nil, errorFromResponse(resp.StatusCode, resp.Header, raw, service)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		// The write may have happened; trying again could repeat it.
		return 0, nil, connectors.Permanentf("%s: unexpected answer from HubSpot (%d, not a JSON object): %s", service, resp.StatusCode, connectors.Excerpt(raw, connectors.ExcerptLen))
	}
	return resp.StatusCode, obj, nil
}

func transportError(parent, ctx context.Context, err error, service string) error {
	if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return connectors.Retryable(fmt.Errorf("%s: no complete response within %s: %w", service, Timeout, context.DeadlineExceeded), 0)
	}
	return connectors.FromTransportError(err, service)
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

// scrub returns err with the token replaced by Redacted. When the token
// shows, the result keeps only err's retry classification, not its chain.
func scrub(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	out := &connectors.StepError{Retryable: true, Err: errors.New(strings.ReplaceAll(err.Error(), token, Redacted))}
	var se *connectors.StepError
	if errors.As(err, &se) {
		out.Retryable, out.RetryAfter, out.Status = se.Retryable, se.RetryAfter, se.Status
	}
	return out
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

// requiredString reads a required text field.
func requiredString(cfg map[string]any, key string) (string, error) {
	s, err := connectors.ConfigString(cfg, key)
	if err != nil {
		return "", err
	}
	if s = strings.TrimSpace(s); s == "" {
		return "", &connectors.ConfigError{Field: key, Msg: "required"}
	}
	return s, nil
}
