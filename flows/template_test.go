package flows

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// mustTemplate compiles a `with` object at path "steps[0].with".
func mustTemplate(t testing.TB, with map[string]any) *Template {
	t.Helper()
	errs := &ValidationError{}
	tc := &templateCompiler{errs: errs, shape: shapeBase}
	tmpl := tc.compileTemplate("steps[0].with", with)
	if err := errs.orNil(); err != nil {
		t.Fatalf("compile template: %v", err)
	}
	return tmpl
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in      string
		want    string // segments as lit|{expr}@offset
		wantErr string
	}{
		{"plain", "plain@0", ""},
		{"{{ a }}", "{a}@0", ""},
		{"{{a}}", "{a}@0", ""},
		{"x {{ a }} y {{b}}", "x @0 {a}@2  y @9 {b}@12", ""},
		{"{{ a }}{{ b }}", "{a}@0 {b}@7", ""},
		{`{{ "}}" }}`, `{"}}"}@0`, ""},
		{`{{ 'it''s' }}`, `{'it''s'}@0`, ""},
		{`{{ "a\"}}" }}`, `{"a\"}}"}@0`, ""},
		{"{{ `raw}}\\` }}", "{`raw}}\\`}@0", ""},
		{`{{ {"a": {"b": 1}} }}`, `{{"a": {"b": 1}}}@0`, ""},
		{"a }} b", "a }} b@0", ""},
		{"Hello there {{ name", "", "unclosed {{ at offset 12"},
		{"{{ 'open }}", "", "unclosed {{ at offset 0"},
		{"a {{ }} b", "", "empty {{ }} at offset 2"},
		{"{{ a }} {{", "", "unclosed {{ at offset 8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			segs, err := parseTemplate(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, s := range segs {
				if s.isExpr {
					parts = append(parts, fmt.Sprintf("{%s}@%d", s.src, s.offset))
				} else {
					parts = append(parts, fmt.Sprintf("%s@%d", s.lit, s.offset))
				}
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("segments = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 800, time.UTC)
	env := NewEnv(EnvInput{
		Trigger: TriggerData{
			Body: map[string]any{
				"n": 10.0, "big": 1e21, "half": 0.5, "ok": true, "name": "Ada", "nil": nil,
				"obj": map[string]any{"k": "v<&>"}, "list": []any{1.0, "two"},
			},
			ReceivedAt: at,
		},
		Secrets: map[string]map[string]string{"api": {"value": "tok"}},
	})
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"literal string", "hello", "hello"},
		{"literal number", 3.0, 3.0},
		{"literal object", map[string]any{"a": []any{true, nil}}, map[string]any{"a": []any{true, nil}}},
		{"typed number", "{{ trigger.body.n }}", 10.0},
		{"typed integer arithmetic", "{{ 2 + 3 }}", 5.0},
		{"typed object", "{{ trigger.body.obj }}", map[string]any{"k": "v<&>"}},
		{"typed list", "{{trigger.body.list}}", []any{1.0, "two"}},
		{"typed bool", "{{ trigger.body.ok }}", true},
		{"typed nil", "{{ trigger.body.nil }}", nil},
		{"typed time", "{{ date(trigger.received_at) }}", "2025-03-04T05:06:07.0000008Z"},
		{"typed map literal", `{{ {"a": {"b": trigger.body.n}} }}`, map[string]any{"a": map[string]any{"b": 10.0}}},
		{"spaces inside braces", "{{   trigger.body.n\n }}", 10.0},
		{"space outside makes a string", " {{ trigger.body.n }}", " 10"},
		{"mixed integral float", "n={{ trigger.body.n }}", "n=10"},
		{"mixed big float", "{{ trigger.body.big }}!", "1000000000000000000000!"},
		{"mixed fraction", "{{ trigger.body.half }}x", "0.5x"},
		{"mixed int", "{{ 7 * 6 }} is the answer", "42 is the answer"},
		{"mixed nil", "[{{ trigger.body.nil }}]", "[]"},
		{"mixed missing", "[{{ trigger.body.nope }}]", "[]"},
		{"mixed bool", "ok={{ trigger.body.ok }}", "ok=true"},
		{"mixed object", "obj={{ trigger.body.obj }}", `obj={"k":"v<&>"}`},
		{"mixed list", "list={{ trigger.body.list }}", `list=[1,"two"]`},
		{"mixed time", "at {{ date(trigger.received_at) }}", "at 2025-03-04T05:06:07Z"},
		{"mixed twice", "{{ trigger.body.name }} & {{ trigger.body.name }}", "Ada & Ada"},
		{"mixed secret", "Bearer {{ secrets.api.value }}", "Bearer tok"},
		{"nested", map[string]any{
			"list": []any{"{{ trigger.body.n }}", "x{{ trigger.body.n }}", 1.0, map[string]any{"deep": "{{ trigger.body.ok }}"}},
			"lit":  map[string]any{"k": "v"},
		}, map[string]any{
			"list": []any{10.0, "x10", 1.0, map[string]any{"deep": true}},
			"lit":  map[string]any{"k": "v"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := mustTemplate(t, map[string]any{"v": tt.in})
			got, err := tmpl.Render(env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got["v"], tt.want) {
				t.Errorf("= %#v, want %#v", got["v"], tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{}}})
	tests := []struct {
		name   string
		with   map[string]any
		want   string
		target error
	}{
		{"runtime error names field", map[string]any{"body": map[string]any{"text": "hi {{ trigger.body.a.b }}"}},
			`steps[0].with.body.text: expression "trigger.body.a.b": cannot fetch b from <nil> (1:16)`, nil},
		{"runtime error in list", map[string]any{"l": []any{"ok", "{{ trigger.body.a + 1 }}"}},
			`steps[0].with.l[1]: expression "trigger.body.a + 1": invalid operation: <nil> + int (1:16)`, nil},
		{"not finite", map[string]any{"n": "{{ 1 / 0 }}"},
			`steps[0].with.n: expression "1 / 0": expression yielded a number JSON cannot hold: +Inf`, ErrNotFinite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustTemplate(t, tt.with).Render(env)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v\nwant    %s", err, tt.want)
			}
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Errorf("error is %T, want *EvalError", err)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error does not wrap %v", tt.target)
			}
		})
	}
}

