package flows

import (
	"errors"
	"fmt"
	"html"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// MaxExprLen is the longest expression accepted, in bytes.
const MaxExprLen = 4 << 10

// Top-level variables expressions see.
const (
	VarTrigger  = "trigger"
	VarSteps    = "steps"
	VarRun      = "run"
	VarFlow     = "flow"
	VarSecrets  = "secrets"
	VarResponse = "response"
	VarItem     = "item"
	// VarIndex is a loop item's position in its list, from 0.
	VarIndex = "index"
)

// envShape selects the set of top-level variables an expression is compiled
// against.
type envShape int

const (
	shapeBase     envShape = iota // trigger, steps, run, flow, secrets
	shapeResponse                 // base + response (a poll's items)
	shapeItem                     // base + item (a poll's key)
	shapeLoop                     // base + item and index (a loop's inner steps)
)

// compileEnvs are the type environments expressions are checked against.
// Every variable is a map[string]any, so member access type-checks while
// any name outside them is a compile error ("unknown name x"). The maps are
// only read by expr, so sharing them between goroutines is safe.
var compileEnvs = func() map[envShape]map[string]any {
	base := func() map[string]any {
		return map[string]any{
			VarTrigger: map[string]any{},
			VarSteps:   map[string]any{},
			VarRun:     map[string]any{},
			VarFlow:    map[string]any{},
			VarSecrets: map[string]any{},
		}
	}
	resp, item, loop := base(), base(), base()
	resp[VarResponse] = map[string]any{}
	item[VarItem] = map[string]any{}
	loop[VarItem] = map[string]any{}
	loop[VarIndex] = 0
	return map[envShape]map[string]any{shapeBase: base(), shapeResponse: resp, shapeItem: item, shapeLoop: loop}
}()

// exprOptions are the compile options for one environment shape. now() is
// expr's builtin (time.Time in the server's zone); it needs no option.
func exprOptions(shape envShape) []expr.Option {
	return append([]expr.Option{expr.Env(compileEnvs[shape])}, exprFunctions...)
}

// exprFunctions are Switchyard's additions to expr's builtins: escaping
// for the places payload text is put into, so an email's HTML body or a
// URL built from a webhook cannot be injected into.
var exprFunctions = []expr.Option{
	expr.Function("escapeHTML", func(params ...any) (any, error) {
		return html.EscapeString(textOf(params[0])), nil
	}, new(func(any) string)),
	expr.Function("escapeQuery", func(params ...any) (any, error) {
		return url.QueryEscape(textOf(params[0])), nil
	}, new(func(any) string)),
	// check is the condition builder's function (condfuncs.go). This
	// declaration is for the type checker; the program that runs calls
	// the guarded form, which the limit patcher puts in its place.
	expr.Function(CheckFunc, func(params ...any) (any, error) {
		return checkCall(newMeter(), append([]any{"the value", params[0], []any(nil)}, params[1:]...))
	}, new(func(any, string) bool), new(func(any, string, any) bool)),
}

// textOf is how escaping functions read a value: nil as empty, anything
// else as a template would print it.
func textOf(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// exprRefs is what an expression's AST refers to.
type exprRefs struct {
	// steps lists the ids read as steps.<id> or steps["<id>"], in order
	// of first appearance.
	steps []string
	// secrets is true when the expression names `secrets`.
	secrets bool
	// env is true when the expression names $env, the whole environment
	// (secrets included).
	env bool
	// secretFields lists the secrets.<connection>.<field> it reads with
	// constant names; secretsOther is true when it reaches secrets any
	// other way (secrets[x], a whole connection, $env), which only run
	// time could tell.
	secretFields []secretField
	secretsOther bool
	// stepsOther is true when it reaches steps other than by a constant
	// steps.<id> (steps[x], steps as a whole, $env).
	stepsOther bool
}

// secretField is one secrets.<connection>.<field> an expression reads.
type secretField struct{ connection, field string }

// refVisitor collects exprRefs while ast.Walk visits every node.
type refVisitor struct {
	refs exprRefs
	seen map[string]bool
	// secretNames counts the `secrets` identifiers seen, named those
	// that turned out to start a secrets.<connection>.<field>; stepNames
	// and stepsNamed do the same for steps.<id>.
	secretNames, named    int
	stepNames, stepsNamed int
}

// Visit implements ast.Visitor.
func (v *refVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case VarSecrets:
			v.refs.secrets = true
			v.secretNames++
		case VarSteps:
			v.stepNames++
		case "$env":
			v.refs.env = true
		}
	case *ast.MemberNode:
		if f, ok := secretFieldOf(n); ok {
			v.named++
			if !slices.Contains(v.refs.secretFields, f) {
				v.refs.secretFields = append(v.refs.secretFields, f)
			}
			return
		}
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != VarSteps {
			return
		}
		// Only a constant property names a step; steps[x] with a dynamic
		// x cannot be checked before run time.
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return
		}
		v.stepsNamed++
		if v.seen[prop.Value] {
			return
		}
		v.seen[prop.Value] = true
		v.refs.steps = append(v.refs.steps, prop.Value)
	}
}

