package flows

import "testing"

// BenchmarkEvalCondition is one `if` as a step's condition runs it.
func BenchmarkEvalCondition(b *testing.B) {
	e, _, err := compileExpr("steps[0].if", `trigger.body.type == "order.paid" && trigger.body.amount > 100`, shapeBase)
	if err != nil {
		b.Fatal(err)
	}
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{"type": "order.paid", "amount": 250.0}}})
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := e.Bool(env); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkEvalBuiltCondition is the same condition as the condition
// builder writes it.
func BenchmarkEvalBuiltCondition(b *testing.B) {
	e, _, err := compileExpr("steps[0].if", `check(trigger.body.type, "is", "order.paid") && check(trigger.body.amount, ">", 100)`, shapeBase)
	if err != nil {
		b.Fatal(err)
	}
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{"type": "order.paid", "amount": "250"}}})
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := e.Bool(env); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkRender is a step's `with` of a few templates.
func BenchmarkRender(b *testing.B) {
	tpl := mustTemplate(b, map[string]any{
		"text":  "New order {{ trigger.body.id }} from {{ upper(trigger.body.name) }}",
		"total": "{{ trigger.body.amount / 100 }}",
		"items": "{{ map(trigger.body.items, .sku) }}",
	})
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{"id": "o-1", "name": "Ada", "amount": 250.0,
		"items": []any{map[string]any{"sku": "a"}, map[string]any{"sku": "b"}}}}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}
