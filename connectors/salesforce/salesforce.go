// Package salesforce holds the Salesforce connectors: salesforce.upsert
// (an sObject upserted by external id) and salesforce.create, both over
// the REST API, and the "salesforce" connection type (an instance URL with
// an OAuth access token or the client-credentials flow).
//
// Shapes relied on, from Salesforce's REST API reference:
//   - upsert: PATCH /services/data/vXX.X/sobjects/{object}/{field}/{value}
//     answers 201 Created with {"id", "success", "errors", "created": true}
//     for an insert and 200 OK with created false for an update; older API
//     versions answer an update with 204 No Content; 300 when the external
//     id matches several records.
//   - create: POST /services/data/vXX.X/sobjects/{object}/ answers 201 with
//     {"id", "success", "errors"}.
//   - errors: a JSON array of {"message", "errorCode", "fields"}; 401 with
//     INVALID_SESSION_ID for an expired or invalid token, 403 with
//     REQUEST_LIMIT_EXCEEDED when the org is over its API limits.
//   - client credentials: POST {instance}/services/oauth2/token with the form
//     grant_type=client_credentials&client_id=..&client_secret=.. answers
//     {"access_token", "instance_url", "token_type": "Bearer", ...}; errors
//     are {"error", "error_description"}.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// Connector ids.
const (
	IDUpsert = "salesforce.upsert"
	IDCreate = "salesforce.create"
)

// ConnType is the connection type these connectors use.
const ConnType = "salesforce"

// Connection value keys.
const (
	connInstanceURL  = "instance_url"
	connAccessToken  = "access_token"
	connClientID     = "client_id"
	connClientSecret = "client_secret"
	connTokenURL     = "token_url"
	connAPIVersion   = "api_version"
)

// Config keys.
const (
	fieldConnection      = connectors.KeyConnection
	fieldObject          = "object"
	fieldExternalIDField = "external_id_field"
	fieldExternalID      = "external_id"
	fieldRecord          = "record"
	fieldTimeout         = "timeout"
)

// Defaults and limits.
const (
	// DefaultAPIVersion is the REST API version used unless the connection
	// names another.
	DefaultAPIVersion = "v62.0"
	// TokenPath is where the OAuth token endpoint lives on an instance.
	TokenPath      = "/services/oauth2/token"
	DefaultTimeout = 30 * time.Second
	MaxTimeout     = 5 * time.Minute
	// MaxResponseBody is the largest response body read.
	MaxResponseBody = 1 << 20
)

// Redacted replaces credentials in dry-run output.
const Redacted = connectors.Redacted

// Salesforce error codes the connectors treat specially.
const (
	codeInvalidSession = "INVALID_SESSION_ID"
	codeRequestLimit   = "REQUEST_LIMIT_EXCEEDED"
)

var (
	// sObject and field API names: letters, digits and underscores, such
	// as Contact, Custom__c or ns__Field__c.
	apiNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)
	apiVersionRE = regexp.MustCompile(`^v?([0-9]{1,3}\.[0-9])$`)
)

// tokens caches access tokens fetched with the client-credentials flow,
// shared by both connectors.
var tokens = newTokenCache()

func init() {
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnType,
		Label: "Salesforce",
		Help: "Your Salesforce org's address and a way to sign in: either an access token, or the consumer key and secret of a " +
			"connected app (or external client app) with the client-credentials flow enabled and a run-as user assigned.",
		Fields: []connectors.Field{
			{Name: connInstanceURL, Label: "Instance URL", Type: connectors.TypeString, Required: true,
				Help: "Your org's My Domain address, e.g. https://yourorg.my.salesforce.com (a sandbox: https://yourorg--sandbox.sandbox.my.salesforce.com)."},
			{Name: connAccessToken, Label: "Access token", Type: connectors.TypeSecret,
				Help: "An OAuth access token (session id). Leave empty when you use a client id and secret; when those are set they are used instead."},
			{Name: connClientID, Label: "Client id (consumer key)", Type: connectors.TypeString,
				Help: "The consumer key of a connected app with the client-credentials flow enabled."},
			{Name: connClientSecret, Label: "Client secret (consumer secret)", Type: connectors.TypeSecret,
				Help: "The consumer secret of that app."},
			{Name: connTokenURL, Label: "Token URL", Type: connectors.TypeString, Advanced: true,
				Help: "Where to fetch access tokens. Default: the instance URL followed by " + TokenPath + "."},
			{Name: connAPIVersion, Label: "API version", Type: connectors.TypeString, Advanced: true, Default: DefaultAPIVersion,
				Help: "The REST API version, e.g. v62.0."},
		},
	})
	connectors.Register(&Upsert{})
	connectors.Register(&Create{})
}

func connectionField() connectors.Field {
	return connectors.ConnectionField("Connection", "The Salesforce connection to use.", ConnType)
}

