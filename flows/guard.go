package flows

// How the evaluation limits (limits.go) reach inside expr's virtual machine.
//
// expr's own memory budget counts list elements only: strings.Repeat and
// string concatenation allocate before anything is counted, and loops have
// no bound at all. expr offers no hook inside its VM, so the limits are put
// into each program when it is compiled: a patcher (an ast.Visitor run
// after type checking, before byte code is emitted) rewrites
//
//   - every call of a builtin that builds a string or a list (repeat,
//     replace, join, split, toJSON, ...) and of escapeHTML and escapeQuery
//     into a call of a guard that estimates what the call will allocate and
//     how long it will take, charges the evaluation's meter, and only then
//     calls expr's own implementation;
//   - string concatenation (+), regular expression matches and comparisons
//     of two computed values into guarded calls;
//   - every predicate ({...} of all, filter, map, reduce, ...) into one that
//     counts a step before its body runs, so every turn of every loop is
//     counted and the clock is read;
//   - method calls (now().Format(...)) and groupBy into calls whose result
//     is charged once it exists (their output is at most a small multiple
//     of their input, which was charged already).
//
// The guard reaches the meter through the evaluation's environment: the
// patcher passes $env (the whole environment map) as the last argument.
// Last, because a rewritten node may sit inside an optional chain (a?.b)
// whose jump on nil must not leave anything of the guard on the stack.
//
// Each rewritten node keeps the type the checker gave the original, so
// compiling the rewritten program does not lose the checker's work; and a
// program is first compiled without the patcher, so type errors are
// reported exactly as expr reports them.

