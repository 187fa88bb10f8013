package flows

// The exported names in this file are the contract engine, web and cmd call.
// Their bodies live beside the code they belong to: decode.go (Decode,
// Encode), validate.go (Compile), expr.go (Expr), template.go (Template),
// env.go (NewEnv) and schema.go (JSONSchema).

import (
	"errors"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/switchyard/switchyard/connectors"
)

// FieldError is one validation problem, located by its field path such as
// "steps[1].with.url" or "trigger.path".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in a flow.
type ValidationError struct {
	Details []FieldError
}

// Error joins the details as "field: message; field: message".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, d := range e.Details {
		if i > 0 {
			b.WriteString("; ")
		}
		if d.Field != "" {
			b.WriteString(d.Field)
			b.WriteString(": ")
		}
		b.WriteString(d.Message)
	}
	if b.Len() == 0 {
		return "invalid flow"
	}
	return b.String()
}

// add records one problem.
func (e *ValidationError) add(field, msg string) {
	e.Details = append(e.Details, FieldError{Field: field, Message: msg})
}

// orNil returns e when it holds details, else nil, so callers can return it
// directly as an error without the typed-nil trap.
func (e *ValidationError) orNil() error {
	if len(e.Details) == 0 {
		return nil
	}
	return e
}

// Compiled is a validated flow with every expression compiled.
type Compiled struct {
	Flow *Flow
	// Dedupe is the trigger's dedupe expression, or nil.
	Dedupe *Expr
	// Items and Key are a poll trigger's expressions, or nil.
	Items, Key *Expr
	// Cursor is a poll trigger's cursor expression, or nil.
	Cursor *Expr
	// Steps are the top-level steps in order.
	Steps []*CompiledStep

	byID map[string]*CompiledStep
}

// Step returns the compiled step with the given id (at any depth), or nil.
func (c *Compiled) Step(id string) *CompiledStep {
	if c == nil {
		return nil
	}
	return c.byID[id]
}

// CompiledStep is one step ready to run.
type CompiledStep struct {
	Step *Step
	// Path is the step's field path, e.g. "steps[2]".
	Path string
	// If is the step's condition, or nil.
	If *Expr
	// With renders the step's config, or is nil when the step has none.
	With *Template
	// Spec is the connector's spec (zero for a switch step).
	Spec connectors.Spec
	// Cases are a switch step's branches, in order.
	Cases []*CompiledCase
	// ForEach, Body and Collect are a loop's list expression, inner steps
	// and optional collect template.
	ForEach *Expr
	Body    []*CompiledStep
	Collect *Template
}

// CompiledCase is one compiled switch branch.
type CompiledCase struct {
	// When is nil for the default case.
	When    *Expr
	Default bool
	Steps   []*CompiledStep
}

// Expr is one compiled expr-lang expression.
type Expr struct {
	// Source is the expression text; Field its field path.
	Source, Field string

	prog *vm.Program
	// shape says which variables the expression was compiled against, so
	// Eval can tell a missing `response` or `item` from a runtime error.
	shape envShape
	// usesSecrets is true when the expression names `secrets` (or $env,
	// which holds them).
	usesSecrets bool
	// usesEnv is true when the expression names $env.
	usesEnv bool
	// secretFields and secretsOther say which secrets it reads
	// (exprRefs).
	secretFields []secretField
	secretsOther bool
	// stepRefs and stepsOther say which steps' outputs it reads.
	stepRefs   []string
	stepsOther bool
}

// SecretPolicy tells Template.Redact which values hold secrets.
type SecretPolicy struct {
	// Field reports whether secrets.<connection>.<field> is secret (a
	// host or a user name is not); nil: every field is.
	Field func(connection, field string) bool
	// Step reports whether an earlier step's output holds a secret (a
	// remote echoed one back), so that what a template computes from it
	// is a function of a secret too; nil: no output does.
	Step func(id string) bool
}

// Template is a compiled `with` object: every string at any depth may hold
// `{{ expr }}`; a string that is exactly one template keeps the value's type.
type Template struct {
	// UsesSecrets is true when any expression references `secrets`, so the
	// engine only decrypts connections for steps that need them.
	UsesSecrets bool

	root tnode
	// usesEnv is true when any expression names $env.
	usesEnv bool
	// shape is the set of variables the template was compiled against
	// (item and index inside a loop).
	shape envShape
}

// Env is the data an expression sees: trigger, steps, run, flow, secrets.
type Env map[string]any

// TriggerData is what started a run, as expressions see it under `trigger`.
type TriggerData struct {
	Body any
	// Headers have lower-case names; repeated headers are joined with ", ".
	Headers    map[string]string
	Query      map[string]string
	Method     string
	Path       string
	ReceivedAt time.Time
}

// StepState is what expressions see of an earlier step under
// steps.<id>: its output and status.
type StepState struct {
	Output any
	Status string
}

// EnvInput gathers what NewEnv needs.
type EnvInput struct {
	Flow    *Flow
	Trigger TriggerData
	RunID   string
	Attempt int
	Steps   map[string]StepState
	// Secrets maps connection name to its decrypted values; nil outside a
	// step's `with`.
	Secrets map[string]map[string]string
}

// EvalError is a run-time expression failure. Its message names the field
// and the expression: `steps[1].if: expression "trigger.body.x.y": <expr
// error>`.
type EvalError struct {
	// Field is the field path of the expression, Source its text.
	Field, Source string
	Err           error
}

// Error formats the failure on one line.
func (e *EvalError) Error() string {
	return e.Field + ": expression " + quoteSource(e.Source) + ": " + exprMessage(e.Err)
}

// Unwrap returns the underlying error (ErrNotBool, ErrNotCompiled or
// expr's own error).
func (e *EvalError) Unwrap() error { return e.Err }

// Sentinel errors.
var (
	ErrNotBool     = errors.New("expression did not yield a bool")
	ErrNotCompiled = errors.New("expression is not compiled")
	ErrNotFinite   = errors.New("expression yielded a number JSON cannot hold")
	// ErrSecretMessage stands for the message of a failed expression that
	// reads secrets: expr's own would quote the values it read.
	ErrSecretMessage = errors.New("evaluation failed (the detail is hidden because the expression reads secrets)")
)