func objectField() connectors.Field {
	return connectors.Field{Name: fieldObject, Label: "Object", Type: connectors.TypeString, Required: true,
		Help: "The API name of the object (sObject), e.g. Contact, Account, Opportunity or a custom object such as Invoice__c."}
}

func recordField() connectors.Field {
	return connectors.Field{Name: fieldRecord, Label: "Record", Type: connectors.TypeJSON, Shape: connectors.ShapeObject, Required: true,
		Help: `The field values to write, by API name, e.g. {"LastName": "Smith", "Email": "{{ trigger.body.email }}"}.`}
}

func timeoutField() connectors.Field {
	return connectors.Field{Name: fieldTimeout, Label: "Timeout", Type: connectors.TypeDuration, Default: DefaultTimeout.String(), Advanced: true,
		Help: "How long to wait for Salesforce (token fetch included); at most 5 minutes."}
}

// Upsert is the salesforce.upsert connector.
type Upsert struct{}

// Spec describes salesforce.upsert.
func (*Upsert) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       IDUpsert,
		Category: "CRM",
		Label:    "Salesforce: create or update a record",
		Help: "Creates a record, or updates the one whose external id field holds the given value (an upsert). " +
			"Output: id, created (true when a new record was made) and success. Rate limits and Salesforce outages are retried; " +
			"other errors fail the step with Salesforce's error code and message.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectionField(),
			objectField(),
			{Name: fieldExternalIDField, Label: "External id field", Type: connectors.TypeString, Required: true,
				Help: "The API name of a field marked as External ID (or Id) that identifies the record, e.g. Email__c or Order_Number__c."},
			{Name: fieldExternalID, Label: "External id value", Type: connectors.TypeString, Required: true,
				Help: "The value to look the record up by, e.g. {{ trigger.body.order_id }}."},
			recordField(),
			timeoutField(),
		},
	}
}

// Execute upserts the record.
func (*Upsert) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	cfg := in.Config
	object, err := apiName(cfg, fieldObject)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IDUpsert, err))
	}
	extField, err := apiName(cfg, fieldExternalIDField)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IDUpsert, err))
	}
	extID, err := connectors.ConfigString(cfg, fieldExternalID)
	if err == nil && strings.TrimSpace(extID) == "" {
		err = &connectors.ConfigError{Field: fieldExternalID, Msg: "required"}
	}
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IDUpsert, err))
	}
	// PathEscape turns "/", "?" and "#" into %2F, %3F and %23, so the
	// value stays one path segment whatever it holds.
	path := "/sobjects/" + object + "/" + extField + "/" + url.PathEscape(extID)
	return run(ctx, in, IDUpsert, http.MethodPatch, path)
}

// Create is the salesforce.create connector.
type Create struct{}

// Spec describes salesforce.create.
func (*Create) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       IDCreate,
		Category: "CRM",
		Label:    "Salesforce: create a record",
		Help: "Creates a new record of the given object. Output: id, created and success. Rate limits and Salesforce outages are retried; " +
			"other errors fail the step with Salesforce's error code and message. Retries may create a duplicate if Salesforce " +
			"created the record but its answer was lost; use salesforce.upsert with an external id where that matters.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectionField(),
			objectField(),
			recordField(),
			timeoutField(),
		},
	}
}

// Execute creates the record.
func (*Create) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	object, err := apiName(in.Config, fieldObject)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IDCreate, err))
	}
	return run(ctx, in, IDCreate, http.MethodPost, "/sobjects/"+object+"/")
}

func apiName(cfg map[string]any, key string) (string, error) {
	s, err := connectors.ConfigRequired(cfg, key)
	if err != nil {
		return "", err
	}
	if !apiNameRE.MatchString(s) {
		return "", &connectors.ConfigError{Field: key, Msg: fmt.Sprintf("%q is not a Salesforce API name (letters, digits and _)", s)}
	}
	return s, nil
}

// conn is a parsed salesforce connection.
type conn struct {
	instance     *url.URL
	version      string
	accessToken  string
	clientID     string
	clientSecret string
	tokenURL     *url.URL
}

// clientCredentials reports whether the connection fetches its own tokens.
func (c *conn) clientCredentials() bool { return c.clientID != "" && c.clientSecret != "" }

// secrets lists the values that must never appear in an error or output.
func (c *conn) secrets() []string { return []string{c.accessToken, c.clientSecret} }