// secretFieldOf reports whether n reads secrets.<connection>.<field> with
// constant names (dots, brackets or ?. alike).
func secretFieldOf(n *ast.MemberNode) (secretField, bool) {
	field, ok := n.Property.(*ast.StringNode)
	if !ok {
		return secretField{}, false
	}
	conn, ok := n.Node.(*ast.MemberNode)
	if !ok {
		return secretField{}, false
	}
	name, ok := conn.Property.(*ast.StringNode)
	if !ok {
		return secretField{}, false
	}
	id, ok := conn.Node.(*ast.IdentifierNode)
	if !ok || id.Value != VarSecrets {
		return secretField{}, false
	}
	return secretField{connection: name.Value, field: field.Value}, true
}

// finish completes the refs once every node was visited.
func (v *refVisitor) finish() exprRefs {
	v.refs.secretsOther = v.refs.env || v.secretNames > v.named
	v.refs.stepsOther = v.refs.env || v.stepNames > v.stepsNamed
	return v.refs
}

// compileExpr compiles src for field against the given environment. The
// error is a one-line message that keeps expr's line:column.
func compileExpr(field, src string, shape envShape) (*Expr, exprRefs, error) {
	if strings.TrimSpace(src) == "" {
		return nil, exprRefs{}, errors.New("empty expression")
	}
	if len(src) > MaxExprLen {
		return nil, exprRefs{}, fmt.Errorf("expression is %d bytes long, the limit is %d", len(src), MaxExprLen)
	}
	prog, refs, err := compileLimited(src, exprOptions(shape))
	if err != nil {
		return nil, exprRefs{}, err
	}
	e := &Expr{Source: src, Field: field, prog: prog, shape: shape, usesSecrets: refs.secrets || refs.env, usesEnv: refs.env,
		secretFields: refs.secretFields, secretsOther: refs.secretsOther, stepRefs: refs.steps, stepsOther: refs.stepsOther}
	return e, refs, nil
}

// compileLimited compiles src twice: as written, for expr's own checks and
// messages and for what the expression refers to, then with the guards
// that put it under the evaluation limits (guard.go). The second program
// is the one that runs.
func compileLimited(src string, opts []expr.Option) (*vm.Program, exprRefs, error) {
	plain, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, exprRefs{}, errors.New(exprMessage(err))
	}
	v := &refVisitor{seen: map[string]bool{}}
	node := plain.Node()
	ast.Walk(&node, v)
	if err := checkCallsValid(src, node); err != nil {
		return nil, exprRefs{}, err
	}
	limited, err := expr.Compile(src, append(opts[:len(opts):len(opts)], guardOptions...)...)
	if err != nil {
		return nil, exprRefs{}, fmt.Errorf("put the expression under its limits: %s", exprMessage(err))
	}
	return limited, v.finish(), nil
}

