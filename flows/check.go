package flows

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Kinds of source text CheckExpr and EvalSample take: the way one field of
// a flow is read.
const (
	// KindExpr is a bare expression (dedupe).
	KindExpr = "expr"
	// KindCondition is a bare expression that must yield true or false
	// (if, when).
	KindCondition = "condition"
	// KindItems is a poll trigger's items expression (sees `response`).
	KindItems = "items"
	// KindKey is a poll trigger's key expression (sees `item`).
	KindKey = "key"
	// KindTemplate is a string of a step's `with`, which may hold
	// `{{ expr }}`.
	KindTemplate = "template"
	// KindJSON is JSON text of a step's `with` whose strings may hold
	// `{{ expr }}`; text that is not JSON is read as a template string.
	KindJSON = "json"
)

// CheckExpr compiles src the way a field of the given kind is compiled when
// a flow is saved, without the checks that need the whole flow (which step
// ids exist). The error keeps expr's line:column.
func CheckExpr(src, kind string) error {
	_, err := compileSample(src, kind, false)
	return err
}

// CheckExprInLoop is CheckExpr for a field of a loop's inner step, which
// sees `item` and `index`.
func CheckExprInLoop(src, kind string) error {
	_, err := compileSample(src, kind, true)
	return err
}

// EvalSampleInLoop is EvalSample for a field of a loop's inner step; env
// should hold `item` and `index` (Env.With).
func EvalSampleInLoop(src, kind string, env Env) (any, error) {
	n, err := compileSample(src, kind, true)
	if err != nil {
		return nil, err
	}
	return n.render(newEvaluation(env, shapeLoop.vars(), false))
}

// EvalSample compiles src as CheckExpr does and evaluates it against env,
// such as the environment of a flow's latest run, returning what the field
// would yield. Templates render as they would in a step's `with`.
func EvalSample(src, kind string, env Env) (any, error) {
	n, err := compileSample(src, kind, false)
	if err != nil {
		return nil, err
	}
	// A sample is one evaluation, under the same limits as the flow's.
	return n.render(newEvaluation(env, sampleVars(kind), false))
}

// sampleVars are the variables an expression of the kind sees.
func sampleVars(kind string) []string {
	switch kind {
	case KindItems:
		return shapeResponse.vars()
	case KindKey:
		return shapeItem.vars()
	}
	return shapeBase.vars()
}

// sampleNode is a compiled sample: a bare expression or a template tree.
type sampleNode interface {
	render(ev *evaluation) (any, error)
}

// bareNode evaluates a bare expression, keeping its result as is.
type bareNode struct{ e *Expr }

func (n bareNode) render(ev *evaluation) (any, error) {
	v, err := n.e.run(ev)
	if err != nil {
		return nil, err
	}
	out, err := jsonShape(v, ev.m)
	if err != nil {
		return nil, &EvalError{Field: n.e.Field, Source: n.e.Source, Err: err}
	}
	return out, nil
}

func compileSample(src, kind string, inLoop bool) (sampleNode, error) {
	base := shapeBase
	if inLoop {
		base = shapeLoop
	}
	switch kind {
	case KindExpr, KindCondition, KindItems, KindKey:
		shape := base
		switch kind {
		case KindItems:
			shape = shapeResponse
		case KindKey:
			shape = shapeItem
		}
		e, refs, err := compileExpr(kind, src, shape)
		if err != nil {
			return nil, err
		}
		if refs.secrets {
			return nil, fmt.Errorf("secrets are only available inside a step's with")
		}
		if kind == KindCondition {
			if t := e.resultType(); t != nil && t.Kind() != reflect.Bool {
				return nil, fmt.Errorf("must yield true or false, but yields %s", t)
			}
		}
		return bareNode{e: e}, nil
	case KindTemplate, KindJSON:
		var v any = src
		if kind == KindJSON {
			var parsed any
			if err := json.Unmarshal([]byte(src), &parsed); err == nil {
				v = parsed
			}
		}
		errs := &ValidationError{}
		tc := &templateCompiler{errs: errs, shape: base}
		n := tc.value("", v)
		if len(errs.Details) > 0 {
			return nil, fmt.Errorf("%s", errs.Details[0].Message)
		}
		return n, nil
	default:
		return nil, fmt.Errorf("flows: check: unknown kind %q", kind)
	}
}
