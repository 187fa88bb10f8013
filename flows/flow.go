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
)

// Flow is one user-defined automation: a trigger and the steps it runs.
type Flow struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Enabled     bool    `json:"enabled"`
	Trigger     Trigger `json:"trigger"`
	Steps       []Step  `json:"steps"`
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

	// Schedule and poll: when to fire.
	Cron     string `json:"cron,omitempty"`
	Timezone string `json:"timezone,omitempty"`

	// Poll: the request, the expression giving the list of items, and the
	// expression giving each item's key.
	Request *PollRequest `json:"request,omitempty"`
	Items   string       `json:"items,omitempty"`
	Key     string       `json:"key,omitempty"`
}

// Verify configures webhook signature verification: a provider scheme and
// the name of a stored connection of type `secret`.
type Verify struct {
	Scheme string `json:"scheme"`
	Secret string `json:"secret,omitempty"`
}

// PollRequest is the request a poll trigger sends.
type PollRequest struct {
	Method     string            `json:"method,omitempty"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers,omitempty"`
	Connection string            `json:"connection,omitempty"`
}

// Step is one node of a flow: either a connector step (Use/With) or a
// switch (Switch).
type Step struct {
	ID      string         `json:"id"`
	Name    string         `json:"name,omitempty"`
	If      string         `json:"if,omitempty"`
	Use     string         `json:"use,omitempty"`
	With    map[string]any `json:"with,omitempty"`
	Retry   *Retry         `json:"retry,omitempty"`
	OnError string         `json:"on_error,omitempty"`
	Switch  []Case         `json:"switch,omitempty"`
}

// IsSwitch reports whether the step routes instead of calling a connector.
func (s *Step) IsSwitch() bool { return len(s.Switch) > 0 }

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
// inside switch cases; path is the step's field path (e.g.
// "steps[1].switch[0].steps[0]").
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
	}
}