// resultType is the static type of the expression's result, or nil when
// the checker could not know it (anything read from the maps).
func (e *Expr) resultType() reflect.Type {
	if e == nil || e.prog == nil {
		return nil
	}
	t := e.prog.Node().Type()
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	return t
}

// Eval runs the expression under the evaluation limits (limits.go).
// Runtime errors are *EvalError and name the field and expression:
// `steps[1].if: expression "trigger.body.x.y": <expr error>`.
func (e *Expr) Eval(env Env) (any, error) {
	out, _, err := e.eval(env)
	return out, err
}

// eval is Eval that also returns the notes condition functions made
// (condfuncs.go).
func (e *Expr) eval(env Env) (any, []string, error) {
	ev := newEvaluation(env, e.shapeVars(), !e.usesEnvMap())
	defer ev.release()
	out, err := e.run(ev)
	notes := ev.m.notes
	if err != nil {
		return nil, notes, err
	}
	// The result is what the caller goes on with (a poll's items, a
	// dedupe key): its size counts too, however it was made.
	if _, err := jsonSize(ev.m, out, false); err != nil {
		return nil, notes, &EvalError{Field: e.Field, Source: e.Source, Err: err}
	}
	return out, notes, nil
}

// usesEnvMap reports whether the expression can hold on to the
// evaluation's environment map itself ($env), which then cannot be reused.
func (e *Expr) usesEnvMap() bool { return e != nil && e.usesEnv }

// shapeVars are the variables the expression was compiled against.
func (e *Expr) shapeVars() []string {
	if e == nil {
		return nil
	}
	return e.shape.vars()
}

// run evaluates the expression within ev, whose meter it charges.
func (e *Expr) run(ev *evaluation) (any, error) {
	if e == nil || e.prog == nil {
		var field, src string
		if e != nil {
			field, src = e.Field, e.Source
		}
		return nil, &EvalError{Field: field, Source: src, Err: ErrNotCompiled}
	}
	machine := vm.VM{MemoryBudget: EvalMemoryLimit / slotBytes}
	out, err := machine.Run(e.prog, ev.env)
	if err != nil {
		err = ev.limitError(err)
		if e.usesSecrets && !isLimitError(err) {
			// expr's messages quote values ("cannot parse \"s3cr3t\""):
			// of an expression that reads secrets, they would be
			// functions of a secret.
			err = ErrSecretMessage
		}
		return nil, &EvalError{Field: e.Field, Source: e.Source, Err: err}
	}
	return out, nil
}

// readsSecret reports whether the expression may read a secret value, as
// policy tells secret fields and steps (SecretPolicy).
func (e *Expr) readsSecret(policy SecretPolicy) bool {
	if e == nil {
		return false
	}
	if e.usesSecrets {
		if e.secretsOther || policy.Field == nil {
			return true
		}
		for _, f := range e.secretFields {
			if policy.Field(f.connection, f.field) {
				return true
			}
		}
	}
	if policy.Step != nil {
		if e.stepsOther {
			return true
		}
		for _, id := range e.stepRefs {
			if policy.Step(id) {
				return true
			}
		}
	}
	return false
}

// evaluation is one evaluation's environment and meter. The environment is
// the caller's Env copied (the caller's may be shared between goroutines),
// with every variable of the shape present, so that a missing one reads as
// nil instead of failing inside the VM with a message that blames the
// expression, and with the meter.
type evaluation struct {
	env    map[string]any
	m      *meter
	meter  meter
	pooled bool
}

// evaluations are reused: an evaluation costs a map and a meter, more than
// a simple condition's run. Only evaluations whose expressions cannot
// reach the map itself ($env) go back to the pool.
var evaluations = sync.Pool{New: func() any {
	// Sized for the usual case: up to eight entries fit Go's smallest map.
	return &evaluation{env: make(map[string]any, 8)}
}}