import (
	"fmt"
	"html"
	"math"
	"math/bits"
	"net/url"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// Names of the guard functions. A space cannot occur in an identifier, so
// no expression can call them itself.
const (
	guardPrefix = "$guard "
	guardTick   = guardPrefix + "tick"
	guardAfter  = guardPrefix + "after"
	guardAdd    = guardPrefix + "+"
	guardMatch  = guardPrefix + "matches"
	guardEqual  = guardPrefix + "=="
	guardNotEq  = guardPrefix + "!="
	guardIn     = guardPrefix + "in"
)

// Cost estimates, in bytes and steps.
const (
	// slotBytes is what one element of a list or one entry of an object
	// costs, before what it holds.
	slotBytes = 16
	// entryBytes is one entry of a map built by a function.
	entryBytes = 64
	// bytesPerStep is how many bytes of copying or scanning make a step.
	bytesPerStep = 100
	// comparesPerStep is how many value comparisons make a step.
	comparesPerStep = 5
	// regexBytesPerInst is what one instruction of a compiled regular
	// expression takes.
	regexBytesPerInst = 64
	// regexInstBytesPerStep is how many (byte × instruction) pairs of a
	// match make a step.
	regexInstBytesPerStep = 50
)

// guard describes one guarded function: cost estimates its memory and
// steps from its arguments before call runs it.
type guard struct {
	cost func(m *meter, args []any) (mem, steps int64, err error)
	call func(args []any) (any, error)
	// metered, when set, is called instead of call with the meter, for a
	// function that charges as it goes (check, condfuncs.go).
	metered func(m *meter, args []any) (any, error)
}

// guards are keyed by the name expressions call them by: expr's builtins
// and Switchyard's own functions.
var guards = map[string]guard{
	"repeat": {cost: costRepeat},
	"replace": {cost: func(_ *meter, a []any) (int64, int64, error) {
		s, old, nw := str(a, 0), str(a, 1), str(a, 2)
		n := int64(-1)
		if len(a) > 3 {
			n = toInt64(a[3])
		}
		count := int64(strings.Count(s, old))
		if n >= 0 && n < count {
			count = n
		}
		grow := int64(len(nw)) - int64(len(old))
		if grow > 0 && count > 0 && grow > (EvalMemoryLimit+int64(len(s)))/count {
			return 0, 0, ErrMemoryLimit
		}
		out := int64(len(s)) + count*grow
		return out, (int64(len(s)) + out) / bytesPerStep, nil
	}},
	"join": {cost: func(_ *meter, a []any) (int64, int64, error) {
		glue := int64(len(str(a, 1)))
		var n, size int64
		each(arg(a, 0), func(v any) {
			s, _ := v.(string)
			size += int64(len(s)) + glue
			n++
		})
		return size + n*slotBytes, size / bytesPerStep, nil
	}},
	"split":      {cost: costSplit},
	"splitAfter": {cost: costSplit},
	"upper":      {cost: costCase},
	"lower":      {cost: costCase},
	"toBase64": {cost: func(_ *meter, a []any) (int64, int64, error) {
		n := int64(len(str(a, 0)))
		return (n+2)/3*4 + 16, n / bytesPerStep, nil
	}},
	"fromBase64": {cost: func(_ *meter, a []any) (int64, int64, error) {
		n := int64(len(str(a, 0)))
		return n/4*3 + 16, n / bytesPerStep, nil
	}},
	"toJSON": {cost: func(m *meter, a []any) (int64, int64, error) {
		size, err := jsonSize(m, arg(a, 0), true)
		return size, size / bytesPerStep, err
	}},
	"fromJSON": {cost: func(_ *meter, a []any) (int64, int64, error) {
		s := str(a, 0)
		// Each value of the document becomes a boxed Go value in a list
		// or map, several times its few bytes of text.
		values := int64(strings.Count(s, ",") + strings.Count(s, "[") + strings.Count(s, "{") + 1)
		return int64(len(s)) + values*entryBytes, int64(len(s)) / bytesPerStep * 4, nil
	}},
	"string": {cost: func(m *meter, a []any) (int64, int64, error) {
		// fmt prints what JSON would, give or take a little syntax.
		size, err := jsonSize(m, arg(a, 0), false)
		return 2*size + 16, size / bytesPerStep, err
	}},
	"keys":    {cost: costSlots(1)},
	"values":  {cost: costSlots(1)},
	"reverse": {cost: costSlots(1)},
	"toPairs": {cost: costSlots(5)},
	"fromPairs": {cost: func(_ *meter, a []any) (int64, int64, error) {
		n := int64(lenOf(arg(a, 0)))
		return n * entryBytes, n, nil
	}},
	"uniq": {cost: func(_ *meter, a []any) (int64, int64, error) {
		// uniq compares every element with every one kept so far.
		n := int64(lenOf(arg(a, 0)))
		return n * slotBytes, mulSat(n, n) / 2 / comparesPerStep, nil
	}},
	"concat": {cost: func(_ *meter, a []any) (int64, int64, error) {
		var n int64
		for _, v := range a {
			n += int64(lenOf(v))
		}
		return n * slotBytes, n / comparesPerStep, nil
	}},
	"flatten": {cost: func(m *meter, a []any) (int64, int64, error) {
		n, err := leaves(m, arg(a, 0), 0)
		return n * slotBytes, n / comparesPerStep, err
	}},
	"sort":   {cost: costSort},
	"median": {cost: costSort},
	"escapeHTML": {
		cost: func(m *meter, a []any) (int64, int64, error) {
			n, err := textSize(m, arg(a, 0))
			// The longest escape, &#34;, is five bytes for one.
			return 5 * n, n / bytesPerStep, err
		},
		call: func(a []any) (any, error) { return html.EscapeString(textOf(a[0])), nil },
	},
	// check charges as it goes: what it costs depends on its operator.
	CheckFunc: {
		cost:    func(*meter, []any) (int64, int64, error) { return 0, 0, nil },
		metered: checkCall,
	},
	"escapeQuery": {
		cost: func(m *meter, a []any) (int64, int64, error) {
			n, err := textSize(m, arg(a, 0))
			return 3 * n, n / bytesPerStep, err
		},
		call: func(a []any) (any, error) { return url.QueryEscape(textOf(a[0])), nil },
	},
}

func costRepeat(_ *meter, a []any) (int64, int64, error) {
	s, n := int64(len(str(a, 0))), toInt64(arg(a, 1))
	if n < 0 {
		return 0, 0, nil // expr reports the bad count
	}
	if s > 0 && n > EvalMemoryLimit/s {
		return 0, 0, ErrMemoryLimit
	}
	return s * n, s * n / bytesPerStep, nil
}

func costSplit(_ *meter, a []any) (int64, int64, error) {
	s, sep := str(a, 0), str(a, 1)
	parts := int64(strings.Count(s, sep)) + 1
	if sep == "" {
		parts = int64(utf8.RuneCountInString(s))
	}
	if len(a) > 2 {
		if n := toInt64(a[2]); n >= 0 && n < parts {
			parts = n
		}
	}
	return parts*slotBytes + 24, int64(len(s)) / bytesPerStep, nil
}

func costCase(_ *meter, a []any) (int64, int64, error) {
	// Changing case can make a UTF-8 sequence a byte longer.
	n := int64(len(str(a, 0)))
	return n + n/2 + 16, n / bytesPerStep, nil
}

func costSort(_ *meter, a []any) (int64, int64, error) {
	n := int64(lenOf(arg(a, 0)))
	return n * slotBytes, n * int64(bits.Len64(uint64(n))) / comparesPerStep, nil
}

// costSlots charges k slots per element of the first argument.
func costSlots(k int64) func(*meter, []any) (int64, int64, error) {
	return func(_ *meter, a []any) (int64, int64, error) {
		n := int64(lenOf(arg(a, 0)))
		return k * n * slotBytes, n / comparesPerStep, nil
	}
}

// guardFunction builds the function a guarded call is compiled to: the
// caller's arguments followed by the environment.
func guardFunction(name string, g guard) func(params ...any) (any, error) {
	call := g.call
	if call == nil && g.metered == nil {
		call = builtinCall(name)
	}
	return func(params ...any) (any, error) {
		last := len(params) - 1
		m, args := meterOf(params[last]), params[:last]
		mem, steps, err := g.cost(m, args)
		if err != nil {
			return nil, m.fail(err)
		}
		if err := m.charge(mem); err != nil {
			return nil, err
		}
		if err := m.work(1 + steps); err != nil {
			return nil, err
		}
		if g.metered != nil {
			return g.metered(m, args)
		}
		return call(args)
	}
}

// builtinCall returns expr's own implementation of a builtin.
func builtinCall(name string) func([]any) (any, error) {
	f := builtin.Builtins[builtin.Index[name]]
	switch {
	case f.Fast != nil:
		return func(a []any) (any, error) {
			if len(a) != 1 {
				return nil, fmt.Errorf("invalid number of arguments for %s (expected 1, got %d)", name, len(a))
			}
			return f.Fast(a[0]), nil
		}
	case f.Safe != nil:
		return func(a []any) (any, error) {
			out, _, err := f.Safe(a...)
			return out, err
		}
	default:
		return func(a []any) (any, error) { return f.Func(a...) }
	}
}

// fail records a limit error found by a cost estimate.
func (m *meter) fail(err error) error {
	if m.err == nil && isLimitError(err) {
		m.err = err
	}
	return err
}

// guardOperators are the guarded forms of the operators the patcher
// rewrites, and of a predicate's turn.
var guardOperators = map[string]func(params ...any) (any, error){
	guardTick: func(p ...any) (any, error) {
		return true, meterOf(p[len(p)-1]).tick()
	},
	guardAfter: func(p ...any) (any, error) {
		m := meterOf(p[len(p)-1])
		if err := m.charge(shallowSize(p[0])); err != nil {
			return nil, err
		}
		return p[0], nil
	},
	guardAdd: func(p ...any) (any, error) {
		m := meterOf(p[2])
		if a, ok := p[0].(string); ok {
			if b, ok := p[1].(string); ok {
				n := int64(len(a)) + int64(len(b))
				if err := m.charge(n); err != nil {
					return nil, err
				}
				if err := m.work(1 + n/bytesPerStep); err != nil {
					return nil, err
				}
				return a + b, nil
			}
		}
		if err := m.tick(); err != nil {
			return nil, err
		}
		return runtime.Add(p[0], p[1]), nil
	},
	guardEqual: func(p ...any) (any, error) {
		if err := meterOf(p[2]).work(1); err != nil {
			return nil, err
		}
		return runtime.Equal(p[0], p[1]), nil
	},
	guardNotEq: func(p ...any) (any, error) {
		if err := meterOf(p[2]).work(1); err != nil {
			return nil, err
		}
		return !runtime.Equal(p[0], p[1]), nil
	},
	guardIn: func(p ...any) (any, error) {
		if err := meterOf(p[2]).work(1 + int64(lenOf(p[1]))/comparesPerStep); err != nil {
			return nil, err
		}
		return runtime.In(p[0], p[1]), nil
	},
	guardMatch: guardedMatch,
}

// guardedMatch is `s matches pattern`: the pattern is compiled (and
// cached), and the match is charged for its worst case, the length of the
// text times the size of the compiled pattern.
func guardedMatch(p ...any) (any, error) {
	m := meterOf(p[2])
	if runtime.IsNil(p[0]) || runtime.IsNil(p[1]) {
		return false, nil
	}
	pattern, ok := p[1].(string)
	if !ok {
		return nil, fmt.Errorf("invalid operation: matches needs a string pattern (got %T)", p[1])
	}
	re, err := compileRegex(m, pattern)
	if err != nil {
		return nil, err
	}
	switch s := p[0].(type) {
	case string:
		if err := m.work(1 + mulSat(int64(len(s)), re.insts)/regexInstBytesPerStep); err != nil {
			return nil, err
		}
		return re.re.MatchString(s), nil
	case []byte:
		if err := m.work(1 + mulSat(int64(len(s)), re.insts)/regexInstBytesPerStep); err != nil {
			return nil, err
		}
		return re.re.Match(s), nil
	default:
		return nil, fmt.Errorf("invalid operation: %T matches string", p[0])
	}
}

// cachedRegex is a compiled pattern and the number of instructions of its
// program.
type cachedRegex struct {
	re    *regexp.Regexp
	insts int64
}

// regexCache keeps compiled patterns: a flow's constant patterns are
// compiled once. It is emptied when full, which only patterns taken from
// payloads can make it.
var regexCache = struct {
	sync.RWMutex
	m map[string]*cachedRegex
}{m: map[string]*cachedRegex{}}

const regexCacheSize = 512

func compileRegex(m *meter, pattern string) (*cachedRegex, error) {
	regexCache.RLock()
	c := regexCache.m[pattern]
	regexCache.RUnlock()
	if c != nil {
		return c, nil
	}
	// Parsing is linear in the pattern; the program it compiles to can be
	// a thousand times larger (a{1000}), so its size is worked out from
	// the parse tree and charged before compiling.
	if err := m.work(1 + int64(len(pattern))/bytesPerStep); err != nil {
		return nil, err
	}
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern: %w", err)
	}
	insts := regexInsts(tree)
	if err := m.charge(mulSat(insts, regexBytesPerInst)); err != nil {
		return nil, err
	}
	if err := m.work(insts); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern: %w", err)
	}
	c = &cachedRegex{re: re, insts: max(insts, 1)}
	regexCache.Lock()
	if len(regexCache.m) >= regexCacheSize {
		regexCache.m = map[string]*cachedRegex{}
	}
	regexCache.m[pattern] = c
	regexCache.Unlock()
	return c, nil
}

