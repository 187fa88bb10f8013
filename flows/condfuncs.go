package flows

// Conditions a business user builds by pointing: rows of field ▸ operator
// ▸ value, joined by "all of" or "any of", with groups one level deep.
// A row is one call of the expression function check:
//
//	check(trigger.body.score, ">=", 70) && check(trigger.body.plan, "is one of", ["pro", "team"])
//
// check reads its field forgivingly, the way a person reads a form: a
// number written as text ("85") is a number, a missing field or a value
// that is not a number makes the row false instead of failing the run, and
// the reason is noted in plain words ("score is missing") in the run's
// condition trace. BuildCondition writes such expressions from rows;
// ParseCondition reads them back, and refuses anything else, which the
// builder then shows in the expression editor.
//
// check runs under the evaluation limits like every other function: the
// limit patcher (guard.go) turns each call into a guarded one that charges
// the meter for the text it scans, the list it searches and the pattern it
// compiles before doing any of it.

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// CheckFunc is the name of the condition function.
const CheckFunc = "check"

// Operators of check, as the expression spells them.
const (
	OpIs            = "is"
	OpIsNot         = "is not"
	OpContains      = "contains"
	OpNotContains   = "does not contain"
	OpStartsWith    = "starts with"
	OpEndsWith      = "ends with"
	OpGreater       = ">"
	OpGreaterEq     = ">="
	OpLess          = "<"
	OpLessEq        = "<="
	OpBefore        = "before"
	OpAfter         = "after"
	OpEmpty         = "is empty"
	OpNotEmpty      = "is not empty"
	OpExists        = "exists"
	OpNotExists     = "does not exist"
	OpMatches       = "matches"
	OpOneOf         = "is one of"
	maxOneOfListLen = 200
)

// CondOp describes one operator for the builder: how it reads and what
// value it takes.
type CondOp struct {
	// Op is the operator as check spells it; Label how the builder shows it.
	Op, Label string
	// Value is "" for operators without a value, else "text", "number",
	// "date", "pattern" or "list" (comma-separated).
	Value string
}

// CondOps lists the operators in the order the builder offers them.
var CondOps = []CondOp{
	{OpIs, "is", "text"},
	{OpIsNot, "is not", "text"},
	{OpContains, "contains", "text"},
	{OpNotContains, "does not contain", "text"},
	{OpStartsWith, "starts with", "text"},
	{OpEndsWith, "ends with", "text"},
	{OpGreater, "number >", "number"},
	{OpGreaterEq, "number ≥", "number"},
	{OpLess, "number <", "number"},
	{OpLessEq, "number ≤", "number"},
	{OpBefore, "date before", "date"},
	{OpAfter, "date after", "date"},
	{OpEmpty, "is empty", ""},
	{OpNotEmpty, "is not empty", ""},
	{OpExists, "exists", ""},
	{OpNotExists, "does not exist", ""},
	{OpMatches, "matches pattern", "pattern"},
	{OpOneOf, "is one of", "list"},
}

// condOp returns the description of op.
func condOp(op string) (CondOp, bool) {
	for _, o := range CondOps {
		if o.Op == op {
			return o, true
		}
	}
	return CondOp{}, false
}

// CondRow is one row of a built condition: a field, an operator and its
// value as the user typed it (a list as comma-separated text). A row with
// a Group is a nested group instead, and its other fields are empty.
type CondRow struct {
	Field string
	Op    string
	Value string
	Group *CondGroup
}

// CondGroup is rows joined by "all of" (Any false) or "any of" (Any true).
type CondGroup struct {
	Any  bool
	Rows []CondRow
}

