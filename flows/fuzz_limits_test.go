package flows

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// maxEvalAlloc bounds what one evaluation may allocate in all, garbage
// included: the 32 MiB of the memory limit, expr's list budget, the VM's
// stack and what the Go values behind them take. Without the limits a
// single expression asks for gigabytes.
const maxEvalAlloc = 512 << 20

// FuzzEvalLimits runs random expression programs and templates against a
// payload of about 100 KB under the evaluation limits: evaluation must
// never panic or crash the process, every failure must be an *EvalError,
// what an evaluation allocates (garbage included) stays under
// maxEvalAlloc, and a result is never larger than the memory limit.
func FuzzEvalLimits(f *testing.F) {
	for _, seed := range []string{
		`let a = repeat("x", 999999); len(repeat(a, 999999))`,
		`let a = repeat("x", 999999); let b = a + a; let c = b + b; len(c + c + c + c)`,
		`all(trigger.body.items, {.sku in trigger.body.allowed})`,
		`reduce(1..100000, #acc + trigger.body.text, "")`,
		`toJSON(trigger.body.nested)`,
		`map(1..1000, trigger.body)`,
		`trigger.body.text matches "(?:[a-z]{1000}b)+c"`,
		`uniq(1..100000)`,
		`sortBy(trigger.body.items, {.sku}, "desc")[0]`,
		`groupBy(map(1..100000, {#}), {# % 7})`,
		`fromJSON(toJSON(trigger.body))`,
		`split(trigger.body.text, "")`,
		`replace(trigger.body.text, "", "xx")`,
		`now().Format(trigger.body.text)`,
		`string($env)`,
		`trigger.body.items | filter(.sku > "sku-5") | map(.sku) | join(",")`,
		`{{ trigger.body.text }}{{ trigger.body.text }}`,
		`x {{ map(1..100, trigger.body.items) }}`,
		`{{ [trigger.body, trigger.body] }}`,
		`check(trigger.body.text, "matches", trigger.body.text)`,
		`all(1..100000, {check(trigger.body.text, "contains", "j")})`,
		`check(trigger.body.items[3].sku, "is one of", map(trigger.body.allowed, #))`,
		`check(trigger.body.nested, "contains", "leaf") || check(trigger.body.n, ">=", 70)`,
	} {
		f.Add(seed)
	}
	items := make([]any, 2000)
	allowed := make([]any, 2000)
	for i := range items {
		items[i] = map[string]any{"sku": fmt.Sprintf("sku-%04d", i), "qty": float64(i % 9)}
		allowed[i] = fmt.Sprintf("sku-%04d", len(items)-1-i)
	}
	var nested any = []any{"leaf"}
	for i := 0; i < 1000; i++ {
		nested = []any{nested}
	}
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{
		"items": items, "allowed": allowed, "text": strings.Repeat("abcdefghij", 5000), "nested": nested, "n": 999999.0,
	}}})
	var before, after runtime.MemStats
	f.Fuzz(func(t *testing.T, src string) {
		runtime.ReadMemStats(&before)
		if e, _, err := compileExpr("f", src, shapeBase); err == nil {
			v, err := e.Eval(env)
			checkEval(t, v, err)
		}
		errs := &ValidationError{}
		tc := &templateCompiler{errs: errs, shape: shapeBase}
		if tmpl := tc.compileTemplate("f", map[string]any{"v": src}); len(errs.Details) == 0 {
			v, err := tmpl.Render(env)
			checkEval(t, v, err)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxEvalAlloc {
			t.Fatalf("%q allocated %d MiB", src, n>>20)
		}
	})
}

func checkEval(t *testing.T, v any, err error) {
	t.Helper()
	if err != nil {
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Fatalf("error %T %v is not an *EvalError", err, err)
		}
		return
	}
	if n, err := jsonSize(newMeter(), v, false); err != nil || n > EvalMemoryLimit {
		t.Fatalf("result of %d bytes (%v) passed the limit", n, err)
	}
}
