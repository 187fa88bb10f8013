package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Template delimiters.
const (
	openDelim  = "{{"
	closeDelim = "}}"
)

// segment is one piece of a template string: literal text or an
// expression.
type segment struct {
	lit    string
	src    string // the expression, trimmed, when isExpr
	isExpr bool
	offset int // byte offset of the segment ("{{" for an expression)
}

// templateSyntaxError is a template string that does not parse.
type templateSyntaxError struct {
	msg    string
	offset int
}

func (e *templateSyntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.msg, e.offset)
}

// isTemplate reports whether a `with` string is a template rather than a
// literal.
func isTemplate(s string) bool { return strings.Contains(s, openDelim) }

// parseTemplate splits s into literal and expression segments. The end of
// an expression is the first "}}" outside string literals and outside
// braces the expression opened itself, so `{{ {"a": {"b": 1}} }}` (a map
// literal) parses as one expression.
func parseTemplate(s string) ([]segment, error) {
	var segs []segment
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], openDelim)
		if j < 0 {
			segs = append(segs, segment{lit: s[i:], offset: i})
			break
		}
		start := i + j
		if start > i {
			segs = append(segs, segment{lit: s[i:start], offset: i})
		}
		end, err := scanExpr(s, start)
		if err != nil {
			return nil, err
		}
		src := strings.TrimSpace(s[start+len(openDelim) : end])
		if src == "" {
			return nil, &templateSyntaxError{msg: "empty {{ }}", offset: start}
		}
		segs = append(segs, segment{src: src, isExpr: true, offset: start})
		i = end + len(closeDelim)
	}
	return segs, nil
}

// scanExpr returns the index of the "}}" closing the "{{" at start.
func scanExpr(s string, start int) (int, error) {
	depth := 0
	for k := start + len(openDelim); k < len(s); k++ {
		switch c := s[k]; c {
		case '"', '\'', '`':
			end := skipString(s, k)
			if end < 0 {
				return 0, &templateSyntaxError{msg: "unclosed {{", offset: start}
			}
			k = end
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			} else if k+1 < len(s) && s[k+1] == '}' {
				return k, nil
			}
		}
	}
	return 0, &templateSyntaxError{msg: "unclosed {{", offset: start}
}

// skipString returns the index of the quote closing the string literal that
// opens at s[k], or -1. Backquoted strings are raw, as in expr.
func skipString(s string, k int) int {
	q := s[k]
	for i := k + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if q != '`' {
				i++
			}
		case q:
			return i
		}
	}
	return -1
}

// singleExpr reports whether segs is exactly one expression spanning the
// whole string, which keeps the value's type.
func singleExpr(segs []segment) bool {
	return len(segs) == 1 && segs[0].isExpr
}

// tnode is one compiled value of a template tree. It renders within one
// evaluation, whose limits the whole tree shares.
type tnode interface {
	render(ev *evaluation) (any, error)
}

// litNode is a value without templates, rendered ahead of time.
type litNode struct{ v any }

// exprNode is a string that is exactly one `{{ expr }}`: the value keeps
// its type.
type exprNode struct{ e *Expr }

// concatNode is a string mixing text and expressions.
type concatNode struct{ parts []part }

// part is one piece of a concatNode: literal text, or an expression when e
// is set.
type part struct {
	lit string
	e   *Expr
}

// objNode is an object with at least one template below it.
type objNode struct {
	keys []string
	vals []tnode
}

// listNode is a list with at least one template below it.
type listNode struct{ items []tnode }

func (n litNode) render(*evaluation) (any, error) { return deepCopy(n.v), nil }

