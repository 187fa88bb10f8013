// Package flows is the flow language: the Flow, Trigger and Step types, strict
// JSON decoding, validation with field paths, `{{ }}` templates and
// expr-lang expressions compiled once at save time, and the environment
// expressions see at run time.
package flows

import (
	"encoding/json"
	"fmt"
	"time"
)

// Trigger types.
const (
	TriggerWebhook  = "webhook"
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
	TriggerPoll     = "poll"
	// TriggerCall flows are started only by other flows' flow.call steps
	// (and Run now): they listen on no webhook.
	TriggerCall = "call"
)

// Webhook respond modes.
const (
	RespondAsync = "async"
	RespondSync  = "sync"
)

// Step error policies.
const (
	OnErrorFail     = "fail"
	OnErrorContinue = "continue"
)

// Defaults applied when a flow leaves a setting out.
const (
	DefaultMaxBody      = 1 << 20
	DefaultSyncTimeout  = 30 * time.Second
	DefaultDedupeWindow = 72 * time.Hour
	DefaultCatchUpLimit = 10
	DefaultFloodLimit   = 100
	DefaultSeenLimit    = 10000
)

// Misfire policies of schedule triggers.
const (
	MisfireSkip    = "skip"
	MisfireCatchUp = "catch_up"
)

// Flow is one user-defined automation: a trigger and the steps it runs.
type Flow struct {
	// Schema is where an editor finds the flow schema ("$schema"); it is
	// kept as written and means nothing to the engine.
	Schema      string  `json:"$schema,omitempty"`
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Enabled     bool    `json:"enabled"`
	Trigger     Trigger `json:"trigger"`
	Steps       []Step  `json:"steps"`
	// Concurrency caps how many of the flow's runs are in progress at
	// once (0: no cap beyond the engine's workers); the others wait, in
	// order of arrival, durably queued.
	Concurrency int `json:"concurrency,omitempty"`
	// OnFailure names the flow started when a run of this one fails for
	// good (calls.go).
	OnFailure *FailureHandler `json:"on_failure,omitempty"`
	// Notify names the endpoint this flow's run outcomes are POSTed to.
	Notify *Notify `json:"notify,omitempty"`
}

// Trigger says what starts a run. Which fields apply depends on Type.
type Trigger struct {
	Type string `json:"type"`

	// Webhook: the path under /hooks/, the accepted methods (default any),
	// signature verification, the dedupe expression and its window, the
	// respond mode with its timeout, and the body limit in bytes.
	Path         string   `json:"path,omitempty"`
	Methods      []string `json:"methods,omitempty"`
	Verify       *Verify  `json:"verify,omitempty"`
	Dedupe       string   `json:"dedupe,omitempty"`
	DedupeWindow Duration `json:"dedupe_window,omitempty"`
	Respond      string   `json:"respond,omitempty"`
	Timeout      Duration `json:"timeout,omitempty"`
	MaxBody      int64    `json:"max_body,omitempty"`
	// RateLimit caps how many deliveries the webhook takes; beyond it
	// callers get 429 with Retry-After and nothing is stored.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`

	// Schedule and poll: when to fire.
	Cron     string `json:"cron,omitempty"`
	Timezone string `json:"timezone,omitempty"`

	// Poll: the request, the expression giving the list of items, and the
	// expression giving each item's key.
	Request *PollRequest `json:"request,omitempty"`
	Items   string       `json:"items,omitempty"`
	Key     string       `json:"key,omitempty"`

	// Schedule: what to do with ticks missed while Switchyard was down:
	// "skip" (default) or "catch_up" (fire them, at most CatchUpLimit,
	// default 10).
	Misfire      string `json:"misfire,omitempty"`
	CatchUpLimit int    `json:"catch_up_limit,omitempty"`

	// Poll: Cursor is an expression (seeing `response` and the previous
	// `cursor`) whose value is saved after each poll; the request's url and
	// headers may use it as {{ cursor }}. Backfill is how many of the
	// newest items the first poll runs (default 0: it only records what is
	// there). FloodLimit pauses the flow when one poll finds more new
	// items (default 100); SeenLimit bounds the remembered keys (default
	// 10,000).
	Cursor     string `json:"cursor,omitempty"`
	Backfill   int    `json:"backfill,omitempty"`
	FloodLimit int    `json:"flood_limit,omitempty"`
	SeenLimit  int    `json:"seen_limit,omitempty"`
}

// Verify schemes: how a webhook trigger authenticates its requests. Each
// provider scheme follows that provider's documentation (see web/verify).
const (
	VerifyStandardWebhooks = "standard-webhooks"
	VerifyGitHub           = "github"
	VerifyStripe           = "stripe"
	VerifySlack            = "slack"
	VerifyShopify          = "shopify"
	VerifyTwilio           = "twilio"
	VerifyHubSpot          = "hubspot"
	VerifyHMAC             = "hmac"
	VerifyToken            = "token"
	VerifyBasic            = "basic"
	// VerifyNone checks no signature and needs no secret; an IP allow-list
	// may still apply.
	VerifyNone = "none"
)