// Errors of BuildCondition; a *CondRowError wraps them with the row.
var (
	ErrCondNoRows  = errors.New("add at least one row")
	ErrCondField   = errors.New("pick a field")
	ErrCondOp      = errors.New("pick an operator")
	ErrCondNumber  = errors.New("must be a number")
	ErrCondDate    = errors.New("must be a date such as 2026-01-31 or 2026-01-31T09:00:00Z, or now")
	ErrCondPattern = errors.New("is not a valid pattern")
	ErrCondList    = errors.New("list one or more values, separated by commas")
	ErrCondDepth   = errors.New("groups go one level deep")
)

// CondRowError locates a problem of BuildCondition: Path is the row's
// place ("1", or "2.1" for the first row of the second row's group, all
// counted from 1) and Part the part at fault ("field", "op", "value").
type CondRowError struct {
	Path, Part string
	Err        error
}

// Error reads "row 2.1: value: must be a number".
func (e *CondRowError) Error() string {
	return "row " + e.Path + ": " + e.Part + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *CondRowError) Unwrap() error { return e.Err }

// BuildCondition writes the expression of a built condition. Every field
// must be a plain path such as trigger.body.score or
// steps.lookup.output["first name"] (anything else could smuggle an
// expression in); values are written as literals, so nothing a user types
// becomes code.
func BuildCondition(g CondGroup) (string, error) {
	return buildGroup(g, "", 0)
}

func buildGroup(g CondGroup, at string, depth int) (string, error) {
	if len(g.Rows) == 0 {
		return "", &CondRowError{Path: strings.TrimSuffix(at, "."), Part: "rows", Err: ErrCondNoRows}
	}
	join := " && "
	if g.Any {
		join = " || "
	}
	parts := make([]string, 0, len(g.Rows))
	for i, r := range g.Rows {
		path := at + strconv.Itoa(i+1)
		if r.Group != nil {
			if depth > 0 {
				return "", &CondRowError{Path: path, Part: "group", Err: ErrCondDepth}
			}
			s, err := buildGroup(*r.Group, path+".", depth+1)
			if err != nil {
				return "", err
			}
			if len(r.Group.Rows) > 1 && r.Group.Any != g.Any {
				s = "(" + s + ")"
			}
			parts = append(parts, s)
			continue
		}
		s, err := buildRow(r, path)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, join), nil
}

// buildRow writes one row as a call of check.
func buildRow(r CondRow, at string) (string, error) {
	field, err := canonicalPath(r.Field)
	if err != nil {
		return "", &CondRowError{Path: at, Part: "field", Err: err}
	}
	op, ok := condOp(r.Op)
	if !ok {
		return "", &CondRowError{Path: at, Part: "op", Err: ErrCondOp}
	}
	call := CheckFunc + "(" + field + ", " + strconv.Quote(op.Op)
	if op.Value == "" {
		return call + ")", nil
	}
	lit, err := valueLiteral(op, r.Value)
	if err != nil {
		return "", &CondRowError{Path: at, Part: "value", Err: err}
	}
	return call + ", " + lit + ")", nil
}

// valueLiteral writes what the user typed as the literal op takes.
func valueLiteral(op CondOp, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch op.Value {
	case "number":
		f, ok := parseNumber(v)
		if !ok {
			return "", ErrCondNumber
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case "date":
		if _, ok := parseDate(v, time.Time{}); !ok {
			return "", ErrCondDate
		}
	case "pattern":
		if _, err := syntax.Parse(v, syntax.Perl); err != nil || v == "" {
			return "", ErrCondPattern
		}
	case "list":
		items := splitList(v)
		if len(items) == 0 || len(items) > maxOneOfListLen {
			return "", ErrCondList
		}
		q := make([]string, len(items))
		for i, s := range items {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]", nil
	}
	return strconv.Quote(v), nil
}

// splitList reads comma-separated values, trimmed, empty ones dropped.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// canonicalPath checks that p is a plain path from a top-level variable
// (names, quoted names and list indexes) and writes it the way the Insert
// data panel does.
func canonicalPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", ErrCondField
	}
	tree, err := parser.Parse(p)
	if err != nil {
		return "", fmt.Errorf("%q is not a field", p)
	}
	s, ok := printPath(tree.Node)
	if !ok {
		return "", fmt.Errorf("%q is not a field", p)
	}
	return s, nil
}

