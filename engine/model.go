package engine

import (
	"encoding/json"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
)

// RunStatus is where a run stands.
type RunStatus string

// Run statuses. Succeeded and failed are final: a final run is never
// rewritten.
const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunWaiting   RunStatus = "waiting" // parked until a retry or delay is due
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Final reports whether the status is terminal.
func (s RunStatus) Final() bool { return s == RunSucceeded || s == RunFailed }

// Valid reports whether s is a known status.
func (s RunStatus) Valid() bool {
	switch s {
	case RunQueued, RunRunning, RunWaiting, RunSucceeded, RunFailed:
		return true
	}
	return false
}

// StepStatus is where one step of a run stands.
type StepStatus string

// Step statuses.
const (
	StepRunning   StepStatus = "running"
	StepRetrying  StepStatus = "retrying" // failed, another attempt is due
	StepWaiting   StepStatus = "waiting"  // parked by the connector (delay)
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
)

// done reports whether the step will not run again in this run.
func (s StepStatus) done() bool {
	return s == StepSucceeded || s == StepFailed || s == StepSkipped
}

// Event is what arrived: one webhook delivery, tick or manual start. It is
// stored once and never changed; runs (and replays) point at it.
type Event struct {
	ID         string            `json:"id"`
	FlowID     string            `json:"flow_id"`
	Source     string            `json:"source"` // trigger type: webhook, manual, ...
	Method     string            `json:"method,omitempty"`
	Path       string            `json:"path,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Query      map[string]string `json:"query,omitempty"`
	RemoteAddr string            `json:"remote_addr,omitempty"`
	// ContentType and Body are the request's, byte for byte.
	ContentType string    `json:"content_type,omitempty"`
	Body        []byte    `json:"body,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	DedupeKey   string    `json:"dedupe_key,omitempty"`
}

// Run is one execution of a flow for one event.
type Run struct {
	ID          string     `json:"id"`
	FlowID      string     `json:"flow_id"`
	FlowVersion int64      `json:"flow_version"`
	EventID     string     `json:"event_id"`
	Status      RunStatus  `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	Error       string     `json:"error,omitempty"`
	ErrorStep   string     `json:"error_step,omitempty"`
	// WaitingFor says what a waiting run waits for besides a retry or a
	// delay ("waiting for hubspot rate limit", "paused"); empty otherwise.
	WaitingFor string       `json:"waiting_for,omitempty"`
	Steps      []StepResult `json:"steps"`
	// Response is what a webhook.respond step set for a sync webhook.
	Response *connectors.Response `json:"response,omitempty"`
	// RetryOf and ReplayOf link a run to the run it was started from.
	RetryOf  string `json:"retry_of,omitempty"`
	ReplayOf string `json:"replay_of,omitempty"`
	// Crash counts the starts that found the engine had stopped (crashed,
	// or was killed) while this run's step was executing; a second time in
	// the same step fails the run instead of running that step again.
	Crash *CrashCount `json:"crash,omitempty"`
	// IdempotencyRun is the run whose id begins the steps' idempotency
	// keys when it is not this run: a retry keeps the keys of the run it
	// retries, so a remote can recognise a step sent again.
	IdempotencyRun string `json:"idempotency_run,omitempty"`
	// CalledBy links a run started by a flow.call step to the run and
	// step that called it (calls.go).
	CalledBy *CallLink `json:"called_by,omitempty"`
	// FailureOf is, on a run of an error flow, the failed run that
	// started it; FailureRun is, on a failed run, that error flow's run.
	FailureOf  string `json:"failure_of,omitempty"`
	FailureRun string `json:"failure_run,omitempty"`
}

// CallLink names the run and step whose flow.call started a run, and how
// deep in nested calls that run is (1: called by a run nobody called).
type CallLink struct {
	RunID  string `json:"run_id"`
	FlowID string `json:"flow_id"`
	StepID string `json:"step_id"`
	Depth  int    `json:"depth"`
}

// CrashCount is how often the engine stopped during one step of a run.
type CrashCount struct {
	Step  string `json:"step"`
	Count int    `json:"count"`
}

// StepResult is the checkpoint of one step.
type StepResult struct {
	ID     string     `json:"id"`
	Use    string     `json:"use,omitempty"`
	Status StepStatus `json:"status"`
	// Input is the step's config after templating, secrets redacted.
	Input    map[string]any `json:"input,omitempty"`
	Output   any            `json:"output,omitempty"`
	Error    string         `json:"error,omitempty"`
	Attempts int            `json:"attempts"`
	// Conditions records how each `if` / `when` evaluated.
	Conditions []Condition `json:"conditions,omitempty"`
	// Branch is the index of the switch case taken (-1: none matched).
	Branch *int `json:"branch,omitempty"`
	// Loop and Iteration place the checkpoint of a loop's inner step: the
	// loop's id and the item's index (from 0). Both are empty for steps
	// outside loops.
	Loop      string `json:"loop,omitempty"`
	Iteration *int   `json:"iteration,omitempty"`
	// ItemCount is, on a loop's own checkpoint, how many items its list
	// held.
	ItemCount  *int       `json:"item_count,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMS float64    `json:"duration_ms"`
	// NextAttemptAt is when a retrying step runs again; ResumeAt when a
	// waiting step resumes.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	ResumeAt      *time.Time `json:"resume_at,omitempty"`
	// StatusCode is the remote HTTP status of the last failure, if any.
	StatusCode int `json:"status_code,omitempty"`
	// Calls is the run a flow.call step started.
	Calls string `json:"calls,omitempty"`
}