// regexInsts is an upper bound of the instructions a parsed pattern
// compiles to: repetitions are expanded, as the compiler does.
func regexInsts(re *syntax.Regexp) int64 {
	var n int64 = 1
	for _, sub := range re.Sub {
		n += regexInsts(sub)
	}
	switch re.Op {
	case syntax.OpLiteral:
		n += int64(len(re.Rune))
	case syntax.OpRepeat:
		times := int64(re.Max)
		if times < 0 {
			times = int64(re.Min) + 1
		}
		n = mulSat(n, max(times, 1)) + 1
	}
	return n
}

// guardOptions register the guard functions with the compiler. Their
// signature is variadic any; each rewritten call carries the checked type
// of the node it replaces.
var guardOptions = func() []expr.Option {
	var opts []expr.Option
	add := func(name string, fn func(params ...any) (any, error)) {
		opts = append(opts, func(c *conf.Config) {
			c.Functions[name] = &builtin.Function{Name: name, Func: fn}
		})
	}
	for name, g := range guards {
		add(guardPrefix+name, guardFunction(name, g))
	}
	for name, fn := range guardOperators {
		add(name, fn)
	}
	return append(opts, expr.Patch(limitPatcher{}))
}()

var (
	guardFuncType = reflect.TypeOf(func(...any) (any, error) { return nil, nil })
	boolType      = reflect.TypeOf(true)
	stringType    = reflect.TypeOf("")
)