// printPath writes a member chain such as trigger.body["a b"][0] (optional
// access printed as plain access), or reports that n is not one.
func printPath(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.ChainNode:
		return printPath(x.Node)
	case *ast.IdentifierNode:
		switch x.Value {
		case VarTrigger, VarSteps, VarRun, VarFlow, VarItem, VarIndex:
			return x.Value, true
		}
		return "", false
	case *ast.MemberNode:
		if x.Method {
			return "", false
		}
		base, ok := printPath(x.Node)
		if !ok {
			return "", false
		}
		switch prop := x.Property.(type) {
		case *ast.StringNode:
			if stepIDPattern.MatchString(prop.Value) { // a name as the Insert data panel writes one
				return base + "." + prop.Value, true
			}
			return base + "[" + strconv.Quote(prop.Value) + "]", true
		case *ast.IntegerNode:
			// The variables are objects: trigger[0] does not compile.
			if _, atRoot := x.Node.(*ast.IdentifierNode); atRoot || prop.Value < 0 {
				return "", false
			}
			return base + "[" + strconv.Itoa(prop.Value) + "]", true
		}
	}
	return "", false
}

// ParseCondition reads an expression written by BuildCondition (or one
// like it: and/or spelled either way, parentheses as needed) back into
// rows. Anything else (another function, a comparison, not, a group inside
// a group) is not a simple condition: ok is false and the builder keeps
// the expression as text.
func ParseCondition(src string) (g CondGroup, ok bool) {
	if strings.TrimSpace(src) == "" || len(src) > MaxExprLen {
		return CondGroup{}, false
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return CondGroup{}, false
	}
	defer func() {
		// The parser's trees are well formed; this only guards against a
		// node shape this reader did not expect.
		if recover() != nil {
			g, ok = CondGroup{}, false
		}
	}()
	return parseGroup(tree.Node, 0)
}

// logicOp reports whether n is && or || and which.
func logicOp(n ast.Node) (anyOf, ok bool) {
	b, isBin := n.(*ast.BinaryNode)
	if !isBin {
		return false, false
	}
	switch b.Operator {
	case "&&", "and":
		return false, true
	case "||", "or":
		return true, true
	}
	return false, false
}

func parseGroup(n ast.Node, depth int) (CondGroup, bool) {
	anyOf, isLogic := logicOp(n)
	g := CondGroup{Any: anyOf}
	var terms []ast.Node
	var flatten func(n ast.Node)
	flatten = func(n ast.Node) {
		if a, ok := logicOp(n); ok && a == anyOf {
			b := n.(*ast.BinaryNode)
			flatten(b.Left)
			flatten(b.Right)
			return
		}
		terms = append(terms, n)
	}
	if isLogic {
		flatten(n)
	} else {
		terms = []ast.Node{n}
	}
	for _, t := range terms {
		if _, ok := logicOp(t); ok {
			if depth > 0 {
				return CondGroup{}, false
			}
			sub, ok := parseGroup(t, depth+1)
			if !ok {
				return CondGroup{}, false
			}
			g.Rows = append(g.Rows, CondRow{Group: &sub})
			continue
		}
		r, ok := parseRow(t)
		if !ok {
			return CondGroup{}, false
		}
		g.Rows = append(g.Rows, r)
	}
	return g, true
}

