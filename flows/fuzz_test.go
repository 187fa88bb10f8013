package flows

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary documents to Decode: it must never panic, must
// fail only with a *ValidationError, and whatever it accepts must compile
// without panicking and survive an Encode/Decode round trip.
func FuzzDecode(f *testing.F) {
	for _, file := range append(exampleFiles(f), goldenFlowFiles(f)...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		baseFlowJSON, `{}`, `[]`, `null`, `{"id":"a"} x`, `{"steps":[{"with":{"a":{"b":[1,2,{"c":null}]}}}]}`,
		`{"trigger":{"timeout":"5x"}}`, `{"a":1,"a":2}`, `{"steps":[{"id":"x","use":"data.set","with":{"t":"{{ {\"a\": 1} }}"}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Decode(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Details) == 0 {
				t.Fatalf("Decode error %T %v is not a non-empty *ValidationError", err, err)
			}
			return
		}
		_, _ = Compile(fl)
		out, err := Encode(fl)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("decoding the encoded flow: %v\n%s", err, out)
		}
		// Empty and absent lists and objects encode alike (omitempty), so
		// the property is that the text is stable, not the Go values.
		out2, err := Encode(again)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the encoding:\n%s\n%s", out, out2)
		}
		if again.ID != fl.ID || len(again.Steps) != len(fl.Steps) || !reflect.DeepEqual(again.Trigger.Verify, fl.Trigger.Verify) {
			t.Fatalf("round trip changed the flow:\n%#v\n%#v", fl, again)
		}
	})
}

// FuzzTemplate feeds arbitrary strings to the template parser and
// compiler: they must never panic, and a string that compiles must render
// against a sample environment without panicking.
func FuzzTemplate(f *testing.F) {
	for _, seed := range []string{
		"plain", "{{ trigger.body.x }}", "a {{ 1 + 2 }} b {{ trigger.body }}", "{{", "}}", "{{}}",
		`{{ "}}" }}`, "{{ `x` }}", `{{ {"a": {"b": 1}} }}`, "{{ 'it\\'s' }}", "{{ now() }}",
		"{{ steps.a.output ?? 'none' }}", "{{ secrets.k.value }}", "{{ 1/0 }}x", "{{ {{ }} }}",
		"{{ map([1,2], # * 2) }}", "x{{ trigger.body.a.b }}",
	} {
		f.Add(seed)
	}
	for _, file := range exampleFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		fl, err := Decode(data)
		if err != nil {
			f.Fatal(err)
		}
		Walk(fl.Steps, func(_ string, s *Step) {
			collectStrings(s.With, func(str string) { f.Add(str) })
		})
	}
	env := NewEnv(EnvInput{
		Trigger: TriggerData{Body: map[string]any{"x": 1.0, "a": map[string]any{"b": "c"}, "list": []any{1.0}}},
		Steps:   map[string]StepState{"a": {Output: "out"}},
	})
	f.Fuzz(func(t *testing.T, s string) {
		segs, perr := parseTemplate(s)
		errs := &ValidationError{}
		tc := &templateCompiler{errs: errs, shape: shapeBase}
		tmpl := tc.compileTemplate("f", map[string]any{"v": s, "l": []any{s}})
		if (perr != nil) != (len(errs.Details) > 0) && perr != nil {
			t.Fatalf("parse failed (%v) but compile reported nothing", perr)
		}
		if perr == nil {
			for _, sg := range segs {
				if sg.offset < 0 || sg.offset > len(s) {
					t.Fatalf("segment offset %d out of range", sg.offset)
				}
			}
		}
		if len(errs.Details) > 0 {
			return
		}
		_, _ = tmpl.Render(env)
	})
}

// collectStrings calls fn for every string at any depth of v.
func collectStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			collectStrings(e, fn)
		}
	case []any:
		for _, e := range x {
			collectStrings(e, fn)
		}
	}
}
