package flows

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
)

// Limits of schedule and poll trigger settings.
const (
	MaxCatchUpLimit = 1000
	MaxBackfill     = 1000
	MaxSeenLimit    = 1_000_000
)

// VarCursor is the variable a poll's cursor expression sees: the value the
// expression yielded after the previous poll (null before the first).
const VarCursor = "cursor"

// shapeCursor is a poll's cursor expression: base + response + cursor. It
// is compiled against its own environment (cursorCompileEnv) rather than
// compileEnvs because `cursor` holds whatever the previous poll yielded (a
// string, a number, an object), so it must type-check as any value, not as
// the map every other variable is.
const shapeCursor envShape = 100

var cursorCompileEnv = func() types.Map {
	m := types.TypeOf(map[string]any{})
	env := types.Map{VarCursor: types.Any}
	for _, k := range shapeResponse.vars() {
		env[k] = m
	}
	return env
}()

// cursorPlaceholder matches the one template a poll request may hold.
var cursorPlaceholder = regexp.MustCompile(`\{\{\s*cursor\s*\}\}`)

// timedSchedule validates the misfire policy of a schedule trigger. Poll
// triggers never get here with these fields set: triggerFields refuses them.
func (v *validator) timedSchedule(t *Trigger) {
	switch t.Misfire {
	case "", MisfireSkip, MisfireCatchUp:
	default:
		v.errs.add("trigger.misfire", fmt.Sprintf("unknown policy %q (use %s or %s)", t.Misfire, MisfireSkip, MisfireCatchUp))
	}
	if t.CatchUpLimit != 0 {
		switch {
		case t.Misfire != MisfireCatchUp:
			v.errs.add("trigger.catch_up_limit", "only allowed with misfire \"catch_up\"")
		case t.CatchUpLimit < 1 || t.CatchUpLimit > MaxCatchUpLimit:
			v.errs.add("trigger.catch_up_limit", fmt.Sprintf("must be between 1 and %d, got %d", MaxCatchUpLimit, t.CatchUpLimit))
		}
	}
}

// timedPoll validates a poll trigger's cursor, backfill and limits, and
// compiles the cursor expression into c.
func (v *validator) timedPoll(t *Trigger, c *Compiled) {
	if t.Backfill < 0 || t.Backfill > MaxBackfill {
		v.errs.add("trigger.backfill", fmt.Sprintf("must be between 0 and %d, got %d", MaxBackfill, t.Backfill))
	}
	// Zero means "not set" (the default applies); only a negative value
	// can be written that is below 1.
	if t.FloodLimit < 0 {
		v.errs.add("trigger.flood_limit", fmt.Sprintf("must be at least 1, got %d", t.FloodLimit))
	}
	if t.SeenLimit < 0 || t.SeenLimit > MaxSeenLimit {
		v.errs.add("trigger.seen_limit", fmt.Sprintf("must be between 1 and %d, got %d", MaxSeenLimit, t.SeenLimit))
	}
	if t.Cursor != "" {
		c.Cursor = v.cursorExpr("trigger.cursor", t.Cursor)
	}
	if r := t.Request; r != nil {
		uses := v.requestTemplates("trigger.request.url", r.URL)
		for _, name := range sortedKeys(r.Headers) {
			if v.requestTemplates("trigger.request.headers."+name, r.Headers[name]) {
				uses = true
			}
		}
		if uses && t.Cursor == "" {
			v.errs.add("trigger.cursor", "required: the request uses {{ cursor }}")
		}
	}
}

// requestTemplates checks that a poll request string holds no template but
// {{ cursor }} (the request is not rendered like a step's with) and reports
// whether it holds that one.
func (v *validator) requestTemplates(field, s string) bool {
	rest := cursorPlaceholder.ReplaceAllString(s, "")
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		v.errs.add(field, "only {{ cursor }} may be used here")
	}
	return len(rest) != len(s)
}

// pollURL is the request URL as validation parses it: the cursor
// placeholder stands for a plain value.
func pollURL(raw string) string {
	return cursorPlaceholder.ReplaceAllString(raw, "cursor")
}

// cursorExpr compiles a cursor expression. It mirrors v.expr with the
// cursor's own environment.
func (v *validator) cursorExpr(field, src string) *Expr {
	e, refs, err := compileCursorExpr(field, src)
	if err != nil {
		v.errs.add(field, err.Error())
		return nil
	}
	if refs.secrets {
		v.errs.add(field, "secrets are only available inside a step's with")
	}
	v.checkSteps(field, refs, nil)
	return e
}

func compileCursorExpr(field, src string) (*Expr, exprRefs, error) {
	if strings.TrimSpace(src) == "" {
		return nil, exprRefs{}, errors.New("empty expression")
	}
	if len(src) > MaxExprLen {
		return nil, exprRefs{}, fmt.Errorf("expression is %d bytes long, the limit is %d", len(src), MaxExprLen)
	}
	prog, refs, err := compileLimited(src, append([]expr.Option{expr.Env(cursorCompileEnv)}, exprFunctions...))
	if err != nil {
		return nil, exprRefs{}, err
	}
	// shapeCursor.vars() is the base set: Eval fills in the base
	// variables, while response and cursor are always given by the engine
	// (cursor may be nil, which the Any type allows).
	return &Expr{Source: src, Field: field, prog: prog, shape: shapeCursor, usesSecrets: refs.secrets || refs.env, usesEnv: refs.env,
		secretFields: refs.secretFields, secretsOther: refs.secretsOther, stepRefs: refs.steps, stepsOther: refs.stepsOther}, refs, nil
}