// newEvaluation starts an evaluation over env. With reuse, the caller must
// call release once done with it, and must not keep the map.
func newEvaluation(env Env, vars []string, reuse bool) *evaluation {
	var ev *evaluation
	if reuse {
		ev = evaluations.Get().(*evaluation)
		ev.pooled = true
	} else {
		ev = &evaluation{env: make(map[string]any, len(env)+1)}
	}
	ev.meter = meter{deadline: time.Now().Add(EvalTimeLimit)}
	ev.m = &ev.meter
	for k, v := range env {
		ev.env[k] = v
	}
	for _, k := range vars {
		if ev.env[k] == nil {
			ev.env[k] = map[string]any{}
		}
	}
	ev.env[meterKey] = ev.m
	return ev
}

// release returns a pooled evaluation, dropping what it referenced.
func (ev *evaluation) release() {
	if !ev.pooled {
		return
	}
	clear(ev.env)
	ev.pooled = false
	evaluations.Put(ev)
}

// limitError returns the limit the evaluation crossed, when err comes from
// crossing one: expr's own element budget reads as the memory limit.
func (ev *evaluation) limitError(err error) error {
	if ev.m.err != nil {
		return ev.m.err
	}
	var fe *file.Error
	if errors.As(err, &fe) && fe.Message == "memory budget exceeded" {
		return ErrMemoryLimit
	}
	return err
}

// vars lists the top-level variable names of the shape.
func (s envShape) vars() []string {
	switch s {
	case shapeResponse:
		return []string{VarTrigger, VarSteps, VarRun, VarFlow, VarSecrets, VarResponse}
	case shapeItem:
		return []string{VarTrigger, VarSteps, VarRun, VarFlow, VarSecrets, VarItem}
	case shapeLoop:
		return []string{VarTrigger, VarSteps, VarRun, VarFlow, VarSecrets, VarItem, VarIndex}
	default:
		return []string{VarTrigger, VarSteps, VarRun, VarFlow, VarSecrets}
	}
}

// Bool runs the expression and requires a bool result (nil counts as false).
func (e *Expr) Bool(env Env) (bool, error) {
	ok, _, err := e.Explain(env)
	return ok, err
}

// Explain is Bool that also says, in plain words, why rows of a built
// condition were false when the data was at fault ("score is missing",
// "score is not a number"), for the run's condition trace.
func (e *Expr) Explain(env Env) (bool, []string, error) {
	v, notes, err := e.eval(env)
	if err != nil {
		return false, notes, err
	}
	switch b := v.(type) {
	case bool:
		return b, notes, nil
	case nil:
		return false, notes, nil
	default:
		return false, notes, &EvalError{Field: e.Field, Source: e.Source, Err: fmt.Errorf("%w (got %s)", ErrNotBool, describe(v))}
	}
}

// UsesSecrets reports whether the expression names `secrets`.
func (e *Expr) UsesSecrets() bool { return e != nil && e.usesSecrets }

// describe names a value's kind for error messages, the way a flow author
// thinks of it.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %s", quoteSource(x))
	case map[string]any:
		return "object"
	case []any:
		return "list"
	case float64, float32, int, int64, int32, uint, uint64:
		return fmt.Sprintf("number %v", x)
	default:
		return fmt.Sprintf("%T", v)
	}
}

// exprMessage formats an expr error on one line: expr's message followed
// by its line:column. The multi-line snippet expr adds is dropped because
// the message ends up in `file:field: message` lines and JSON details.
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return fmt.Sprintf("%s (%d:%d)", fe.Message, fe.Line, fe.Column+1)
		}
		return fe.Message
	}
	return err.Error()
}

// quoteSource quotes an expression for a message, shortening long ones.
func quoteSource(s string) string {
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
