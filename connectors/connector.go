// Package connectors defines what a connector step is: the Connector
// interface, the self-description (Spec and Field) from which validation,
// the UI form, the API docs and redaction are all derived, and the registry
// connectors add themselves to from init().
//
// Connectors never import engine, flows or web: the engine hands them
// everything they need in an Input.
package connectors

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Connector is one kind of step (`use` in a flow), such as http.request.
type Connector interface {
	// Spec describes the connector: its id, fields and help text.
	Spec() Spec
	// Execute performs the step once. Errors should be built with
	// Permanent or Retryable so the engine knows whether to try again;
	// any other error is treated as retryable.
	Execute(ctx context.Context, in Input) (Result, error)
}

// Input is everything a connector gets for one attempt of one step.
type Input struct {
	// Config is the step's `with` after templates were rendered. Values are
	// JSON-shaped: string, float64, bool, nil, map[string]any, []any.
	Config map[string]any
	// Connection holds the decrypted values of the connection named by the
	// config key "connection", or nil when the step names none.
	Connection map[string]string
	// RunID and StepID identify the step; IdempotencyKey is
	// "<run_id>:<step_id>" and is stable across attempts and restarts (and
	// across retries of a failed run, which keep that run's id in it).
	RunID, StepID, IdempotencyKey string
	// Attempt counts from 1.
	Attempt int
	// Resumed is true when the engine calls the step again after the step
	// asked to be resumed later (Result.ResumeAt), e.g. after a delay.
	Resumed bool
	// DryRun asks the connector to send nothing out and describe instead
	// what it would have done.
	DryRun bool
	// HTTP is the client every outgoing request must use: it enforces the
	// egress policy (no loopback, private or link-local destinations unless
	// allowed). Never nil when the engine calls Execute.
	HTTP *http.Client
	// Dial opens raw connections (SMTP and other non-HTTP protocols) under
	// the same egress policy as HTTP. Never nil when the engine calls
	// Execute.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Conceal, when set, is told each value the connector builds from the
	// connection's secrets, such as an encoded Authorization header: the
	// engine then hides it wherever the step is recorded, as it hides the
	// secrets themselves, should a remote echo it back. Call it from
	// Execute's goroutine.
	Conceal func(value string)
	// KV is the data store that lasts across runs (the store.* steps);
	// nil where there is none, such as `switchyard run`.
	KV KV
}

// Result is what a step produced.
type Result struct {
	// Output is the step's output, visible to later steps as
	// steps.<id>.output. JSON-shaped.
	Output any
	// Respond, when set, is the answer a sync webhook gives its caller.
	Respond *Response
	// ResumeAt, when non-zero, asks the engine to park the run durably and
	// call the step again (with Input.Resumed) at that time.
	ResumeAt time.Time
}

// Response is the HTTP answer a webhook.respond step builds.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent as JSON unless it is a string, which is sent as is.
	Body any `json:"body,omitempty"`
}

// Config keys shared by several connectors.
const (
	// KeyConnection names the stored connection a step uses.
	KeyConnection = "connection"
)