// parseRow reads one call of check.
func parseRow(n ast.Node) (CondRow, bool) {
	call, ok := n.(*ast.CallNode)
	if !ok {
		return CondRow{}, false
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || callee.Value != CheckFunc || len(call.Arguments) < 2 || len(call.Arguments) > 3 {
		return CondRow{}, false
	}
	field, ok := printPath(call.Arguments[0])
	if !ok {
		return CondRow{}, false
	}
	opNode, ok := call.Arguments[1].(*ast.StringNode)
	if !ok {
		return CondRow{}, false
	}
	op, ok := condOp(opNode.Value)
	if !ok || (op.Value == "") != (len(call.Arguments) == 2) {
		return CondRow{}, false
	}
	r := CondRow{Field: field, Op: op.Op}
	if op.Value == "" {
		return r, true
	}
	v, ok := literalText(call.Arguments[2], op)
	if !ok {
		return CondRow{}, false
	}
	// A value the builder would refuse (a date it cannot read) stays in
	// the expression editor, where it is shown as written.
	if _, err := valueLiteral(op, v); err != nil {
		return CondRow{}, false
	}
	r.Value = v
	return r, true
}

// literalText is the text a user would type for a literal value: numbers
// as written, strings as they are, a list of strings joined by ", " (a
// list whose items hold commas cannot be typed that way).
func literalText(n ast.Node, op CondOp) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		if op.Value == "list" || op.Value == "number" {
			return "", false
		}
		if x.Value != strings.TrimSpace(x.Value) {
			return "", false
		}
		return x.Value, true
	case *ast.IntegerNode:
		if op.Value != "number" {
			return "", false
		}
		return strconv.Itoa(x.Value), true
	case *ast.FloatNode:
		if op.Value != "number" || math.IsInf(x.Value, 0) || math.IsNaN(x.Value) {
			return "", false
		}
		return strconv.FormatFloat(x.Value, 'f', -1, 64), true
	case *ast.UnaryNode:
		if x.Operator != "-" || op.Value != "number" {
			return "", false
		}
		s, ok := literalText(x.Node, op)
		if !ok || strings.HasPrefix(s, "-") {
			return "", false
		}
		if s == "0" {
			return "0", true
		}
		return "-" + s, true
	case *ast.ArrayNode:
		if op.Value != "list" || len(x.Nodes) == 0 || len(x.Nodes) > maxOneOfListLen {
			return "", false
		}
		items := make([]string, len(x.Nodes))
		for i, e := range x.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok || strings.Contains(s.Value, ",") || strings.TrimSpace(s.Value) != s.Value || s.Value == "" {
				return "", false
			}
			items[i] = s.Value
		}
		return strings.Join(items, ", "), true
	}
	return "", false
}