func (n exprNode) render(ev *evaluation) (any, error) {
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

func (n concatNode) render(ev *evaluation) (any, error) {
	var b strings.Builder
	for _, p := range n.parts {
		s := p.lit
		if p.e != nil {
			v, err := p.e.run(ev)
			if err != nil {
				return nil, err
			}
			if s, err = stringify(v, ev.m); err != nil {
				return nil, &EvalError{Field: p.e.Field, Source: p.e.Source, Err: err}
			}
		}
		if err := ev.m.charge(int64(len(s))); err != nil {
			return nil, &EvalError{Field: n.field(), Source: n.source(), Err: err}
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// field and source name the template string in an error: the field of
// its expressions, and the first of them.
func (n concatNode) field() string {
	for _, p := range n.parts {
		if p.e != nil {
			return p.e.Field
		}
	}
	return ""
}

func (n concatNode) source() string {
	for _, p := range n.parts {
		if p.e != nil {
			return p.e.Source
		}
	}
	return ""
}

func (n objNode) render(ev *evaluation) (any, error) {
	out := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		v, err := n.vals[i].render(ev)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (n listNode) render(ev *evaluation) (any, error) {
	out := make([]any, len(n.items))
	for i, it := range n.items {
		v, err := it.render(ev)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Render evaluates every template and returns the rendered config. The
// whole config is one evaluation: its expressions share the evaluation
// limits (limits.go). It never changes t and is safe for concurrent use;
// the result shares nothing with t or env, so the caller may modify it. A
// nil Template renders an empty config.
func (t *Template) Render(env Env) (map[string]any, error) {
	if t == nil || t.root == nil {
		return map[string]any{}, nil
	}
	v, err := t.RenderValue(env)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// RenderValue is Render for a template whose root need not be an object
// (a loop's collect).
func (t *Template) RenderValue(env Env) (any, error) {
	if t == nil || t.root == nil {
		return nil, nil
	}
	ev := newEvaluation(env, t.shape.vars(), !t.usesEnv)
	defer ev.release()
	return t.root.render(ev)
}

// templateCompiler compiles a `with` tree, collecting problems.
type templateCompiler struct {
	errs  *ValidationError
	shape envShape
	// check, when set, looks at each compiled expression's references
	// (steps.<id>, secrets) and reports problems for field.
	check       func(field string, refs exprRefs)
	usesSecrets bool
	usesEnv     bool
}

// compileTemplate compiles a `with` object rooted at field path path.
func (tc *templateCompiler) compileTemplate(path string, with map[string]any) *Template {
	return tc.compileValue(path, with)
}

// compileValue compiles any JSON value as a template rooted at path.
func (tc *templateCompiler) compileValue(path string, v any) *Template {
	n := tc.value(path, v)
	return &Template{UsesSecrets: tc.usesSecrets, root: n, usesEnv: tc.usesEnv, shape: tc.shape}
}

// value compiles v, returning a litNode when nothing below v is a template.
func (tc *templateCompiler) value(path string, v any) tnode {
	switch x := v.(type) {
	case string:
		if !isTemplate(x) {
			return litNode{v: x}
		}
		return tc.str(path, x)
	case map[string]any:
		keys := sortedKeys(x)
		vals := make([]tnode, len(keys))
		literal := true
		for i, k := range keys {
			vals[i] = tc.value(keyPath(path, k), x[k])
			if _, ok := vals[i].(litNode); !ok {
				literal = false
			}
		}
		if literal {
			// Own a copy so later edits of the Flow cannot change the
			// compiled template.
			return litNode{v: deepCopy(x)}
		}
		return objNode{keys: keys, vals: vals}
	case []any:
		items := make([]tnode, len(x))
		literal := true
		for i, it := range x {
			items[i] = tc.value(fmt.Sprintf("%s[%d]", path, i), it)
			if _, ok := items[i].(litNode); !ok {
				literal = false
			}
		}
		if literal {
			return litNode{v: deepCopy(x)}
		}
		return listNode{items: items}
	default:
		return litNode{v: deepCopy(x)}
	}
}

// str compiles one template string.
func (tc *templateCompiler) str(path, s string) tnode {
	segs, err := parseTemplate(s)
	if err != nil {
		tc.errs.add(path, err.Error())
		return litNode{v: s}
	}
	parts := make([]part, 0, len(segs))
	ok := true
	for _, sg := range segs {
		if !sg.isExpr {
			parts = append(parts, part{lit: sg.lit})
			continue
		}
		e, refs, err := compileExpr(path, sg.src, tc.shape)
		if err != nil {
			tc.errs.add(path, fmt.Sprintf("expression %s at offset %d: %v", quoteSource(sg.src), sg.offset, err))
			ok = false
			continue
		}
		if refs.secrets || refs.env {
			tc.usesSecrets = true
		}
		if refs.env {
			tc.usesEnv = true
		}
		if tc.check != nil {
			tc.check(path, refs)
		}
		parts = append(parts, part{e: e})
	}
	if !ok {
		return litNode{v: s}
	}
	if singleExpr(segs) {
		return exprNode{e: parts[0].e}
	}
	return concatNode{parts: parts}
}

// plainKey matches map keys that read well after a dot in a field path.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath appends a map key to a field path: "with.url", or
// `with.headers["x y"]` for keys a dot would make ambiguous.
func keyPath(path, key string) string {
	if plainKey.MatchString(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// stringify formats an expression's value inside a mixed template string.
// Lists and objects become JSON, counted against the evaluation's memory
// limit as they are shaped.
func stringify(v any, m *meter) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		// 'f' never uses an exponent, so 10 prints as "10", not "1e+01".
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case time.Time:
		return x.Format(time.RFC3339), nil
	case time.Duration:
		return x.String(), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		s, err := compactJSON(v, m)
		if err == nil {
			return s, nil
		}
		if isLimitError(err) {
			return "", err
		}
	}
	return fmt.Sprint(v), nil
}

// compactJSON encodes v as compact JSON without HTML escaping, so `<` and
// `&` stay readable in messages.
func compactJSON(v any, m *meter) (string, error) {
	shaped, err := jsonShape(v, m)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(shaped); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// jsonShape converts an expression's value into the JSON shapes connectors
// receive (string, float64, bool, nil, map[string]any, []any). It always
// builds new containers, so a rendered config never aliases the
// environment. Every value is charged to m as it is shaped (strings are
// shared, not copied, but they count as what recording them will take),
// so a value that references the same large payload many times stops at
// the memory limit.
func jsonShape(v any, m *meter) (any, error) {
	switch x := v.(type) {
	case nil, bool:
		return x, m.charge(5)
	case string:
		return x, m.charge(int64(len(x)) + 2)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%w: %v", ErrNotFinite, x)
		}
		return x, m.charge(24)
	case int:
		return float64(x), m.charge(24)
	case int64:
		return float64(x), m.charge(24)
	case time.Time:
		return x.Format(time.RFC3339Nano), m.charge(40)
	case time.Duration:
		return x.String(), m.charge(24)
	case map[string]any:
		if err := m.charge(mapBytes(len(x))); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if _, ok := e.(*meter); ok {
				continue
			}
			s, err := jsonShape(e, m)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, m.tick()
	case []any:
		if err := m.charge(listBytes(len(x))); err != nil {
			return nil, err
		}
		out := make([]any, len(x))
		for i, e := range x {
			s, err := jsonShape(e, m)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, m.tick()
	case map[string]string:
		if err := m.charge(mapBytes(len(x))); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if err := m.charge(int64(len(e)) + 2); err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case []string:
		if err := m.charge(listBytes(len(x))); err != nil {
			return nil, err
		}
		out := make([]any, len(x))
		for i, e := range x {
			if err := m.charge(int64(len(e)) + 2); err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), m.charge(24)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), m.charge(24)
	case reflect.Float32:
		return jsonShape(rv.Float(), m)
	case reflect.String:
		return jsonShape(rv.String(), m)
	case reflect.Bool:
		return rv.Bool(), m.charge(5)
	}
	// Anything else (structs, typed maps and slices) goes through JSON,
	// which is how a connector would see it anyway. Its size is known
	// before it is encoded.
	size, err := jsonSize(m, v, false)
	if err != nil {
		return nil, err
	}
	if err := m.charge(3 * size); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("value of type %T cannot be used as JSON: %w", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("value of type %T cannot be used as JSON: %w", v, err)
	}
	return out, nil
}

// mapBytes and listBytes are what a new map or list of n entries takes.
func mapBytes(n int) int64  { return 48 + int64(n)*entryBytes/2 }
func listBytes(n int) int64 { return 24 + int64(n)*slotBytes }

// deepCopy copies JSON-shaped containers; other values are immutable or
// returned as they are.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// Redact returns what may be recorded of cfg, a config t rendered: every
// value a template reading a secret produced is replaced, whole, by mask
// (a string holding such a template, an object or list one yielded), so
// that no function of a secret (toBase64(secrets.k.value), a slice of it,
// "Bearer " + it) is recorded. A template reads a secret when it names
// secrets.<connection>.<field> of a field policy calls secret, or an
// output policy says holds one, or reaches secrets or steps in a way only
// run time could tell (secrets[x], a whole connection, $env).
//
// It also returns the strings it replaced, at any depth, for the caller to
// hide wherever they show up again (a remote echoing a header). cfg itself
// is not changed: it is what the connector is given; the result shares
// the values it keeps with it.
func (t *Template) Redact(cfg map[string]any, mask string, policy SecretPolicy) (map[string]any, []string) {
	if t == nil || t.root == nil || !t.UsesSecrets && policy.Step == nil {
		return cfg, nil
	}
	r := &redaction{mask: mask, policy: policy}
	out, _ := r.node(t.root, cfg).(map[string]any)
	return out, r.hidden
}

// redaction walks a template tree beside the config it rendered.
type redaction struct {
	mask   string
	policy SecretPolicy
	hidden []string
}

func (r *redaction) node(n tnode, v any) any {
	switch x := n.(type) {
	case objNode:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = e
		}
		for i, k := range x.keys {
			out[k] = r.node(x.vals[i], m[k])
		}
		return out
	case listNode:
		l, ok := v.([]any)
		if !ok || len(l) != len(x.items) {
			return v
		}
		out := make([]any, len(l))
		for i, it := range x.items {
			out[i] = r.node(it, l[i])
		}
		return out
	case exprNode:
		if x.e.readsSecret(r.policy) {
			return r.hide(v)
		}
	case concatNode:
		for _, p := range x.parts {
			if p.e.readsSecret(r.policy) {
				return r.hide(v)
			}
		}
	}
	return v
}

// hide collects the strings of v and returns the mask in its place.
func (r *redaction) hide(v any) any {
	var collect func(any)
	collect = func(v any) {
		switch x := v.(type) {
		case string:
			r.hidden = append(r.hidden, x)
		case map[string]any:
			for _, e := range x {
				collect(e)
			}
		case []any:
			for _, e := range x {
				collect(e)
			}
		}
	}
	collect(v)
	return r.mask
}

// SingleExpr reports whether s is exactly one `{{ expr }}` (so it keeps
// the value's type) and returns the expression, trimmed.
func SingleExpr(s string) (string, bool) {
	segs, err := parseTemplate(s)
	if err != nil || !singleExpr(segs) {
		return "", false
	}
	return segs[0].src, true
}
