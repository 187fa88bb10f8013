// Package pipedrive holds the Pipedrive connectors pipedrive.create_person
// and pipedrive.create_deal, and the "pipedrive" connection type (an API
// token).
//
// Shapes relied on, from Pipedrive's API reference and developer docs:
//   - POST /v1/persons ("Add a person") and POST /v1/deals ("Add a deal")
//     with a JSON body; custom fields are top-level keys named by their
//     field key (a 40-character hash).
//   - The API token goes in the x-api-token header ("Authentication"),
//     never in the URL, so it cannot leak through a logged URL.
//   - Paths: https://api.pipedrive.com/v1/... and, on a company domain,
//     https://{company}.pipedrive.com/api/v1/....
//   - Answers are {"success": true, "data": {...}}; errors are
//     {"success": false, "error": "...", "error_info": "..."}.
//   - 429 Too Many Requests when over the rate limit, with Retry-After or
//     x-ratelimit-reset (seconds until the window resets).
package pipedrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// Connector ids.
const (
	IDCreatePerson = "pipedrive.create_person"
	IDCreateDeal   = "pipedrive.create_deal"
)

// ConnType is the connection type these connectors use.
const ConnType = "pipedrive"

// Connection value keys.
const (
	connAPIToken = "api_token"
	connBaseURL  = "base_url"
)

// Config keys.
const (
	fieldConnection = connectors.KeyConnection
	fieldName       = "name"
	fieldEmail      = "email"
	fieldPhone      = "phone"
	fieldOrgID      = "org_id"
	fieldOwnerID    = "owner_id"
	fieldTitle      = "title"
	fieldValue      = "value"
	fieldCurrency   = "currency"
	fieldPersonID   = "person_id"
	fieldStageID    = "stage_id"
	fieldStatus     = "status"
	fieldCloseDate  = "expected_close_date"
	fieldCustom     = "custom_fields"
	fieldTimeout    = "timeout"
)

// Defaults and limits.
const (
	// DefaultBaseURL is Pipedrive's global API host.
	DefaultBaseURL  = "https://api.pipedrive.com"
	DefaultTimeout  = 30 * time.Second
	MaxTimeout      = 5 * time.Minute
	MaxResponseBody = 1 << 20
	// TokenHeader carries the API token.
	TokenHeader = "X-Api-Token"
)

// Redacted replaces the token in dry-run output.
const Redacted = connectors.Redacted

const globalHost = "api.pipedrive.com"

var (
	statuses    = []string{"open", "won", "lost"}
	currencyRE  = regexp.MustCompile(`^[A-Za-z]{3}$`)
	customKeyRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
)

func init() {
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnType,
		Label: "Pipedrive",
		Help:  "A Pipedrive API token. Find it in Pipedrive under your name > Personal preferences > API.",
		Fields: []connectors.Field{
			{Name: connAPIToken, Label: "API token", Type: connectors.TypeSecret, Required: true,
				Help: "Your personal API token. It acts as you in Pipedrive: everything created with it is created by you."},
			{Name: connBaseURL, Label: "Base URL", Type: connectors.TypeString, Advanced: true, Default: DefaultBaseURL,
				Help: "Where Pipedrive's API lives. Your company domain, e.g. https://yourcompany.pipedrive.com, also works and is a little faster."},
		},
	})
	connectors.Register(&CreatePerson{})
	connectors.Register(&CreateDeal{})
}

func connectionField() connectors.Field {
	return connectors.ConnectionField("Connection", "The Pipedrive connection to use.", ConnType)
}

func orgField() connectors.Field {
	return connectors.Field{Name: fieldOrgID, Label: "Organization id", Type: connectors.TypeNumber,
		Help: "The id of an existing organization to link, e.g. {{ steps.find_org.output.id }}."}
}