func parseConn(values map[string]string) (*conn, error) {
	if len(values) == 0 {
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "required: name a connection of type " + ConnType}
	}
	c := &conn{
		accessToken:  strings.TrimSpace(values[connAccessToken]),
		clientID:     strings.TrimSpace(values[connClientID]),
		clientSecret: strings.TrimSpace(values[connClientSecret]),
	}
	var err error
	if c.instance, err = baseURL(values, connInstanceURL); err != nil {
		return nil, err
	}
	c.version = DefaultAPIVersion
	if v := strings.TrimSpace(values[connAPIVersion]); v != "" {
		m := apiVersionRE.FindStringSubmatch(v)
		if m == nil {
			return nil, &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("connection %s %q is not a version such as %s", connAPIVersion, v, DefaultAPIVersion)}
		}
		c.version = "v" + m[1]
	}
	switch {
	case c.clientCredentials():
		if strings.TrimSpace(values[connTokenURL]) == "" {
			u := *c.instance
			u.Path = strings.TrimSuffix(u.Path, "/") + TokenPath
			c.tokenURL = &u
		} else if c.tokenURL, err = baseURL(values, connTokenURL); err != nil {
			return nil, err
		}
	case c.clientID != "" || c.clientSecret != "":
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "the connection needs both a client id and a client secret for the client-credentials flow"}
	case c.accessToken == "":
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "the connection needs an access token, or a client id and secret"}
	}
	if !connectors.ValidHeaderValue(c.accessToken) {
		return nil, &connectors.ConfigError{Field: fieldConnection, Msg: "the access token holds a line break or control character"}
	}
	return c, nil
}