// limitPatcher rewrites a checked program so that it runs under the
// evaluation limits (see the top of this file).
type limitPatcher struct{}

// Visit implements ast.Visitor. ast.Walk visits children first, so a node
// built here is never visited again.
func (limitPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		tick := guardCall(guardTick, boolType)
		n.Node = withType(&ast.SequenceNode{Nodes: []ast.Node{tick, n.Node}}, n.Node)
	case *ast.BuiltinNode:
		if _, ok := guards[n.Name]; ok {
			replace(node, guardPrefix+n.Name, n.Arguments)
		} else if n.Name == "groupBy" {
			replace(node, guardAfter, []ast.Node{n})
		}
	case *ast.CallNode:
		switch callee := n.Callee.(type) {
		case *ast.IdentifierNode:
			if callee.Value == CheckFunc {
				patchCheck(node, n)
				return
			}
			if _, ok := guards[callee.Value]; ok && !strings.HasPrefix(callee.Value, guardPrefix) {
				replace(node, guardPrefix+callee.Value, n.Arguments)
			}
		case *ast.MemberNode:
			replace(node, guardAfter, []ast.Node{n})
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			t := n.Type()
			if (t == stringType || t.Kind() == reflect.Interface) && !(isLiteral(n.Left) && isLiteral(n.Right)) {
				replace(node, guardAdd, []ast.Node{n.Left, n.Right})
			}
		case "matches":
			replace(node, guardMatch, []ast.Node{n.Left, n.Right})
		case "==", "!=":
			if !isLiteral(n.Left) && !isLiteral(n.Right) && !scalar(n.Left.Type()) && !scalar(n.Right.Type()) {
				name := guardEqual
				if n.Operator == "!=" {
					name = guardNotEq
				}
				replace(node, name, []ast.Node{n.Left, n.Right})
			}
		case "in":
			switch n.Right.(type) {
			case *ast.ArrayNode, *ast.MapNode:
			default:
				if k := n.Right.Type().Kind(); k == reflect.Interface || k == reflect.Slice || k == reflect.Array {
					replace(node, guardIn, []ast.Node{n.Left, n.Right})
				}
			}
		}
	}
}