func TestTemplateCompileErrors(t *testing.T) {
	errs := &ValidationError{}
	tc := &templateCompiler{errs: errs, shape: shapeBase}
	tc.compileTemplate("steps[0].with", map[string]any{
		"body": map[string]any{"text": "Hello there {{ trigger.body.name"},
		"l":    []any{"{{ nope }}", "fine {{ trigger }}"},
		"x":    "a {{ 1 + }} b {{ 2 }}",
	})
	checkDetails(t, errs, []wantErr{
		{"steps[0].with.body.text", "unclosed {{ at offset 12"},
		{"steps[0].with.l[0]", `expression "nope" at offset 0: unknown name nope (1:1)`},
		{"steps[0].with.x", `expression "1 +" at offset 2: unexpected token EOF (1:3)`},
	}, true)
}

func TestTemplateUsesSecrets(t *testing.T) {
	tests := []struct {
		with map[string]any
		want bool
	}{
		{map[string]any{"a": "literal secrets.x"}, false},
		{map[string]any{"a": "{{ trigger.body.secrets }}"}, false},
		{map[string]any{"a": []any{map[string]any{"b": "Bearer {{ secrets.api.value }}"}}}, true},
		{map[string]any{"a": "{{ secrets }}"}, true},
	}
	for i, tt := range tests {
		if got := mustTemplate(t, tt.with).UsesSecrets; got != tt.want {
			t.Errorf("%d: UsesSecrets = %v, want %v", i, got, tt.want)
		}
	}
}

func TestRenderNil(t *testing.T) {
	var tmpl *Template
	got, err := tmpl.Render(nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("nil template renders %#v, %v", got, err)
	}
}