func customField() connectors.Field {
	return connectors.Field{Name: fieldCustom, Label: "Custom fields", Type: connectors.TypeKeyValue,
		Help: "Values of your own Pipedrive fields, by field key (the long code shown in Pipedrive under Company settings > Data fields > the field's API key)."}
}

func timeoutField() connectors.Field {
	return connectors.Field{Name: fieldTimeout, Label: "Timeout", Type: connectors.TypeDuration, Default: DefaultTimeout.String(), Advanced: true,
		Help: "How long to wait for Pipedrive; at most 5 minutes."}
}

// CreatePerson is the pipedrive.create_person connector.
type CreatePerson struct{}

// Spec describes pipedrive.create_person.
func (*CreatePerson) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       IDCreatePerson,
		Category: "CRM",
		Label:    "Pipedrive: add a person",
		Help: "Adds a person (contact) to Pipedrive. Output: the new person as Pipedrive returns it; its id is output.id. " +
			"Rate limits and Pipedrive outages are retried; other errors fail the step with Pipedrive's message. " +
			"Pipedrive does not deduplicate: a retry after a lost answer may add the person twice.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectionField(),
			{Name: fieldName, Label: "Name", Type: connectors.TypeString, Required: true, Help: "The person's full name."},
			{Name: fieldEmail, Label: "Email", Type: connectors.TypeJSON, Shape: connectors.ShapeList,
				Help: `An email address, or a list of them (the first is the primary one). Pipedrive's own shape [{"value": "...", "primary": true, "label": "work"}] is also accepted.`},
			{Name: fieldPhone, Label: "Phone", Type: connectors.TypeJSON, Shape: connectors.ShapeList,
				Help: "A phone number, or a list of them (the first is the primary one), in the same shapes as email."},
			orgField(),
			{Name: fieldOwnerID, Label: "Owner id", Type: connectors.TypeNumber,
				Help: "The id of the Pipedrive user who owns the person. Empty: the owner of the API token."},
			customField(),
			timeoutField(),
		},
	}
}

// Execute adds the person.
func (*CreatePerson) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	body, err := personBody(in.Config)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IDCreatePerson, err))
	}
	return run(ctx, in, IDCreatePerson, "persons", body)
}

func personBody(cfg map[string]any) (map[string]any, error) {
	body := map[string]any{}
	if err := requiredString(cfg, fieldName, body); err != nil {
		return nil, err
	}
	for _, key := range []string{fieldEmail, fieldPhone} {
		if v, err := contactList(cfg, key); err != nil {
			return nil, err
		} else if v != nil {
			body[key] = v
		}
	}
	if err := setInt(cfg, fieldOrgID, "org_id", body); err != nil {
		return nil, err
	}
	if err := setInt(cfg, fieldOwnerID, "owner_id", body); err != nil {
		return nil, err
	}
	return body, addCustom(cfg, body)
}

// CreateDeal is the pipedrive.create_deal connector.
type CreateDeal struct{}

// Spec describes pipedrive.create_deal.
func (*CreateDeal) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       IDCreateDeal,
		Category: "CRM",
		Label:    "Pipedrive: add a deal",
		Help: "Adds a deal to Pipedrive, linked to a person or an organization. Output: the new deal as Pipedrive returns it; its id is output.id. " +
			"Rate limits and Pipedrive outages are retried; other errors fail the step with Pipedrive's message. " +
			"Pipedrive does not deduplicate: a retry after a lost answer may add the deal twice.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectionField(),
			{Name: fieldTitle, Label: "Title", Type: connectors.TypeString, Required: true, Help: "The deal's title, e.g. Website order {{ trigger.body.order_id }}."},
			{Name: fieldValue, Label: "Value", Type: connectors.TypeNumber, Help: "The deal's value, e.g. 1500. Empty: 0."},
			{Name: fieldCurrency, Label: "Currency", Type: connectors.TypeString,
				Help: "A 3-letter currency code such as EUR or USD. Empty: your default currency."},
			{Name: fieldPersonID, Label: "Person id", Type: connectors.TypeNumber,
				Help: "The id of the person the deal is with, e.g. {{ steps.person.output.id }}. A person or an organization is needed."},
			orgField(),
			{Name: fieldStageID, Label: "Stage id", Type: connectors.TypeNumber,
				Help: "The id of the pipeline stage to put the deal in. Empty: the first stage of the default pipeline."},
			{Name: fieldStatus, Label: "Status", Type: connectors.TypeSelect, Options: statuses,
				Help: "open, won or lost. Empty: open."},
			{Name: fieldCloseDate, Label: "Expected close date", Type: connectors.TypeString,
				Help: "When the deal is expected to close, as YYYY-MM-DD."},
			customField(),
			timeoutField(),
		},
	}
}

