// Package httpreq is the http.request connector: one HTTP request to any
// URL, with JSON, form or raw bodies, bearer/basic/header auth from a
// stored connection, and the response parsed for later steps.
package httpreq

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
)

// ID is the connector id a step's `use` names.
const ID = "http.request"

// Config keys.
const (
	fieldMethod         = "method"
	fieldURL            = "url"
	fieldQuery          = "query"
	fieldHeaders        = "headers"
	fieldBody           = "body"
	fieldBodyType       = "body_type"
	fieldAuth           = "auth"
	fieldConnection     = connectors.KeyConnection
	fieldTimeout        = "timeout"
	fieldIdempotencyKey = "idempotency_key"
	fieldFailOnStatus   = "fail_on_status"
)

// Body types (body_type).
const (
	BodyJSON = "json"
	BodyForm = "form"
	BodyRaw  = "raw"
)

// Auth modes (auth).
const (
	AuthNone   = "none"
	AuthBearer = "bearer"
	AuthBasic  = "basic"
	AuthHeader = "header"
)

// Connection types this connector registers, and their value keys. A
// connection of the built-in type "secret" (one "value") also works as a
// bearer token.
const (
	ConnBearer = "http_bearer"
	ConnBasic  = "http_basic"
	ConnHeader = "http_header"

	connToken    = "token"
	connUsername = "username"
	connPassword = "password"
	connName     = "name"
	connValue    = "value"
	connSecret   = "secret"
)

// Limits.
const (
	DefaultTimeout = 30 * time.Second
	MaxTimeout     = 5 * time.Minute
	// MaxResponseBody is the largest response body read; a longer one
	// fails the step.
	MaxResponseBody = 10 << 20
)

// Redacted replaces credentials in dry-run output.
const Redacted = connectors.Redacted

var (
	methods   = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions}
	bodyTypes = []string{BodyJSON, BodyForm, BodyRaw}
	authModes = []string{AuthNone, AuthBearer, AuthBasic, AuthHeader}
)

func init() {
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:     ConnBearer,
		Label:  "HTTP bearer token",
		Help:   "Sent as Authorization: Bearer <token>.",
		Fields: []connectors.Field{{Name: connToken, Label: "Token", Type: connectors.TypeSecret, Required: true}},
	})
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnBasic,
		Label: "HTTP basic auth",
		Help:  "Sent as Authorization: Basic base64(username:password).",
		Fields: []connectors.Field{
			{Name: connUsername, Label: "Username", Type: connectors.TypeString, Required: true},
			{Name: connPassword, Label: "Password", Type: connectors.TypeSecret},
		},
	})
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnHeader,
		Label: "HTTP header",
		Help:  "A header carrying a credential, such as X-API-Key.",
		Fields: []connectors.Field{
			{Name: connName, Label: "Header name", Type: connectors.TypeString, Required: true, Help: "e.g. X-API-Key"},
			{Name: connValue, Label: "Header value", Type: connectors.TypeSecret, Required: true},
		},
	})
	connectors.Register(&Request{})
}

// Request is the http.request connector.
type Request struct{}