// checkCall is check itself: args are the field's name for notes, the
// field's root value and the keys below it (patchCheck), the operator and
// its operand when it takes one. It
// charges the meter for its work before doing it, and notes in plain
// words why a row is false when the data is at fault.
func checkCall(m *meter, args []any) (any, error) {
	if len(args) < 4 || len(args) > 5 {
		return nil, fmt.Errorf("check takes a field, an operator and maybe a value")
	}
	name, _ := args[0].(string)
	keys, _ := args[2].([]any)
	v := walkPath(args[1], keys)
	opName, _ := args[3].(string)
	op, ok := condOp(opName)
	if !ok {
		return nil, fmt.Errorf("check: unknown operator %q", opName)
	}
	var operand any
	if len(args) == 5 {
		operand = args[4]
	}
	note := func(format string, a ...any) (any, error) {
		m.note(name + " " + fmt.Sprintf(format, a...))
		return false, nil
	}
	switch op.Op {
	case OpExists:
		return v != nil, nil
	case OpNotExists:
		return v == nil, nil
	case OpEmpty:
		return isEmpty(v), nil
	case OpNotEmpty:
		return !isEmpty(v), nil
	}
	if v == nil {
		return note("is missing")
	}
	// What follows reads v and the operand as text, or walks them as
	// lists: charge for both, memory and time, before doing it.
	size, err := textSize(m, v)
	if err != nil {
		return nil, err
	}
	osize, err := textSize(m, operand)
	if err != nil {
		return nil, err
	}
	// Memory: the text made of a list or an object, and the lower-case
	// copies the text operators compare.
	var mem int64
	for _, x := range []struct {
		v    any
		size int64
	}{{v, size}, {operand, osize}} {
		switch x.v.(type) {
		case string, float64, int, int64, bool, nil:
		default:
			mem += x.size
		}
	}
	switch op.Op {
	case OpContains, OpNotContains, OpStartsWith, OpEndsWith:
		mem += size + osize
	}
	if err := m.charge(mem); err != nil {
		return nil, err
	}
	if err := m.work(1 + (size+osize)/bytesPerStep + int64(lenOf(operand))/comparesPerStep); err != nil {
		return nil, err
	}
	switch op.Op {
	case OpIs:
		return looseEqual(v, operand), nil
	case OpIsNot:
		return !looseEqual(v, operand), nil
	case OpContains, OpNotContains:
		has := containsLoose(v, operand)
		return has == (op.Op == OpContains), nil
	case OpStartsWith:
		return strings.HasPrefix(strings.ToLower(textOf(v)), strings.ToLower(textOf(operand))), nil
	case OpEndsWith:
		return strings.HasSuffix(strings.ToLower(textOf(v)), strings.ToLower(textOf(operand))), nil
	case OpGreater, OpGreaterEq, OpLess, OpLessEq:
		a, ok := numberOf(v)
		if !ok {
			return note("is not a number")
		}
		b, ok := numberOf(operand)
		if !ok {
			return nil, fmt.Errorf("check: %q needs a number to compare with (got %s)", op.Op, describe(operand))
		}
		switch op.Op {
		case OpGreater:
			return a > b, nil
		case OpGreaterEq:
			return a >= b, nil
		case OpLess:
			return a < b, nil
		default:
			return a <= b, nil
		}
	case OpBefore, OpAfter:
		now := time.Now()
		a, ok := dateOf(v, now)
		if !ok {
			return note("is not a date")
		}
		b, ok := dateOf(operand, now)
		if !ok {
			return nil, fmt.Errorf("check: %q needs a date to compare with (got %s)", op.Op, describe(operand))
		}
		if op.Op == OpBefore {
			return a.Before(b), nil
		}
		return a.After(b), nil
	case OpMatches:
		pattern, ok := operand.(string)
		if !ok {
			return nil, fmt.Errorf("check: matches needs a text pattern (got %s)", describe(operand))
		}
		re, err := compileRegex(m, pattern)
		if err != nil {
			if isLimitError(err) {
				return nil, err
			}
			return note("cannot be matched: the pattern is not valid")
		}
		s := textOf(v)
		if err := m.work(1 + mulSat(int64(len(s)), re.insts)/regexInstBytesPerStep); err != nil {
			return nil, err
		}
		return re.re.MatchString(s), nil
	case OpOneOf:
		list, ok := operand.([]any)
		if !ok {
			return nil, fmt.Errorf("check: is one of needs a list (got %s)", describe(operand))
		}
		for _, e := range list {
			if looseEqual(v, e) {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, fmt.Errorf("check: unknown operator %q", opName)
}

// isEmpty: missing, null, blank text, an empty list or object.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// looseEqual compares as a person would: numbers (or numeric text) as
// numbers, everything else as the text a template would print.
func looseEqual(a, b any) bool {
	if x, ok := numberOf(a); ok {
		if y, ok := numberOf(b); ok {
			return x == y
		}
	}
	if _, ok := a.(map[string]any); ok {
		return false
	}
	if _, ok := a.([]any); ok {
		return false
	}
	return textOf(a) == textOf(b)
}

// containsLoose: a list contains an equal element; text contains text,
// ignoring case.
func containsLoose(v, sub any) bool {
	if list, ok := v.([]any); ok {
		for _, e := range list {
			if looseEqual(e, sub) {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(textOf(v)), strings.ToLower(textOf(sub)))
}

// numberOf reads a number, or text that is one ("85", " 1.5e3 ").
func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		return parseNumber(x)
	}
	return 0, false
}

// parseNumber reads a finite decimal number, allowing surrounding space.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// dateOf reads a date: text in one of the usual layouts, or a number of
// seconds since 1970 (what many APIs send).
func dateOf(v any, now time.Time) (time.Time, bool) {
	if s, ok := v.(string); ok {
		return parseDate(s, now)
	}
	if f, ok := numberOf(v); ok && f > 0 && f < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), true
	}
	return time.Time{}, false
}

// dateLayouts are the layouts dateOf reads; a date without a zone is UTC.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02", time.RFC1123Z, time.RFC1123}

// parseDate reads a date in one of dateLayouts, or "now" (which needs a
// clock: a zero now refuses it).
func parseDate(s string, now time.Time) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "now") {
		return now, true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// fieldName is how a note names a field: a trigger body's field by its
// own path ("score", "customer.email"), anything else by its whole path.
func fieldName(n ast.Node) string {
	p, ok := printPath(n)
	if !ok {
		return "the value"
	}
	if rest, ok := strings.CutPrefix(p, "trigger.body."); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(p, "trigger.body["); ok {
		return strings.TrimSuffix(rest, "]")
	}
	return p
}

// patchCheck rewrites a call of check for the limits and the trace. A
// field that is a plain path is passed as its root variable and the
// constant keys below it, which check walks itself: a missing key, or a
// key of something that is not an object (a text body), reads as missing
// instead of failing the run. The field's name goes first, for notes, and
// the call goes to the guarded function, which gets the meter.
func patchCheck(node *ast.Node, n *ast.CallNode) {
	if len(n.Arguments) == 0 {
		return
	}
	name := &ast.StringNode{Value: fieldName(n.Arguments[0])}
	name.SetType(stringType)
	root, keys, ok := splitPath(n.Arguments[0])
	if !ok {
		// Any other value (a hand-written check(len(x), ">", 3)) is
		// read as it is.
		root, keys = n.Arguments[0], nil
	}
	path := &ast.ConstantNode{Value: keys}
	path.SetType(anySliceType)
	args := append([]ast.Node{name, root, path}, n.Arguments[1:]...)
	replace(node, guardPrefix+CheckFunc, args)
}

var anySliceType = reflect.TypeOf([]any{})

// splitPath splits a plain path into its root variable and the constant
// keys (strings, list indexes) below it.
func splitPath(n ast.Node) (ast.Node, []any, bool) {
	var keys []any
	for cur := n; ; {
		switch x := cur.(type) {
		case *ast.ChainNode:
			cur = x.Node
			continue
		case *ast.MemberNode:
			if x.Method {
				return nil, nil, false
			}
			switch p := x.Property.(type) {
			case *ast.StringNode:
				keys = append(keys, p.Value)
			case *ast.IntegerNode:
				keys = append(keys, p.Value)
			default:
				return nil, nil, false
			}
			cur = x.Node
			continue
		case *ast.IdentifierNode:
			if len(keys) == 0 {
				return nil, nil, false
			}
			slices.Reverse(keys)
			return x, keys, true
		}
		return nil, nil, false
	}
}

// walkPath reads the value at keys below v; anything on the way that is
// not an object or list, or a key that is not there, makes it missing.
func walkPath(v any, keys []any) any {
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			s, ok := k.(string)
			if !ok {
				return nil
			}
			v = x[s]
		case []any:
			i, ok := k.(int)
			if !ok || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// checkCallsValid refuses, when the flow is saved, a call of check whose
// operator is spelled out and unknown, or takes a value and has none (or
// the other way round), or whose spelled-out value is of the wrong kind
// (a number operator with text): run time would only fail the run.
func checkCallsValid(src string, root ast.Node) error {
	v := &checkCallVisitor{}
	ast.Walk(&root, v)
	if v.err == nil {
		return nil
	}
	return errors.New(exprMessage(v.err.Bind(file.NewSource(src))))
}

type checkCallVisitor struct{ err *file.Error }

// Visit implements ast.Visitor.
func (v *checkCallVisitor) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || v.err != nil {
		return
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || callee.Value != CheckFunc || len(call.Arguments) < 2 {
		return
	}
	opNode, ok := call.Arguments[1].(*ast.StringNode)
	if !ok {
		return
	}
	at := func(n ast.Node, format string, a ...any) {
		v.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, a...)}
	}
	op, ok := condOp(opNode.Value)
	if !ok {
		names := make([]string, len(CondOps))
		for i, o := range CondOps {
			names[i] = strconv.Quote(o.Op)
		}
		at(opNode, "check: unknown operator %q (use one of %s)", opNode.Value, strings.Join(names, ", "))
		return
	}
	switch {
	case op.Value == "" && len(call.Arguments) == 3:
		at(opNode, "check: %q takes no value", op.Op)
	case op.Value != "" && len(call.Arguments) == 2:
		at(opNode, "check: %q needs a value", op.Op)
	case op.Value != "" && isLiteral(call.Arguments[2]):
		arg := call.Arguments[2]
		s, isText := arg.(*ast.StringNode)
		bad := false
		switch op.Value {
		case "number":
			_, isInt := arg.(*ast.IntegerNode)
			_, isFloat := arg.(*ast.FloatNode)
			bad = !isInt && !isFloat
		case "list":
			_, folded := arg.(*ast.ConstantNode)
			bad = !folded
		case "date":
			_, date := parseDate(textOfNode(s, isText), time.Now())
			bad = !isText || !date
		case "pattern":
			_, err := syntax.Parse(textOfNode(s, isText), syntax.Perl)
			bad = !isText || err != nil
		}
		if bad {
			at(arg, "check: %q needs %s", op.Op, condValueWords(op.Value))
		}
	}
}