// guardCall builds a call of a guard function with args followed by $env,
// typed t.
func guardCall(name string, t reflect.Type, args ...ast.Node) *ast.CallNode {
	callee := &ast.IdentifierNode{Value: name}
	callee.SetType(guardFuncType)
	call := &ast.CallNode{Callee: callee, Arguments: append(args, &ast.IdentifierNode{Value: "$env"})}
	call.SetType(t)
	return call
}

// replace puts a guarded call in place of node, keeping its checked
// nature.
func replace(node *ast.Node, name string, args []ast.Node) {
	orig := *node
	call := guardCall(name, orig.Type(), args...)
	call.SetNature(*orig.Nature())
	ast.Patch(node, call)
}

// withType gives n the checked nature of like.
func withType(n ast.Node, like ast.Node) ast.Node {
	n.SetNature(*like.Nature())
	n.SetLocation(like.Location())
	return n
}

// isLiteral reports whether n is a constant the expression spells out.
func isLiteral(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.ConstantNode:
		return true
	}
	return false
}

// scalar reports whether values of t compare in constant time.
func scalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// arg returns a[i], or nil.
func arg(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// str returns a[i] when it is a string, else "" (expr reports the type).
func str(a []any, i int) string {
	s, _ := arg(a, i).(string)
	return s
}

// toInt64 reads a count argument the way expr does, 0 when it is none.
func toInt64(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int64:
		return x
	case float64:
		if math.IsNaN(x) {
			return 0
		}
		if x > math.MaxInt64/2 {
			return math.MaxInt64 / 2
		}
		if x < math.MinInt64/2 {
			return math.MinInt64 / 2
		}
		return int64(x)
	}
	rv := reflect.ValueOf(v)
	if rv.CanInt() {
		return rv.Int()
	}
	return 0
}

// lenOf is the length of a list or map, 0 for anything else.
func lenOf(v any) int {
	switch x := v.(type) {
	case []any:
		return len(x)
	case map[string]any:
		return len(x)
	case nil:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return rv.Len()
	}
	return 0
}

// each calls fn for every element of a list.
func each(v any, fn func(any)) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			fn(e)
		}
	case []string:
		for _, e := range x {
			fn(e)
		}
	}
}