// Spec describes http.request.
func (*Request) Spec() connectors.Spec {
	return connectors.Spec{
		ID:          ID,
		Category:    "Core",
		Label:       "HTTP request",
		Help:        "Sends one HTTP request and returns the response: status, headers (lower-case names) and body (parsed when it is JSON). 429, 5xx, timeouts and connection errors are retried; other 4xx fail the step.",
		SideEffects: true,
		Fields: []connectors.Field{
			{Name: fieldMethod, Label: "Method", Type: connectors.TypeSelect, Options: methods, Default: http.MethodGet},
			{Name: fieldURL, Label: "URL", Type: connectors.TypeString, Required: true, Help: "An http:// or https:// URL."},
			{Name: fieldQuery, Label: "Query parameters", Type: connectors.TypeKeyValue, Help: "Added to the URL's query string."},
			{Name: fieldHeaders, Label: "Headers", Type: connectors.TypeKeyValue},
			{Name: fieldBody, Label: "Body", Type: connectors.TypeJSON, Shape: connectors.ShapeObject, Help: "An object, list, string or number, sent as body type says."},
			{Name: fieldBodyType, Label: "Body type", Type: connectors.TypeSelect, Options: bodyTypes, Default: BodyJSON,
				Help: "json: the body as JSON. form: an object as application/x-www-form-urlencoded. raw: a string as is, with the Content-Type from headers or text/plain."},
			{Name: fieldAuth, Label: "Authentication", Type: connectors.TypeSelect, Options: authModes, Default: AuthNone,
				Help: "How the connection's credential is sent. With none and a connection set, the connection's kind decides (token: bearer, username: basic, name and value: header)."},
			{Name: fieldConnection, Label: "Connection", Type: connectors.TypeConnection, ConnectionTypes: []string{ConnBearer, ConnBasic, ConnHeader, connSecret},
				Help: "Stored credential; a secret connection is sent as a bearer token."},
			{Name: fieldTimeout, Label: "Timeout", Type: connectors.TypeDuration, Default: DefaultTimeout.String(), Advanced: true,
				Help: "For the whole request, response body included; at most 5 minutes."},
			{Name: fieldIdempotencyKey, Label: "Send Idempotency-Key", Type: connectors.TypeBool, Default: true, Advanced: true,
				Help: "Sends Idempotency-Key: <run_id>:<step_id>, stable across retries, so services that support it apply the request once."},
			{Name: fieldFailOnStatus, Label: "Fail on error status", Type: connectors.TypeBool, Default: true, Advanced: true,
				Help: "When off, a non-2xx response is returned as the step's output instead of failing the step."},
		},
	}
}

// plan is a request ready to send, built from a step's config.
type plan struct {
	method       string
	url          *url.URL
	header       http.Header
	host         string
	body         []byte
	hasBody      bool
	shownBody    any
	timeout      time.Duration
	failOnStatus bool
	// secretHeaders are canonical header names to redact in dry runs.
	secretHeaders []string
	// conceal is told every credential value the plan builds
	// (connectors.Input.Conceal); nil when the caller does not ask.
	conceal func(string)
}

// service names the request in error messages, without credentials or
// query string.
func (p *plan) service() string {
	u := *p.url
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return fmt.Sprintf("%s: %s %s", ID, p.method, u.String())
}

// Execute sends the request, or in a dry run describes it.
func (r *Request) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	p, err := build(in)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, err))
	}
	if in.DryRun {
		return connectors.Result{Output: p.dryRun()}, nil
	}
	if in.HTTP == nil {
		return connectors.Result{}, connectors.Permanentf("%s: no HTTP client", ID)
	}
	return p.send(ctx, in.HTTP)
}

func (p *plan) send(ctx context.Context, client *http.Client) (connectors.Result, error) {
	call := connectors.Call{
		Service: p.service(), Method: p.method, URL: p.url.String(), Header: p.header, Host: p.host,
		Timeout: p.timeout, MaxBody: MaxResponseBody,
	}
	if p.hasBody {
		// Non-nil even when empty: an empty raw body is still a body.
		call.Body = append([]byte{}, p.body...)
	}
	resp, err := connectors.Do(ctx, client, call)
	if err != nil {
		return connectors.Result{}, err
	}
	if p.failOnStatus {
		if err := connectors.FromHTTPResponse(resp.Status, resp.Header, resp.Body, p.service()); err != nil {
			return connectors.Result{}, err
		}
	}
	return connectors.Result{Output: map[string]any{
		"status":  resp.Status,
		"headers": connectors.LowerHeaders(resp.Header),
		"body":    decodeBody(resp.Header.Get("Content-Type"), resp.Body),
	}}, nil
}

