package flows

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// bigEnv is an environment with a payload of about 1 MiB: items with skus,
// a list of allowed skus, a long text and a deeply nested list.
func bigEnv(t testing.TB) Env {
	t.Helper()
	items := make([]any, 20000)
	allowed := make([]any, 20000)
	for i := range items {
		items[i] = map[string]any{"sku": fmt.Sprintf("sku-%06d", i)}
		allowed[i] = fmt.Sprintf("sku-%06d", len(items)-1-i)
	}
	var nested any = []any{}
	for i := 0; i < 5000; i++ {
		nested = []any{nested}
	}
	return NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{
		"items":   items,
		"allowed": allowed,
		"text":    strings.Repeat("abcdefghij", 100_000),
		"nested":  nested,
		"n":       999999.0,
	}}})
}

// TestEvalLimits runs the expressions of the attack pass (issue 10) and
// their relatives: each must fail with a limit error instead of taking
// the memory or the time it asks for.
func TestEvalLimits(t *testing.T) {
	env := bigEnv(t)
	memory := []string{
		// strings.Repeat used to allocate before expr's budget was checked.
		`let a = repeat("x", 999999); len(repeat(a, 999999))`,
		`len(repeat("x", trigger.body.n * trigger.body.n))`,
		// Concatenation was not counted at all.
		`let a = repeat("x", 999999); let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; len(f + f)`,
		`reduce(1..100000, #acc + trigger.body.text, "")`,
		`len(replace(trigger.body.text, "a", repeat("b", 1000)))`,
		`len(join(map(1..10000, trigger.body.text), ","))`,
		// toJSON indents: a 10 KB nested list would print as 50 MB.
		`len(toJSON(trigger.body.nested))`,
		`len(string(map(1..100, trigger.body)))`,
		`len(split(repeat(",", 999999) + repeat(",", 999999) + repeat(",", 999999), ","))`,
		`len(map(1..100000, now().Format(trigger.body.text)))`,
		`len(escapeHTML(repeat("<", 999999) + repeat("<", 999999) + repeat("<", 999999) + repeat("<", 999999) + repeat("<", 999999) + repeat("<", 999999) + repeat("<", 999999)))`,
		// A result that references the payload many times.
		`map(1..100, trigger.body)`,
		`1..100000000`,
	}
	for i, src := range memory {
		t.Run(src, func(t *testing.T) {
			_, err := mustExpr(t, "steps[0].if", src).Eval(env)
			// Most of these are refused from their arguments, before any
			// work; those that count as they go may reach the time limit
			// first on a busy machine.
			if !isLimitError(err) || i < 2 && !errors.Is(err, ErrMemoryLimit) {
				t.Fatalf("err = %v, want the memory limit", err)
			}
			if want := "expression exceeded its memory limit of 32 MiB"; i < 2 && !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		})
	}
	slow := []string{
		// 20 000 × 20 000 comparisons: 39 s of CPU before the limits.
		`all(trigger.body.items, {.sku in trigger.body.allowed})`,
		`any(1..1000000, {any(1..1000000, {# < 0})})`,
		`count(1..1000000, {count(1..1000000, {# < 0}) > 0}) > 0`,
		`len(uniq(1..1000000)) > 0`,
		`trigger.body.text matches "(?:[a-z]{1000}b)+c"`,
		`trigger.body.text matches trigger.body.text`,
	}
	for _, src := range slow {
		t.Run(src, func(t *testing.T) {
			_, err := mustExpr(t, "steps[0].if", src).Eval(env)
			if !isLimitError(err) {
				t.Fatalf("err = %v, want a limit error", err)
			}
		})
	}
}

// TestRenderLimits: a template is one evaluation, its strings and the JSON
// its expressions yield are counted, and a limit fails the render with the
// field named.
func TestRenderLimits(t *testing.T) {
	env := bigEnv(t)
	refs := make([]any, 40)
	for i := range refs {
		refs[i] = "{{ trigger.body.text }}"
	}
	tests := []map[string]any{
		{"text": "{{ repeat('x', trigger.body.n) }}{{ repeat('x', trigger.body.n) }}" + strings.Repeat("{{ trigger.body.text }}", 40)},
		{"list": refs},
		{"copies": "{{ [trigger.body, trigger.body, trigger.body, trigger.body, trigger.body, trigger.body, trigger.body, trigger.body, trigger.body, trigger.body] }}"},
		{"json": "id {{ map(1..50, trigger.body.items) }}"},
	}
	for i, with := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := mustTemplate(t, with).Render(env)
			if !isLimitError(err) {
				t.Fatalf("err = %v, want the memory limit", err)
			}
			var ee *EvalError
			if !errors.As(err, &ee) || !strings.Contains(ee.Field, ".with.") {
				t.Errorf("error %v does not name the field", err)
			}
		})
	}
}

// TestEvalSampleLimits: the builder's live check evaluates through the
// same path.
func TestEvalSampleLimits(t *testing.T) {
	for _, tt := range []struct{ src, kind string }{
		{`let a = repeat("x", 999999); len(repeat(a, 999999))`, KindExpr},
		{`len(repeat("x", 999999) + repeat("x", 999999)) > len(repeat(repeat("x", 999999), 40))`, KindCondition},
		{`{{ repeat(repeat("x", 999999), 40) }}`, KindTemplate},
		{`map(1..100000, trigger.body)`, KindItems},
	} {
		if _, err := EvalSample(tt.src, tt.kind, bigEnv(t)); !isLimitError(err) {
			t.Errorf("%s: err = %v, want the memory limit", tt.src, err)
		}
	}
}