func textOfNode(s *ast.StringNode, ok bool) string {
	if !ok {
		return ""
	}
	return s.Value
}

// condValueWords says what kind of value an operator takes.
func condValueWords(kind string) string {
	switch kind {
	case "number":
		return "a number"
	case "date":
		return "a date"
	case "list":
		return "a list such as [\"a\", \"b\"]"
	case "pattern":
		return "a pattern"
	}
	return "a text value"
}

// CondRowResult is how one row of a condition turned out against a
// sample: its result and, when the data made it false, why.
type CondRowResult struct {
	Result bool
	Note   string
	Err    error
}

// ExplainCondition evaluates a condition against env (such as a flow's
// latest event) and returns its result with the plain-words notes check
// made. It compiles src as a saved condition is compiled, under the same
// limits.
func ExplainCondition(src string, env Env) (bool, []string, error) {
	// An env holding item is a loop's inner step's: item and index are
	// in scope there.
	_, inLoop := env[VarItem]
	n, err := compileSample(src, KindCondition, inLoop)
	if err != nil {
		return false, nil, err
	}
	vars := sampleVars(KindCondition)
	if inLoop {
		vars = shapeLoop.vars()
	}
	ev := newEvaluation(env, vars, false)
	v, err := n.render(ev)
	if err != nil {
		return false, ev.m.notes, err
	}
	b, _ := v.(bool)
	return b, ev.m.notes, nil
}

// ExplainRows evaluates each row of g on its own (a group as a whole), for
// the builder's live result per row.
func ExplainRows(g CondGroup, env Env) []CondRowResult {
	out := make([]CondRowResult, len(g.Rows))
	for i, r := range g.Rows {
		var src string
		var err error
		if r.Group != nil {
			src, err = BuildCondition(*r.Group)
		} else {
			src, err = buildRow(r, strconv.Itoa(i+1))
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		ok, notes, err := ExplainCondition(src, env)
		out[i] = CondRowResult{Result: ok, Note: strings.Join(notes, "; "), Err: err}
	}
	return out
}