// decodeBody parses a JSON response (application/json or any +json type);
// anything else, or JSON that does not parse, is returned as text.
func decodeBody(contentType string, raw []byte) any {
	if isJSON(contentType) {
		if len(bytes.TrimSpace(raw)) == 0 {
			return nil
		}
		var v any
		if err := json.Unmarshal(raw, &v); err == nil {
			return v
		}
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// dryRun describes the request without sending it, credentials redacted.
func (p *plan) dryRun() map[string]any {
	headers := map[string]any{}
	for name, values := range p.header {
		headers[name] = strings.Join(values, ", ")
	}
	for _, name := range p.secretHeaders {
		if _, ok := headers[name]; ok {
			headers[name] = Redacted
		}
	}
	if p.host != "" {
		headers["Host"] = p.host
	}
	var body any
	if p.hasBody {
		body = p.shownBody
	}
	return connectors.DryRunRequest(p.method, p.url.Redacted(), headers, body)
}

// build validates the config and turns it into a plan. Its errors are
// config errors, to be reported as permanent.
func build(in connectors.Input) (*plan, error) {
	cfg := in.Config
	p := &plan{header: http.Header{}, conceal: in.Conceal}
	var err error
	if p.method, err = connectors.ConfigChoice(cfg, fieldMethod, http.MethodGet, methods); err != nil {
		return nil, err
	}
	if p.url, err = parseURL(cfg); err != nil {
		return nil, err
	}
	if err := addQuery(p.url, cfg); err != nil {
		return nil, err
	}
	headers, err := connectors.ConfigValues(cfg, fieldHeaders)
	if err != nil {
		return nil, err
	}
	for name, values := range headers {
		for _, v := range values {
			if err := connectors.CheckHeader(fieldHeaders, name, v); err != nil {
				return nil, err
			}
			if strings.EqualFold(name, "Host") {
				p.host = v
				continue
			}
			p.header.Add(name, v)
		}
	}
	if err := p.setBody(cfg); err != nil {
		return nil, err
	}
	if err := p.setAuth(cfg, in.Connection); err != nil {
		return nil, err
	}
	sendKey, err := connectors.ConfigBool(cfg, fieldIdempotencyKey, true)
	if err != nil {
		return nil, err
	}
	if sendKey && in.IdempotencyKey != "" && p.header.Get("Idempotency-Key") == "" {
		p.header.Set("Idempotency-Key", in.IdempotencyKey)
	}
	if p.header.Get("User-Agent") == "" {
		// Set here rather than left to connectors.Do, so that the
		// recorded input and a dry run show what is sent.
		p.header.Set("User-Agent", connectors.UserAgent)
	}
	if p.timeout, err = connectors.ConfigTimeout(cfg, fieldTimeout, DefaultTimeout, MaxTimeout); err != nil {
		return nil, err
	}
	if p.failOnStatus, err = connectors.ConfigBool(cfg, fieldFailOnStatus, true); err != nil {
		return nil, err
	}
	return p, nil
}

func parseURL(cfg map[string]any) (*url.URL, error) {
	raw, err := connectors.ConfigString(cfg, fieldURL)
	if err != nil {
		return nil, err
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, &connectors.ConfigError{Field: fieldURL, Msg: "required"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the whole URL; keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, &connectors.ConfigError{Field: fieldURL, Msg: "not a valid URL", Err: err}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, &connectors.ConfigError{Field: fieldURL, Msg: fmt.Sprintf("scheme %q is not http or https", u.Scheme)}
	}
	if u.Hostname() == "" {
		return nil, &connectors.ConfigError{Field: fieldURL, Msg: "no host"}
	}
	if err := egress.CheckURL(u); err != nil {
		return nil, fmt.Errorf("field %q: %w", fieldURL, err)
	}
	return u, nil
}

func addQuery(u *url.URL, cfg map[string]any) error {
	extra, err := connectors.ConfigValues(cfg, fieldQuery)
	if err != nil || len(extra) == 0 {
		return err
	}
	q := u.Query()
	for k, vs := range extra {
		q[k] = append(q[k], vs...)
	}
	u.RawQuery = q.Encode()
	return nil
}

func (p *plan) setBody(cfg map[string]any) error {
	bodyType, err := connectors.ConfigChoice(cfg, fieldBodyType, BodyJSON, bodyTypes)
	if err != nil {
		return err
	}
	v, present := cfg[fieldBody]
	if !present || v == nil {
		return nil
	}
	var contentType string
	switch bodyType {
	case BodyJSON:
		encoded, err := connectors.EncodeJSON(v)
		if err != nil {
			return &connectors.ConfigError{Field: fieldBody, Msg: "cannot encode as JSON", Err: err}
		}
		p.body = encoded
		p.shownBody = v
		contentType = "application/json"
	case BodyForm:
		form, err := connectors.ConfigValues(cfg, fieldBody)
		if err != nil {
			return &connectors.ConfigError{Field: fieldBody, Msg: "form body must be an object of names and values", Err: err}
		}
		encoded := url.Values(form).Encode()
		p.body = []byte(encoded)
		p.shownBody = encoded
		contentType = "application/x-www-form-urlencoded"
	case BodyRaw:
		s, ok := connectors.Stringify(v)
		if !ok {
			return &connectors.ConfigError{Field: fieldBody, Msg: "raw body must be text, got " + connectors.TypeName(v) + "; use body type json"}
		}
		p.body = []byte(s)
		p.shownBody = s
		contentType = "text/plain; charset=utf-8"
	}
	p.hasBody = true
	if p.header.Get("Content-Type") == "" {
		p.header.Set("Content-Type", contentType)
	}
	return nil
}

// setAuth applies the connection's credential as auth says. With auth
// none and a connection given, the connection's values decide: a step
// that names a connection means to use it (a poll request names only the
// connection).
func (p *plan) setAuth(cfg map[string]any, conn map[string]string) error {
	mode, err := connectors.ConfigChoice(cfg, fieldAuth, AuthNone, authModes)
	if err != nil {
		return err
	}
	if mode == AuthNone {
		if len(conn) == 0 {
			return nil
		}
		if mode = inferAuth(conn); mode == "" {
			return &connectors.ConfigError{Field: fieldConnection, Msg: "cannot tell how to send this connection; set auth to bearer, basic or header"}
		}
	}
	if len(conn) == 0 {
		return &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("auth %s needs a connection", mode)}
	}
	switch mode {
	case AuthBearer:
		token := conn[connToken]
		if token == "" {
			token = conn[connValue]
		}
		if token == "" {
			return &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("auth bearer needs a connection of type %s or %s", ConnBearer, connSecret)}
		}
		return p.setSecretHeader("Authorization", "Bearer "+token)
	case AuthBasic:
		user, pass := conn[connUsername], conn[connPassword]
		if user == "" && pass == "" {
			return &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("auth basic needs a connection of type %s", ConnBasic)}
		}
		encoded := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		// A remote may echo the encoded credentials alone, without the
		// scheme: hide that too.
		p.hide(encoded)
		return p.setSecretHeader("Authorization", "Basic "+encoded)
	case AuthHeader:
		name, value := conn[connName], conn[connValue]
		if name == "" {
			return &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("auth header needs a connection of type %s", ConnHeader)}
		}
		if !connectors.ValidHeaderName(name) {
			return &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("connection header name %q is not a valid header name", name)}
		}
		return p.setSecretHeader(name, value)
	}
	return nil
}

func inferAuth(conn map[string]string) string {
	switch {
	case conn[connToken] != "":
		return AuthBearer
	case conn[connUsername] != "":
		return AuthBasic
	case conn[connName] != "":
		return AuthHeader
	case conn[connValue] != "":
		return AuthBearer
	}
	return ""
}

// setSecretHeader sets a credential header; its value never appears in an
// error message or a dry run.
func (p *plan) setSecretHeader(name, value string) error {
	if !connectors.ValidHeaderValue(value) {
		return &connectors.ConfigError{Field: fieldConnection, Msg: "credential holds a line break or control character"}
	}
	name = http.CanonicalHeaderKey(name)
	p.header.Set(name, value)
	p.secretHeaders = append(p.secretHeaders, name)
	p.hide(value)
	return nil
}

// hide tells the engine about a credential value the plan built.
func (p *plan) hide(value string) {
	if p.conceal != nil {
		p.conceal(value)
	}
}

var _ connectors.Connector = (*Request)(nil)