// Execute adds the deal.
func (*CreateDeal) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	body, err := dealBody(in.Config)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IDCreateDeal, err))
	}
	return run(ctx, in, IDCreateDeal, "deals", body)
}

func dealBody(cfg map[string]any) (map[string]any, error) {
	body := map[string]any{}
	if err := requiredString(cfg, fieldTitle, body); err != nil {
		return nil, err
	}
	if n, ok, err := connectors.ConfigNumber(cfg, fieldValue); err != nil {
		return nil, err
	} else if ok {
		// Pipedrive's reference types a deal's value as a string.
		body["value"], _ = connectors.Stringify(n)
	}
	cur, err := connectors.ConfigString(cfg, fieldCurrency)
	if err != nil {
		return nil, err
	}
	if cur = strings.TrimSpace(cur); cur != "" {
		if !currencyRE.MatchString(cur) {
			return nil, &connectors.ConfigError{Field: fieldCurrency, Msg: fmt.Sprintf("%q is not a 3-letter currency code", cur)}
		}
		body["currency"] = strings.ToUpper(cur)
	}
	for _, key := range []string{fieldPersonID, fieldOrgID, fieldStageID} {
		if err := setInt(cfg, key, key, body); err != nil {
			return nil, err
		}
	}
	status, err := connectors.ConfigChoice(cfg, fieldStatus, "", statuses)
	if err != nil {
		return nil, err
	}
	if status != "" {
		body["status"] = status
	}
	date, err := connectors.ConfigString(cfg, fieldCloseDate)
	if err != nil {
		return nil, err
	}
	if date = strings.TrimSpace(date); date != "" {
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			return nil, &connectors.ConfigError{Field: fieldCloseDate, Msg: fmt.Sprintf("%q is not a date as YYYY-MM-DD", date)}
		}
		body["expected_close_date"] = date
	}
	return body, addCustom(cfg, body)
}

// requiredString copies a required text field into body.
func requiredString(cfg map[string]any, key string, body map[string]any) error {
	s, err := connectors.ConfigRequired(cfg, key)
	if err != nil {
		return err
	}
	body[key] = s
	return nil
}

// setInt copies an id field as a JSON integer.
func setInt(cfg map[string]any, key, name string, body map[string]any) error {
	n, ok, err := connectors.ConfigNumber(cfg, key)
	if err != nil || !ok {
		return err
	}
	if n != math.Trunc(n) || n < 1 || n > 1<<53 {
		return &connectors.ConfigError{Field: key, Msg: fmt.Sprintf("want a whole number id, got %s", strconv.FormatFloat(n, 'g', -1, 64))}
	}
	body[name] = int64(n)
	return nil
}