// VerifySchemes lists the verify schemes in the order messages name them.
var VerifySchemes = []string{
	VerifyStandardWebhooks, VerifyGitHub, VerifyStripe, VerifySlack, VerifyShopify,
	VerifyTwilio, VerifyHubSpot, VerifyHMAC, VerifyToken, VerifyBasic, VerifyNone,
}

// Options of the generic hmac scheme.
const (
	VerifySHA1   = "sha1"
	VerifySHA256 = "sha256"
	VerifySHA512 = "sha512"

	VerifyHex    = "hex"
	VerifyBase64 = "base64"

	// VerifyDefaultSigned is the signed string of the hmac scheme when
	// Signed is left out: the raw body alone.
	VerifyDefaultSigned = "{body}"
)

// VerifyPlaceholders are the names a Verify.Signed template may use, each
// written in braces: {body}, {timestamp}, {id}, {method}, {url}.
var VerifyPlaceholders = []string{"body", "timestamp", "id", "method", "url"}

// DefaultVerifyTolerance is how far a signed timestamp may lie in the past
// or the future when Tolerance is left out (the five minutes Stripe, Slack,
// HubSpot and Standard Webhooks recommend).
const DefaultVerifyTolerance = 5 * time.Minute

// Verify configures how a webhook trigger authenticates requests: a scheme,
// the stored connections (of type `secret`) holding the signing secret, the
// scheme's options, and an optional IP allow-list.
type Verify struct {
	// Scheme is one of VerifySchemes.
	Scheme string `json:"scheme"`
	// Secret names the connection of type `secret` whose value signs the
	// requests (for basic: "user:password"). Required unless Scheme is none.
	Secret string `json:"secret,omitempty"`
	// Secrets names further such connections, for rotation: a request
	// signed with any of them passes.
	Secrets []string `json:"secrets,omitempty"`
	// Tolerance bounds the age of a signed timestamp in both directions
	// (default DefaultVerifyTolerance), for the schemes that sign one.
	Tolerance Duration `json:"tolerance,omitempty"`

	// Header is the header carrying the signature (hmac) or the token
	// (token).
	Header string `json:"header,omitempty"`
	// Query is the query parameter carrying the token (token).
	Query string `json:"query,omitempty"`
	// Prefix precedes the signature or token in the header, such as
	// "sha256=" or "Bearer " (hmac, token).
	Prefix string `json:"prefix,omitempty"`
	// Algorithm is the HMAC hash: sha1, sha256 (default) or sha512 (hmac).
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding is how the signature is written: hex (default) or base64
	// (hmac).
	Encoding string `json:"encoding,omitempty"`
	// Signed is the signed string, a template over VerifyPlaceholders
	// such as "{timestamp}.{body}" (hmac; default "{body}").
	Signed string `json:"signed,omitempty"`
	// TimestampHeader is the header holding the signed Unix time in
	// seconds, checked against Tolerance (hmac).
	TimestampHeader string `json:"timestamp_header,omitempty"`
	// IDHeader is the header holding the delivery id for {id} (hmac).
	IDHeader string `json:"id_header,omitempty"`

	// AllowIPs, when set, admits only requests from these addresses or
	// CIDR ranges; others are refused with 403 before any signature check.
	AllowIPs []string `json:"allow_ips,omitempty"`
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For is believed; only then is the header used.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
}

// EffectiveTolerance returns Tolerance or, when unset, the default.
func (v *Verify) EffectiveTolerance() time.Duration {
	if v.Tolerance > 0 {
		return v.Tolerance.Std()
	}
	return DefaultVerifyTolerance
}

// UnmarshalJSON decodes a Verify, treating empty lists like absent ones so
// that a decoded Verify equals the one decoded again after Encode (which
// leaves empty lists out).
func (v *Verify) UnmarshalJSON(b []byte) error {
	type plain Verify
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	for _, l := range []*[]string{&p.Secrets, &p.AllowIPs, &p.TrustedProxies} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	*v = Verify(p)
	return nil
}

// RateLimit allows Requests deliveries per Per (a token bucket: bursts up
// to Requests, refilled evenly).
type RateLimit struct {
	Requests int      `json:"requests"`
	Per      Duration `json:"per"`
}

// Check reports what is wrong with a rate limit found at path (a webhook
// trigger's rate_limit, a connection's rate): the same bounds serve both.
func (r RateLimit) Check(path string) []FieldError {
	var out []FieldError
	if r.Requests < 1 || r.Requests > 1_000_000 {
		out = append(out, FieldError{Field: path + ".requests", Message: fmt.Sprintf("must be between 1 and 1000000, got %d", r.Requests)})
	}
	if r.Per.Std() < time.Second || r.Per.Std() > 24*time.Hour {
		out = append(out, FieldError{Field: path + ".per", Message: fmt.Sprintf("must be between 1s and 24h, got %s", r.Per.Std())})
	}
	return out
}