// Condition is how one expression evaluated.
type Condition struct {
	Field  string `json:"field"`
	Expr   string `json:"expr"`
	Result bool   `json:"result"`
	Error  string `json:"error,omitempty"`
	// Why says in plain words why rows of a built condition were false
	// when the data was at fault ("score is missing").
	Why []string `json:"why,omitempty"`
}

// RunSummary is the small record run listings read, so that a page of
// history never decodes whole runs. It holds enough to rebuild a run that
// has no checkpoint yet.
type RunSummary struct {
	ID          string     `json:"id"`
	FlowID      string     `json:"flow_id"`
	FlowVersion int64      `json:"flow_version"`
	EventID     string     `json:"event_id"`
	Status      RunStatus  `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Error       string     `json:"error,omitempty"`
	Steps       int        `json:"steps"`
	RetryOf     string     `json:"retry_of,omitempty"`
	ReplayOf    string     `json:"replay_of,omitempty"`
	// DueAt mirrors Run.DueAt.
	DueAt *time.Time `json:"due_at,omitempty"`
	// CalledBy and FailureOf mirror the Run's: a run recovered before its
	// first checkpoint is rebuilt from this record and must keep them.
	CalledBy  *CallLink `json:"called_by,omitempty"`
	FailureOf string    `json:"failure_of,omitempty"`
}

// Summary derives the listing record of a run.
func (r *Run) Summary() RunSummary {
	return RunSummary{ID: r.ID, FlowID: r.FlowID, FlowVersion: r.FlowVersion, EventID: r.EventID,
		Status: r.Status, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt, Error: r.Error,
		Steps: len(r.Steps), RetryOf: r.RetryOf, ReplayOf: r.ReplayOf, DueAt: r.DueAt, CalledBy: r.CalledBy, FailureOf: r.FailureOf}
}

// AsRun rebuilds a run that was accepted but has no checkpoint yet.
func (s RunSummary) AsRun() *Run {
	return &Run{ID: s.ID, FlowID: s.FlowID, FlowVersion: s.FlowVersion, EventID: s.EventID,
		Status: s.Status, CreatedAt: s.CreatedAt, FinishedAt: s.FinishedAt, DueAt: s.DueAt,
		Error: s.Error, RetryOf: s.RetryOf, ReplayOf: s.ReplayOf, CalledBy: s.CalledBy, FailureOf: s.FailureOf, Steps: []StepResult{}}
}

// idempotencyKey is the key a step sends so a remote can recognise it sent
// again: "<run>:<step>", where the run is the first of a chain of retries.
func (r *Run) idempotencyKey(stepID string) string {
	run := r.IdempotencyRun
	if run == "" {
		run = r.ID
	}
	return run + ":" + stepID
}

// InLoop reports whether the checkpoint is one item's run of a loop's
// inner step.
func (s *StepResult) InLoop() bool { return s.Iteration != nil }

// IsLoop reports whether the checkpoint is a loop's own.
func (s *StepResult) IsLoop() bool { return s.ItemCount != nil }

// result returns the checkpoint of step id outside any loop, or nil.
func (r *Run) result(id string) *StepResult {
	for i := range r.Steps {
		if r.Steps[i].ID == id && r.Steps[i].Iteration == nil {
			return &r.Steps[i]
		}
	}
	return nil
}

// FlowRecord is a stored flow: its definition, version and timestamps.
type FlowRecord struct {
	ID        string          `json:"id"`
	Flow      json.RawMessage `json:"flow"`
	Version   int64           `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ConnectionRecord is a stored connection; Sealed holds its values
// encrypted, and is never shown to anyone.
type ConnectionRecord struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Sealed []byte `json:"sealed"`
	// Rate limits the requests every step using the connection sends,
	// across flows (nil: no limit).
	Rate      *flows.RateLimit `json:"rate,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}