// contactList reads an email or phone field: one text value is sent as
// Pipedrive's string form, a list as its list of {value, primary} objects
// (objects given in that shape pass through).
func contactList(cfg map[string]any, key string) (any, error) {
	switch v := cfg[key].(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]any, 0, len(v))
		for i, item := range v {
			switch x := item.(type) {
			case map[string]any:
				if s, _ := connectors.Stringify(x["value"]); strings.TrimSpace(s) == "" {
					return nil, &connectors.ConfigError{Field: fmt.Sprintf("%s[%d]", key, i), Msg: "an object needs a value"}
				}
				out = append(out, x)
			default:
				s, ok := connectors.Stringify(x)
				if !ok {
					return nil, &connectors.ConfigError{Field: fmt.Sprintf("%s[%d]", key, i), Msg: "want text, got " + connectors.TypeName(x)}
				}
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				out = append(out, map[string]any{"value": s, "primary": len(out) == 0})
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	default:
		s, ok := connectors.Stringify(v)
		if !ok {
			return nil, &connectors.ConfigError{Field: key, Msg: "want text or a list, got " + connectors.TypeName(v)}
		}
		if s = strings.TrimSpace(s); s == "" {
			return nil, nil
		}
		return s, nil
	}
}

// addCustom merges custom fields into the body, keeping the JSON type of
// each value (a number stays a number).
func addCustom(cfg map[string]any, body map[string]any) error {
	raw := cfg[fieldCustom]
	values := map[string]any{}
	switch x := raw.(type) {
	case nil:
		return nil
	case map[string]any:
		values = x
	case []any:
		// The key-value list a UI may send: [{"key": ..., "value": ...}].
		if _, err := connectors.ConfigValues(cfg, fieldCustom); err != nil {
			return err
		}
		for _, item := range x {
			pair := item.(map[string]any)
			k, _ := connectors.Stringify(pair["key"])
			if k == "" {
				k, _ = connectors.Stringify(pair["name"])
			}
			values[k] = pair["value"]
		}
	default:
		return &connectors.ConfigError{Field: fieldCustom, Msg: "want an object of field keys and values, got " + connectors.TypeName(raw)}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !customKeyRE.MatchString(k) {
			return &connectors.ConfigError{Field: fieldCustom, Msg: fmt.Sprintf("%q is not a Pipedrive field key", k)}
		}
		if _, dup := body[k]; dup {
			return &connectors.ConfigError{Field: fieldCustom + "." + k, Msg: "already set by its own field"}
		}
		body[k] = values[k]
	}
	return nil
}