// DedupePresets give the dedupe expression used when a webhook verifies a
// provider's signature and sets no dedupe of its own: each provider's own
// delivery id, so a redelivered or replayed request never runs twice.
var DedupePresets = map[string]string{
	VerifyGitHub:           "trigger.headers['x-github-delivery']",
	VerifyStandardWebhooks: "trigger.headers['webhook-id'] ?? trigger.headers['svix-id']",
	VerifyStripe:           "trigger.body?.id",
	VerifyShopify:          "trigger.headers['x-shopify-webhook-id']",
	VerifySlack:            "trigger.body?.event_id",
}

// PollRequest is the request a poll trigger sends.
type PollRequest struct {
	Method     string            `json:"method,omitempty"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers,omitempty"`
	Connection string            `json:"connection,omitempty"`
}

// Step is one node of a flow: a connector step (Use/With), a switch
// (Switch) or a loop (ForEach with Steps).
type Step struct {
	ID      string         `json:"id"`
	Name    string         `json:"name,omitempty"`
	If      string         `json:"if,omitempty"`
	Use     string         `json:"use,omitempty"`
	With    map[string]any `json:"with,omitempty"`
	Retry   *Retry         `json:"retry,omitempty"`
	OnError string         `json:"on_error,omitempty"`
	Switch  []Case         `json:"switch,omitempty"`

	// ForEach is an expression giving a list; the loop runs Steps once per
	// element, with `item` and `index` in scope. Its output is the list of
	// the per-item outputs of the last inner step, or of Collect.
	ForEach string `json:"for_each,omitempty"`
	Steps   []Step `json:"steps,omitempty"`
	// Concurrency is how many items run at once (default 1: one after
	// another, in order; at most MaxLoopConcurrency).
	Concurrency int `json:"concurrency,omitempty"`
	// MaxItems fails the loop when the list is longer (default
	// DefaultMaxItems).
	MaxItems int `json:"max_items,omitempty"`
	// Collect, when set, is a template (like a `with` value) rendered once
	// per item after its steps; its values make the loop's output.
	Collect any `json:"collect,omitempty"`
}

// IsSwitch reports whether the step routes instead of calling a connector.
func (s *Step) IsSwitch() bool { return len(s.Switch) > 0 }

// IsLoop reports whether the step repeats its inner steps for each item
// of a list.
func (s *Step) IsLoop() bool { return s.ForEach != "" || s.Steps != nil }

// Loop limits.
const (
	// DefaultMaxItems is a loop's max_items when left out.
	DefaultMaxItems = 1000
	// MaxMaxItems bounds max_items: every item's steps are kept in the
	// run's history, which is written whole at each checkpoint.
	MaxMaxItems = 10000
	// MaxLoopConcurrency bounds a loop's concurrency: the items share one
	// run and its checkpoints; more would mostly queue on them.
	MaxLoopConcurrency = 16
	// IterationsPerPage is how many items one page of a loop's history
	// shows (API and UI).
	IterationsPerPage = 50
)

// EffectiveMaxItems is the loop's item limit.
func (s *Step) EffectiveMaxItems() int {
	if s.MaxItems > 0 {
		return s.MaxItems
	}
	return DefaultMaxItems
}

// Case is one branch of a switch: the first case whose When holds (or the
// Default case) runs its steps.
type Case struct {
	When    string `json:"when,omitempty"`
	Default bool   `json:"default,omitempty"`
	Steps   []Step `json:"steps"`
}

// Retry is a step's retry policy for retryable errors.
type Retry struct {
	// Attempts counts the first try: 1 means no retry.
	Attempts   int      `json:"attempts"`
	Backoff    Duration `json:"backoff,omitempty"`
	MaxBackoff Duration `json:"max_backoff,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("2s", "5m").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "1m30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. \"500ms\", \"30s\", \"5m\")", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*d = Duration(v)
	return nil
}

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// EffectiveMaxBody is the webhook body limit in bytes.
func (t *Trigger) EffectiveMaxBody() int64 {
	if t.MaxBody > 0 {
		return t.MaxBody
	}
	return DefaultMaxBody
}

// EffectiveTimeout is how long a sync webhook waits for its run.
func (t *Trigger) EffectiveTimeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout.Std()
	}
	return DefaultSyncTimeout
}

// EffectiveDedupeWindow is how long a dedupe key is remembered.
func (t *Trigger) EffectiveDedupeWindow() time.Duration {
	if t.DedupeWindow > 0 {
		return t.DedupeWindow.Std()
	}
	return DefaultDedupeWindow
}

// Walk calls fn for every step in order, depth first, including the steps
// inside switch cases and loops; path is the step's field path (e.g.
// "steps[1].switch[0].steps[0]", "steps[2].steps[0]").
func Walk(steps []Step, fn func(path string, s *Step)) {
	walk("steps", steps, fn)
}

func walk(prefix string, steps []Step, fn func(string, *Step)) {
	for i := range steps {
		p := fmt.Sprintf("%s[%d]", prefix, i)
		fn(p, &steps[i])
		for j := range steps[i].Switch {
			walk(fmt.Sprintf("%s.switch[%d].steps", p, j), steps[i].Switch[j].Steps, fn)
		}
		if len(steps[i].Steps) > 0 {
			walk(p+".steps", steps[i].Steps, fn)
		}
	}
}