// mulSat multiplies non-negative a and b, saturating instead of
// overflowing.
func mulSat(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// leaves counts the non-list values inside nested lists, as flatten
// returns them, charging a step per element looked at.
func leaves(m *meter, v any, depth int) (int64, error) {
	x, ok := v.([]any)
	if !ok {
		return int64(lenOf(v)), nil
	}
	if depth > builtin.MaxDepth {
		return 0, nil // flatten reports it
	}
	var n int64
	for _, e := range x {
		if _, ok := e.([]any); ok {
			k, err := leaves(m, e, depth+1)
			if err != nil {
				return 0, err
			}
			n += k
			continue
		}
		n++
	}
	return n, m.work(int64(len(x)) / comparesPerStep)
}

// textSize is the length of the text textOf makes of v.
func textSize(m *meter, v any) (int64, error) {
	if s, ok := v.(string); ok {
		return int64(len(s)), nil
	}
	n, err := jsonSize(m, v, false)
	return 2*n + 16, err
}

// shallowSize is what a value just built by a method or groupBy takes,
// not counting the values it shares with its input.
func shallowSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x))
	case []byte:
		return int64(len(x))
	case nil, bool, int, int64, float64:
		return slotBytes
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		return int64(rv.Len()) * slotBytes
	case reflect.Map:
		n := int64(rv.Len()) * entryBytes
		it := rv.MapRange()
		for it.Next() {
			n += int64(lenOf(it.Value().Interface())) * slotBytes
		}
		return n
	}
	return entryBytes
}

// jsonSize is the length of v written as JSON (indented by two spaces per
// level with indent, as toJSON writes it). It charges a step per value it
// looks at and stops with ErrMemoryLimit as soon as the size passes what
// the meter has left, so measuring a large value costs no more than the
// limit allows.
func jsonSize(m *meter, v any, indent bool) (int64, error) {
	w := sizeWalker{m: m, indent: indent, left: EvalMemoryLimit - m.mem}
	w.walk(v, 0)
	if w.err != nil {
		return 0, m.fail(w.err)
	}
	return w.size, nil
}

type sizeWalker struct {
	m      *meter
	indent bool
	size   int64
	left   int64
	seen   int64
	err    error
}

func (w *sizeWalker) add(n int64) {
	w.size += n
	if w.size > w.left {
		w.err = ErrMemoryLimit
	}
}

func (w *sizeWalker) walk(v any, depth int) {
	if w.err != nil {
		return
	}
	w.seen++
	if w.seen%1024 == 0 {
		if err := w.m.work(1024 / comparesPerStep); err != nil {
			w.err = err
			return
		}
	}
	// Inside a container, each value sits on its own line, indented.
	var pad int64
	if w.indent {
		pad = 1 + 2*int64(depth)
	}
	switch x := v.(type) {
	case nil:
		w.add(4)
	case string:
		w.add(quotedLen(x))
	case bool:
		w.add(5)
	case float64, int, int64:
		w.add(24)
	case map[string]any:
		w.add(2 + pad)
		for k, e := range x {
			if _, ok := e.(*meter); ok {
				continue
			}
			w.add(quotedLen(k) + 3 + pad)
			w.walk(e, depth+1)
		}
	case []any:
		w.add(2 + pad)
		for _, e := range x {
			w.add(1 + pad)
			w.walk(e, depth+1)
		}
	case []string:
		w.add(2 + pad)
		for _, e := range x {
			w.add(1 + pad + quotedLen(e))
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Slice, reflect.Array:
			w.add(2 + pad)
			for i := 0; i < rv.Len() && w.err == nil; i++ {
				w.add(1 + pad)
				w.walk(rv.Index(i).Interface(), depth+1)
			}
		case reflect.Map:
			w.add(2 + pad)
			it := rv.MapRange()
			for it.Next() && w.err == nil {
				w.add(3 + pad)
				w.walk(it.Key().Interface(), depth+1)
				w.walk(it.Value().Interface(), depth+1)
			}
		case reflect.String:
			w.add(quotedLen(rv.String()))
		default:
			w.add(64)
		}
	}
}

// quotedLen is the length of s as a JSON string: quotes and escapes.
func quotedLen(s string) int64 {
	n := int64(len(s)) + 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 5 // \u00XX
			case c == '"' || c == '\\':
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6 - int64(size) // \ufffd, \u2028, \u2029
		}
		i += size
	}
	return n
}