// TestGuardsKeepResults: the guarded forms of builtins, operators and
// predicates return what expr's own do, with the same types.
func TestGuardsKeepResults(t *testing.T) {
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{
		"name": "Ada Lovelace", "tags": []any{"b", "a", "b"}, "n": 3.0, "items": []any{
			map[string]any{"sku": "x", "qty": 2.0}, map[string]any{"sku": "y", "qty": 5.0}},
		"csv": "a,b,,c", "obj": map[string]any{"k": "v"}, "json": `{"a":[1,2]}`, "opt": nil,
	}}})
	tests := []struct {
		src  string
		want any
	}{
		{`repeat("ab", 3)`, "ababab"},
		{`replace(trigger.body.name, "a", "4")`, "Ad4 Lovel4ce"},
		{`join(trigger.body.tags, "-")`, "b-a-b"},
		{`split(trigger.body.csv, ",")`, []string{"a", "b", "", "c"}},
		{`splitAfter("a,b", ",")`, []string{"a,", "b"}},
		{`upper(trigger.body.name) + "!"`, "ADA LOVELACE!"},
		{`lower("ÀB")`, "àb"},
		{`toBase64("hi")`, "aGk="},
		{`fromBase64("aGk=")`, "hi"},
		{`toJSON(trigger.body.obj)`, "{\n  \"k\": \"v\"\n}"},
		{`fromJSON(trigger.body.json).a[1]`, 2.0},
		{`string(trigger.body.n)`, "3"},
		{`keys(trigger.body.obj)`, []any{"k"}},
		{`values(trigger.body.obj)`, []any{"v"}},
		{`reverse([1, 2])`, []any{2, 1}},
		{`uniq(trigger.body.tags)`, []any{"b", "a"}},
		{`concat([1], [2, 3])`, []any{1, 2, 3}},
		{`flatten([[1], [2, [3]]])`, []any{1, 2, 3}},
		{`sort(trigger.body.tags)`, []any{"a", "b", "b"}},
		{`median([3, 1, 2])`, 2.0},
		{`escapeHTML("<a>")`, "&lt;a&gt;"},
		{`escapeQuery("a b&c")`, "a+b%26c"},
		{`trigger.body.name + " " + trigger.body.name`, "Ada Lovelace Ada Lovelace"},
		{`trigger.body.n + 1`, 4.0},
		{`trigger.body.name matches "^Ada"`, true},
		{`trigger.body.name not matches "^Bob"`, true},
		{`trigger.body.name matches trigger.body.tags[1]`, true},
		{`trigger.body.tags[0] == trigger.body.tags[2]`, true},
		{`trigger.body.tags[0] != trigger.body.tags[1]`, true},
		{`"a" in trigger.body.tags`, true},
		{`"z" not in trigger.body.tags`, true},
		{`all(trigger.body.items, {.qty > 1})`, true},
		{`filter(trigger.body.items, {.qty > 2})[0].sku`, "y"},
		{`map(trigger.body.items, {.sku + "!"})`, []any{"x!", "y!"}},
		{`sum(trigger.body.items, {.qty})`, 7.0},
		{`reduce(trigger.body.items, #acc + .sku, "")`, "xy"},
		{`sortBy(trigger.body.items, {.qty}, "desc")[0].sku`, "y"},
		{`len(groupBy(trigger.body.items, {.sku}))`, 2},
		{`count(trigger.body.items, {.sku in ["x", "z"]})`, 1},
		{`trigger.body.opt?.a ?? "none"`, "none"},
		{`(trigger.body.opt?.a ?? "") + "x"`, "x"},
		{`now().Format("2006") > "2000"`, true},
		{`trigger.body.name | upper() | lower()`, "ada lovelace"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := mustExpr(t, "f", tt.src).Eval(env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("= %#v (%T), want %#v (%T)", got, got, tt.want, tt.want)
			}
		})
	}
}

// TestGuardsKeepTypeErrors: the program is checked as written, so type
// errors read as expr reports them.
func TestGuardsKeepTypeErrors(t *testing.T) {
	for _, src := range []string{`repeat(1, "x")`, `upper(1)`, `"a" + 1`, `all([1], {1})`, `join(1)`} {
		if _, _, err := compileExpr("f", src, shapeBase); err == nil || strings.Contains(err.Error(), "$guard") {
			t.Errorf("%s: err = %v", src, err)
		}
	}
}

// TestEvalLimitsConcurrent: each evaluation has its own meter, so one that
// hits a limit does not fail the others running the same program.
func TestEvalLimitsConcurrent(t *testing.T) {
	e := mustExpr(t, "f", `len(repeat("x", trigger.body.n)) > 0`)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n := 10.0
			if i%2 == 0 {
				n = 1 << 30
			}
			env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{"n": n}}})
			_, err := e.Eval(env)
			if (i%2 == 0) != errors.Is(err, ErrMemoryLimit) {
				t.Errorf("n=%v: err = %v", n, err)
			}
		}(i)
	}
	wg.Wait()
}