// baseURL parses a URL stored in the connection under key, without a
// trailing slash, ready to have paths appended.
func baseURL(values map[string]string, key string) (*url.URL, error) {
	u, err := connectors.BaseURL(values, key, "")
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// call is one API request: a method and a path below
// /services/data/{version}, with the record as JSON body.
type call struct {
	id     string
	method string
	// path is the request path after the instance URL, escaped.
	path string
	body []byte
	conn *conn
}

func (c *call) url() string {
	return c.conn.instance.String() + c.path
}

// service names the call in error messages: the connector id, method and
// path, no host (which the connection holds) and no credentials.
func (c *call) service() string {
	return fmt.Sprintf("%s: %s %s", c.id, c.method, c.path)
}

func run(ctx context.Context, in connectors.Input, id, method, relPath string) (connectors.Result, error) {
	fail := func(err error) (connectors.Result, error) {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", id, err))
	}
	record, ok := in.Config[fieldRecord].(map[string]any)
	if !ok {
		if v, present := in.Config[fieldRecord]; !present || v == nil {
			return fail(&connectors.ConfigError{Field: fieldRecord, Msg: "required"})
		}
		return fail(&connectors.ConfigError{Field: fieldRecord, Msg: "want an object of field names and values, got " + connectors.TypeName(in.Config[fieldRecord])})
	}
	body, err := connectors.EncodeJSON(record)
	if err != nil {
		return fail(&connectors.ConfigError{Field: fieldRecord, Msg: "cannot encode as JSON", Err: err})
	}
	timeout, err := connectors.ConfigTimeout(in.Config, fieldTimeout, DefaultTimeout, MaxTimeout)
	if err != nil {
		return fail(err)
	}
	cn, err := parseConn(in.Connection)
	if err != nil {
		return fail(err)
	}
	c := &call{id: id, method: method, path: "/services/data/" + cn.version + relPath, body: body, conn: cn}
	if in.DryRun {
		return connectors.Result{Output: connectors.DryRunRequest(method, c.url(), map[string]any{
			"Authorization": Redacted,
			"Content-Type":  "application/json",
			"Accept":        "application/json",
		}, record)}, nil
	}
	if in.HTTP == nil {
		return fail(errors.New("no HTTP client"))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := c.do(ctx, in.HTTP)
	if err != nil {
		return connectors.Result{}, connectors.Scrub(err, cn.secrets()...)
	}
	return connectors.Result{Output: out}, nil
}

// do sends the call with a token, and on INVALID_SESSION_ID fetches a fresh
// token and tries once more when the connection can fetch its own.
func (c *call) do(ctx context.Context, client *http.Client) (map[string]any, error) {
	var used []string
	out, err := c.attempt(ctx, client, &used)
	if err != nil {
		return nil, connectors.Scrub(err, used...)
	}
	return out, nil
}

// attempt is do without the scrubbing; it appends each token it sends to
// used.
func (c *call) attempt(ctx context.Context, client *http.Client, used *[]string) (map[string]any, error) {
	token, err := c.token(ctx, client, "")
	if err != nil {
		return nil, err
	}
	*used = append(*used, token)
	status, header, raw, err := c.send(ctx, client, token)
	if err != nil {
		return nil, err
	}
	if status == http.StatusUnauthorized && hasCode(raw, codeInvalidSession) && c.conn.clientCredentials() {
		if token, err = c.token(ctx, client, token); err != nil {
			return nil, err
		}
		*used = append(*used, token)
		if status, header, raw, err = c.send(ctx, client, token); err != nil {
			return nil, err
		}
	}
	if err := c.statusError(status, header, raw); err != nil {
		return nil, err
	}
	return c.output(status, raw)
}

// token returns the access token to use; stale, when set, is a token the
// API refused, to be replaced.
func (c *call) token(ctx context.Context, client *http.Client, stale string) (string, error) {
	if !c.conn.clientCredentials() {
		return c.conn.accessToken, nil
	}
	return tokens.get(ctx, client, c.conn, stale)
}

func (c *call) send(ctx context.Context, client *http.Client, token string) (int, http.Header, []byte, error) {
	header := http.Header{}
	header.Set("Authorization", "Bearer "+token)
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/json")
	// No Timeout: run's deadline covers the token fetch and a retry too.
	resp, err := connectors.Do(ctx, client, connectors.Call{
		Service: c.service(), Method: c.method, URL: c.url(), Header: header, Body: c.body,
		MaxBody: MaxResponseBody,
	})
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.Status, resp.Header, resp.Body, nil
}

// apiError is one entry of Salesforce's error array.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// parseErrors reads Salesforce's error array; it also accepts a single
// error object.
func parseErrors(raw []byte) []apiError {
	var list []apiError
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one apiError
	if json.Unmarshal(raw, &one) == nil && (one.ErrorCode != "" || one.Message != "") {
		return []apiError{one}
	}
	return nil
}

func hasCode(raw []byte, code string) bool {
	for _, e := range parseErrors(raw) {
		if e.ErrorCode == code {
			return true
		}
	}
	return false
}

// summary turns Salesforce's errors into one line, e.g.
// `REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName)`.
func summary(raw []byte) string {
	errs := parseErrors(raw)
	if len(errs) == 0 {
		return connectors.Excerpt(raw, connectors.ExcerptLen)
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		s := e.ErrorCode
		if e.Message != "" {
			if s != "" {
				s += ": "
			}
			s += e.Message
		}
		if len(e.Fields) > 0 {
			s += " (fields: " + strings.Join(e.Fields, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return connectors.Excerpt([]byte(strings.Join(parts, "; ")), 2*connectors.ExcerptLen)
}

// statusError maps a non-2xx answer: 429, 5xx and REQUEST_LIMIT_EXCEEDED
// are retryable (honouring Retry-After); everything else is permanent.
func (c *call) statusError(status int, header http.Header, raw []byte) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	herr := &connectors.HTTPError{Service: c.service(), Status: status, Excerpt: summary(raw)}
	switch {
	case status == http.StatusTooManyRequests || status >= 500 && status <= 599,
		status == http.StatusForbidden && hasCode(raw, codeRequestLimit):
		return &connectors.StepError{Retryable: true, Status: status, Err: herr,
			RetryAfter: connectors.ParseRetryAfter(header.Get("Retry-After"), time.Now())}
	case status == http.StatusUnauthorized && hasCode(raw, codeInvalidSession):
		hint := "the access token expired or is invalid; update the connection's access token or give it a client id and secret"
		if c.conn.clientCredentials() {
			hint = "Salesforce refused a freshly fetched access token; check the connected app's client-credentials settings and run-as user"
		}
		return &connectors.StepError{Status: status, Err: fmt.Errorf("%w (%s)", herr, hint)}
	case status == http.StatusMultipleChoices:
		herr.Excerpt = "the external id matches more than one record"
		return &connectors.StepError{Status: status, Err: herr}
	}
	return &connectors.StepError{Status: status, Err: herr}
}

// result is Salesforce's answer to a create or an upsert.
type result struct {
	ID      string     `json:"id"`
	Success *bool      `json:"success"`
	Created *bool      `json:"created"`
	Errors  []apiError `json:"errors"`
}

func (c *call) output(status int, raw []byte) (map[string]any, error) {
	if status == http.StatusNoContent || len(bytes.TrimSpace(raw)) == 0 {
		// An update under API versions before 46.0: no body, no id.
		return map[string]any{"id": nil, "created": false, "success": true}, nil
	}
	var res result
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, connectors.Permanent(fmt.Errorf("%s: %d: unexpected answer: %s", c.service(), status, connectors.Excerpt(raw, connectors.ExcerptLen)))
	}
	if res.Success != nil && !*res.Success {
		return nil, &connectors.StepError{Status: status, Err: &connectors.HTTPError{Service: c.service(), Status: status, Excerpt: summary(mustJSON(res.Errors))}}
	}
	created := status == http.StatusCreated
	if res.Created != nil {
		created = *res.Created
	}
	return map[string]any{"id": res.ID, "created": created, "success": true}, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

var (
	_ connectors.Connector = (*Upsert)(nil)
	_ connectors.Connector = (*Create)(nil)
)