// apiRoot returns the URL requests are made below: /v1 on the global API
// host, /api/v1 on a company domain, or the base URL's own path when it
// has one (a proxy, or a company domain given with /api/v1).
func apiRoot(values map[string]string) (*url.URL, error) {
	u, err := connectors.BaseURL(values, connBaseURL, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	u.RawPath = ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.Path == "" {
		if strings.EqualFold(u.Hostname(), globalHost) {
			u.Path = "/v1"
		} else {
			u.Path = "/api/v1"
		}
	}
	return u, nil
}

func run(ctx context.Context, in connectors.Input, id, resource string, body map[string]any) (connectors.Result, error) {
	fail := func(err error) (connectors.Result, error) {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", id, err))
	}
	timeout, err := connectors.ConfigTimeout(in.Config, fieldTimeout, DefaultTimeout, MaxTimeout)
	if err != nil {
		return fail(err)
	}
	if len(in.Connection) == 0 {
		return fail(&connectors.ConfigError{Field: fieldConnection, Msg: "required: name a connection of type " + ConnType})
	}
	token := strings.TrimSpace(in.Connection[connAPIToken])
	if token == "" {
		return fail(&connectors.ConfigError{Field: fieldConnection, Msg: "the connection has no api_token"})
	}
	if !connectors.ValidHeaderValue(token) {
		return fail(&connectors.ConfigError{Field: fieldConnection, Msg: "the api_token holds a line break or control character"})
	}
	root, err := apiRoot(in.Connection)
	if err != nil {
		return fail(err)
	}
	target := root.String() + "/" + resource
	service := fmt.Sprintf("%s: POST %s/%s", id, root.Path, resource)
	payload, err := connectors.EncodeJSON(body)
	if err != nil {
		return fail(fmt.Errorf("encode body: %w", err))
	}
	if in.DryRun {
		return connectors.Result{Output: connectors.DryRunRequest(http.MethodPost, target,
			map[string]any{TokenHeader: Redacted, "Content-Type": "application/json", "Accept": "application/json"}, body)}, nil
	}
	if in.HTTP == nil {
		return fail(errors.New("no HTTP client"))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := send(ctx, in.HTTP, service, target, token, payload)
	if err != nil {
		return connectors.Result{}, connectors.Scrub(err, token)
	}
	return connectors.Result{Output: out}, nil
}

// answer is Pipedrive's response envelope.
type answer struct {
	Success   *bool           `json:"success"`
	Data      json.RawMessage `json:"data"`
	Error     string          `json:"error"`
	ErrorInfo string          `json:"error_info"`
}

func send(ctx context.Context, client *http.Client, service, target, token string, payload []byte) (any, error) {
	header := http.Header{}
	header.Set(TokenHeader, token)
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/json")
	// No Timeout: run set the step's deadline on ctx.
	resp, err := connectors.Do(ctx, client, connectors.Call{
		Service: service, Method: http.MethodPost, URL: target, Header: header, Body: payload,
		MaxBody: MaxResponseBody,
	})
	if err != nil {
		return nil, err
	}
	raw := resp.Body
	var ans answer
	parsed := json.Unmarshal(raw, &ans) == nil
	status := resp.Status
	if status < 200 || status > 299 {
		return nil, statusError(service, status, resp.Header, raw, ans, parsed)
	}
	if !parsed {
		return nil, connectors.Permanentf("%s: %d: unexpected answer: %s", service, status, connectors.Excerpt(raw, connectors.ExcerptLen))
	}
	if ans.Success != nil && !*ans.Success {
		return nil, &connectors.StepError{Status: status, Err: &connectors.HTTPError{Service: service, Status: status, Excerpt: message(ans, raw)}}
	}
	var data any
	if len(ans.Data) > 0 {
		if err := json.Unmarshal(ans.Data, &data); err != nil {
			return nil, connectors.Permanentf("%s: unexpected data: %v", service, err)
		}
	}
	if data == nil {
		return nil, connectors.Permanentf("%s: %d: the answer holds no data", service, status)
	}
	return data, nil
}

func message(ans answer, raw []byte) string {
	if ans.Error == "" {
		return connectors.Excerpt(raw, connectors.ExcerptLen)
	}
	msg := ans.Error
	if ans.ErrorInfo != "" {
		msg += " (" + ans.ErrorInfo + ")"
	}
	return connectors.Excerpt([]byte(msg), connectors.ExcerptLen)
}

// statusError maps a non-2xx answer: 429 and 5xx are retryable after
// Retry-After, or x-ratelimit-reset for a 429 without it; the rest is
// permanent and carries Pipedrive's error text.
func statusError(service string, status int, header http.Header, raw []byte, ans answer, parsed bool) error {
	excerpt := connectors.Excerpt(raw, connectors.ExcerptLen)
	if parsed {
		excerpt = message(ans, raw)
	}
	herr := &connectors.HTTPError{Service: service, Status: status, Excerpt: excerpt}
	if status == http.StatusTooManyRequests || status >= 500 && status <= 599 {
		after := connectors.ParseRetryAfter(header.Get("Retry-After"), time.Now())
		if after == 0 && status == http.StatusTooManyRequests {
			after = connectors.ParseRetryAfter(header.Get("X-Ratelimit-Reset"), time.Now())
		}
		return &connectors.StepError{Retryable: true, RetryAfter: after, Status: status, Err: herr}
	}
	if status == http.StatusUnauthorized {
		return &connectors.StepError{Status: status, Err: fmt.Errorf("%w (check the connection's API token)", herr)}
	}
	return &connectors.StepError{Status: status, Err: herr}
}

var (
	_ connectors.Connector = (*CreatePerson)(nil)
	_ connectors.Connector = (*CreateDeal)(nil)
)
