package flows

import (
	"fmt"
	"strings"
	"testing"
)

// loopFlow is a valid flow with a loop whose fields the tests break.
func loopFlow(t *testing.T) *Flow {
	t.Helper()
	f, err := Decode([]byte(`{
  "id": "loop", "name": "Loop", "enabled": true,
  "trigger": {"type": "webhook", "path": "loop"},
  "steps": [
    {"id": "first", "use": "data.set", "with": {"x": "{{ trigger.body.x }}"}},
    {"id": "each", "for_each": "trigger.body.items", "steps": [
      {"id": "shape", "use": "data.set", "with": {"n": "{{ index }}", "sku": "{{ item.sku }}", "x": "{{ steps.first.output.x }}"}},
      {"id": "send", "use": "http.request", "with": {"url": "https://example.com/{{ steps.shape.output.sku }}"}}
    ], "collect": {"sku": "{{ steps.shape.output.sku }}"}},
    {"id": "after", "use": "data.set", "with": {"n": "{{ len(steps.each.output) }}"}}
  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCompileLoop(t *testing.T) {
	c, err := Compile(loopFlow(t))
	if err != nil {
		t.Fatal(err)
	}
	each := c.Step("each")
	if each == nil || each.ForEach == nil || len(each.Body) != 2 || each.Collect == nil {
		t.Fatalf("loop compiled as %+v", each)
	}
	if c.Step("send") == nil || c.Step("send").Path != "steps[1].steps[1]" {
		t.Fatalf("inner step not indexed by id: %+v", c.Step("send"))
	}
	// Inner templates see item and index.
	env := NewEnv(EnvInput{Flow: c.Flow, Steps: map[string]StepState{"first": {Output: map[string]any{"x": 1}}}}).With(VarItem, map[string]any{"sku": "A-1"}).With(VarIndex, 3)
	out, err := c.Step("shape").With.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	if out["sku"] != "A-1" || fmt.Sprint(out["n"]) != "3" {
		t.Fatalf("rendered %v", out)
	}
}

func TestCompileLoopErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *Flow)
		want   []wantErr
	}{
		{"for_each missing", func(f *Flow) { f.Steps[1].ForEach = "" }, []wantErr{{"steps[1].for_each", "required: an expression giving the list"}}},
		{"for_each does not compile", func(f *Flow) { f.Steps[1].ForEach = "trigger.body.items[" }, []wantErr{{"steps[1].for_each", "unexpected token"}}},
		{"for_each not a list", func(f *Flow) { f.Steps[1].ForEach = "1 + 2" }, []wantErr{{"steps[1].for_each", "must yield a list, but yields int"}}},
		{"for_each reads item", func(f *Flow) { f.Steps[1].ForEach = "item.lines" }, []wantErr{{"steps[1].for_each", "unknown name item"}}},
		{"for_each reads a later step", func(f *Flow) { f.Steps[1].ForEach = "steps.after.output.list" }, []wantErr{{"steps[1].for_each", `step "after" has not run yet here`}}},
		{"no inner steps", func(f *Flow) {
			f.Steps[1].Steps = []Step{}
			f.Steps[1].Collect = nil
			f.Steps[2].With = map[string]any{"n": 1}
		}, []wantErr{{"steps[1].steps", "at least one step is required"}}},
		{"steps without for_each", func(f *Flow) { f.Steps[1].ForEach = "" }, []wantErr{{"steps[1].for_each", "required"}}},
		{"use on a loop", func(f *Flow) { f.Steps[1].Use = "data.set" }, []wantErr{{"steps[1].use", "not allowed together with for_each"}}},
		{"retry on a loop", func(f *Flow) { f.Steps[1].Retry = &Retry{Attempts: 2} }, []wantErr{{"steps[1].retry", "not allowed on a loop step"}}},
		{"max_items too large", func(f *Flow) { f.Steps[1].MaxItems = MaxMaxItems + 1 }, []wantErr{{"steps[1].max_items", "must be between 1 and 10000"}}},
		{"max_items negative", func(f *Flow) { f.Steps[1].MaxItems = -1 }, []wantErr{{"steps[1].max_items", "must be between 1 and 10000"}}},
		{"concurrency too high", func(f *Flow) { f.Steps[1].Concurrency = 17 }, []wantErr{{"steps[1].concurrency", "must be between 1 and 16, got 17"}}},
		{"concurrency negative", func(f *Flow) { f.Steps[1].Concurrency = -1 }, []wantErr{{"steps[1].concurrency", "must be between 1 and 16, got -1"}}},
		{"max_items without for_each", func(f *Flow) { f.Steps[0].MaxItems = 3 }, []wantErr{{"steps[0].max_items", "only allowed with for_each"}}},
		{"collect without for_each", func(f *Flow) { f.Steps[0].Collect = "x" }, []wantErr{{"steps[0].collect", "only allowed with for_each"}}},
		{"bad collect template", func(f *Flow) { f.Steps[1].Collect = map[string]any{"x": "{{ item. }}"} }, []wantErr{{"steps[1].collect.x", "expression"}}},
		{"inner template error has its path", func(f *Flow) { f.Steps[1].Steps[1].With["url"] = "{{ item[ }}" }, []wantErr{{"steps[1].steps[1].with.url", "expression"}}},
		{"inner step read after the loop", func(f *Flow) { f.Steps[2].With = map[string]any{"n": "{{ steps.send.output }}"} }, []wantErr{{"steps[2].with.n", `step "send" has not run yet here`}}},
		{"inner step reads the loop itself", func(f *Flow) { f.Steps[1].Steps[0].With["x"] = "{{ steps.each.output }}" }, []wantErr{{"steps[1].steps[0].with.x", `step "each" has not run yet here`}}},
		{"item outside a loop", func(f *Flow) { f.Steps[0].With = map[string]any{"x": "{{ item.sku }}"} }, []wantErr{{"steps[0].with.x", "unknown name item"}}},
		{"duplicate inner id", func(f *Flow) { f.Steps[1].Steps[1].ID = "first" }, []wantErr{{"steps[1].steps[1].id", `duplicate step id "first"`}}},
		{"nested loop", func(f *Flow) {
			f.Steps[1].Steps = append(f.Steps[1].Steps, Step{ID: "inner", ForEach: "item.parts", Steps: []Step{use("p", "data.set", map[string]any{"a": 1})}})
		}, []wantErr{{"steps[1].steps[2].for_each", "a loop inside a loop is not supported"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := loopFlow(t)
			tt.mutate(f)
			_, err := Compile(f)
			checkDetails(t, err, tt.want, false)
		})
	}
}

func TestDecodeLoopUnknownField(t *testing.T) {
	_, err := Decode([]byte(`{"id":"x","name":"x","trigger":{"type":"manual"},"steps":[{"id":"e","for_each":"trigger.body","steps":[{"id":"a","use":"data.set"}],"max_item":3}]}`))
	checkDetails(t, err, []wantErr{{"steps[0].max_item", `did you mean "max_items"`}}, false)
}

func TestSchemaDescribesLoops(t *testing.T) {
	s := string(JSONSchema())
	for _, want := range []string{`"for_each"`, `"max_items"`, `"collect"`, `"concurrency"`} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %s", want)
		}
	}
}

func TestConnectionRefsInsideLoops(t *testing.T) {
	f := loopFlow(t)
	f.Steps[1].Steps[1].With["connection"] = "erp"
	f.Steps[1].Steps[1].With["auth"] = "bearer"
	var got []string
	for _, r := range ConnectionRefs(f) {
		got = append(got, r.Field+"="+r.Name)
	}
	if strings.Join(got, " ") != "steps[1].steps[1].with.connection=erp" {
		t.Fatalf("refs %v", got)
	}
}