// TestRenderDoesNotShare checks that results can be changed freely: neither
// the compiled template, nor the Flow's with, nor the environment change.
func TestRenderDoesNotShare(t *testing.T) {
	with := map[string]any{
		"lit":   map[string]any{"k": []any{"v"}},
		"typed": "{{ trigger.body }}",
		"mixed": map[string]any{"a": "x{{ 1 }}", "b": []any{1.0}},
	}
	tmpl := mustTemplate(t, with)
	body := map[string]any{"inner": map[string]any{"z": 1.0}}
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: body}})

	first, err := tmpl.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	first["lit"].(map[string]any)["k"].([]any)[0] = "changed"
	first["typed"].(map[string]any)["inner"].(map[string]any)["z"] = 2.0
	first["mixed"].(map[string]any)["b"].([]any)[0] = 9.0
	with["lit"].(map[string]any)["k"] = "edited after compile"

	second, err := tmpl.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"lit":   map[string]any{"k": []any{"v"}},
		"typed": map[string]any{"inner": map[string]any{"z": 1.0}},
		"mixed": map[string]any{"a": "x1", "b": []any{1.0}},
	}
	if !reflect.DeepEqual(second, want) {
		t.Errorf("second render = %#v\nwant %#v", second, want)
	}
	if body["inner"].(map[string]any)["z"] != 1.0 {
		t.Error("rendering shared the environment's maps with the result")
	}
}

// TestRenderConcurrent renders one template from many goroutines with
// different environments; run it with -race.
func TestRenderConcurrent(t *testing.T) {
	tmpl := mustTemplate(t, map[string]any{
		"n":    "{{ trigger.body.n }}",
		"text": "run {{ run.id }} n={{ trigger.body.n }}",
		"lit":  map[string]any{"k": "v"},
		"list": []any{"{{ trigger.body.n * 2 }}"},
	})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := NewEnv(EnvInput{RunID: fmt.Sprint(i), Trigger: TriggerData{Body: map[string]any{"n": float64(i)}}})
			for range 50 {
				got, err := tmpl.Render(env)
				if err != nil {
					errs <- err
					return
				}
				want := map[string]any{
					"n": float64(i), "text": fmt.Sprintf("run %d n=%d", i, i),
					"lit": map[string]any{"k": "v"}, "list": []any{float64(2 * i)},
				}
				if !reflect.DeepEqual(got, want) {
					errs <- fmt.Errorf("goroutine %d: got %#v", i, got)
					return
				}
				got["lit"].(map[string]any)["k"] = "mine"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestStringify(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"s", "s"},
		{10.0, "10"},
		{1e21, "1000000000000000000000"},
		{-0.25, "-0.25"},
		{math.Inf(1), "+Inf"},
		{3, "3"},
		{int64(-4), "-4"},
		{uint8(5), "5"},
		{false, "false"},
		{time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), "2025-01-02T03:04:05Z"},
		{90 * time.Second, "1m30s"},
		{map[string]any{"b": 1.0, "a": "<x>"}, `{"a":"<x>","b":1}`},
		{[]string{"a", "b"}, `["a","b"]`},
		{struct{ A int }{1}, `{"A":1}`},
	}
	for _, tt := range tests {
		if got, err := stringify(tt.in, newMeter()); err != nil || got != tt.want {
			t.Errorf("stringify(%#v) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestJSONShape(t *testing.T) {
	in := map[string]any{
		"i": 3, "u": uint16(4), "f32": float32(0.5), "t": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		"ss": []string{"a"}, "ms": map[string]string{"k": "v"}, "st": struct {
			X int `json:"x"`
		}{7},
	}
	got, err := jsonShape(in, newMeter())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"i": 3.0, "u": 4.0, "f32": 0.5, "t": "2025-01-02T03:04:05Z",
		"ss": []any{"a"}, "ms": map[string]any{"k": "v"}, "st": map[string]any{"x": 7.0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("jsonShape = %#v\nwant %#v", got, want)
	}
	if _, err := jsonShape([]any{math.NaN()}, newMeter()); !errors.Is(err, ErrNotFinite) {
		t.Errorf("NaN: %v", err)
	}
}

func TestSingleExpr(t *testing.T) {
	for _, tc := range []struct {
		in, src string
		ok      bool
	}{
		{"{{ trigger.body.email }}", "trigger.body.email", true},
		{"{{ {\"a\": 1} }}", "{\"a\": 1}", true},
		{" {{ x }}", "", false},
		{"Hi {{ x }}", "", false},
		{"{{ x }}{{ y }}", "", false},
		{"plain", "", false},
		{"{{ x", "", false},
	} {
		src, ok := SingleExpr(tc.in)
		if src != tc.src || ok != tc.ok {
			t.Errorf("SingleExpr(%q) = %q, %v; want %q, %v", tc.in, src, ok, tc.src, tc.ok)
		}
	}
}
