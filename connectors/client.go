package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors/egress"
)

// What service connectors (Slack, HubSpot, Salesforce, Pipedrive,
// http.request) share when they call an HTTP API: the JSON they send, one
// request with a deadline and a capped answer, the connection's API URL,
// dry-run descriptions and keeping credentials out of messages. The
// service's own request shapes and error mapping stay in its package.

// Redacted replaces credentials in dry-run output and error messages.
const Redacted = "[redacted]"

// EncodeJSON encodes v as JSON without HTML escaping, so text such as
// Slack's <@U123> mentions or a URL's & arrives as written, and without
// the trailing newline json.Encoder adds.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UserAgent is the User-Agent of every request a connector sends that does
// not name its own.
const UserAgent = "Switchyard"

// Call is one HTTP request sent with Do.
type Call struct {
	// Service names the call in error messages, e.g.
	// "slack.post_message: chat.postMessage". It must hold no secret.
	Service string
	Method  string
	URL     string
	// Header is sent as given (a copy of it), with User-Agent set to
	// UserAgent unless it names one.
	Header http.Header
	// Host, when set, is sent as the Host header instead of the URL's host.
	Host string
	// Body is the request body; nil sends none.
	Body []byte
	// Timeout bounds the request, response body included. Zero leaves the
	// deadline to the caller's context: a deadline the connector set for
	// the whole step (token fetch and retries included).
	Timeout time.Duration
	// MaxBody is the largest response body read; a longer one fails the
	// step (permanently: see ReadBody).
	MaxBody int64
}

// Answer is an HTTP response read in full.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends c with client and reads the whole answer, whatever its status:
// mapping a non-2xx status is the caller's, since every service says
// different things in its error bodies. Its errors are step errors named
// c.Service: a request that cannot be built is permanent; transport
// errors go through FromTransportError, except that running out of time
// is retryable and says so ("no complete response within 30s" for
// c.Timeout, "no answer in time" for the caller's deadline).
func Do(ctx context.Context, client *http.Client, c Call) (*Answer, error) {
	if client == nil {
		return nil, Permanentf("%s: no HTTP client", c.Service)
	}
	reqCtx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	var body io.Reader
	if c.Body != nil {
		body = bytes.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(reqCtx, c.Method, c.URL, body)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error quotes the URL, which may hold a secret
		}
		return nil, Permanentf("%s: build request: %w", c.Service, err)
	}
	if c.Header != nil {
		req.Header = c.Header.Clone()
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, reqCtx, err)
	}
	defer resp.Body.Close()
	raw, err := ReadBody(resp.Body, c.MaxBody)
	if err != nil {
		return nil, c.transportError(ctx, reqCtx, err)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

func (c *Call) transportError(parent, ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		switch {
		case c.Timeout == 0:
			return Retryable(fmt.Errorf("%s: no answer in time: %w", c.Service, context.DeadlineExceeded), 0)
		case parent.Err() == nil:
			// Our own deadline, not the engine's.
			return Retryable(fmt.Errorf("%s: no complete response within %s: %w", c.Service, c.Timeout, context.DeadlineExceeded), 0)
		}
	}
	return FromTransportError(err, c.Service)
}

// urlError is a ParseHTTPURL error: a message that never quotes the URL,
// and the cause, if any, for errors.Is.
type urlError struct {
	msg string
	err error
}

func (e *urlError) Error() string { return e.msg }
func (e *urlError) Unwrap() error { return e.err }

// ParseHTTPURL parses an absolute http or https URL with a host and no
// user name or password, whose host egress.CheckHost accepts. Its errors
// never quote the URL, which may be a secret (an incoming-webhook URL is
// its own credential); they read as the rest of a sentence about it:
// "is not a valid URL", "must be an http:// or https:// URL", "has no
// host", "must not hold a user name or password", "host is a
// non-canonical numeric address" (which matches egress.ErrRefused).
func ParseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &urlError{msg: "is not a valid URL"}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, &urlError{msg: "must be an http:// or https:// URL"}
	}
	if u.Hostname() == "" {
		return nil, &urlError{msg: "has no host"}
	}
	if u.User != nil {
		return nil, &urlError{msg: "must not hold a user name or password"}
	}
	if err := egress.CheckHost(u.Hostname()); err != nil {
		return nil, &urlError{msg: "host is a non-canonical numeric address", err: err}
	}
	return u, nil
}

// BaseURL returns the URL a connection stores under key (such as
// "base_url" or "instance_url"), or def when it holds none. The URL must
// pass ParseHTTPURL and have no query or fragment. Errors are
// *ConfigErrors on the step's connection field, e.g.
// `field "connection": connection base_url must be an http:// or https:// URL`.
func BaseURL(conn map[string]string, key, def string) (*url.URL, error) {
	raw := strings.TrimSpace(conn[key])
	if raw == "" {
		raw = def
	}
	if raw == "" {
		return nil, &ConfigError{Field: KeyConnection, Msg: "the connection has no " + key}
	}
	u, err := ParseHTTPURL(raw)
	if err != nil {
		return nil, &ConfigError{Field: KeyConnection, Msg: "connection " + key + " " + err.Error(), Err: errors.Unwrap(err)}
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, &ConfigError{Field: KeyConnection, Msg: "connection " + key + " must not have a query or fragment"}
	}
	return u, nil
}

// Scrub returns err with every non-empty secret in its message replaced
// by Redacted. When a secret shows, the result keeps only err's retry
// classification (Retryable, RetryAfter, Status), not its chain, so that
// no wrapped error can print the secret either. A nil err gives nil.
func Scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, Redacted)
		}
	}
	if clean == msg {
		return err
	}
	out := &StepError{Retryable: true, Err: errors.New(clean)}
	var se *StepError
	if errors.As(err, &se) {
		out.Retryable, out.RetryAfter, out.Status = se.Retryable, se.RetryAfter, se.Status
	}
	return out
}

// DryRunRequest is a dry run's output for a step that would have sent one
// HTTP request: {"dry_run": true, "request": {"method", "url", "headers",
// "body"}}, body left out when nil. headers should show credentials as
// Redacted.
func DryRunRequest(method, url string, headers map[string]any, body any) map[string]any {
	req := map[string]any{
		"method":  method,
		"url":     url,
		"headers": headers,
	}
	if body != nil {
		req["body"] = body
	}
	return map[string]any{"dry_run": true, "request": req}
}
