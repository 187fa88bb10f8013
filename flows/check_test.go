package flows

import (
	"reflect"
	"strings"
	"testing"
)

func TestCheckExpr(t *testing.T) {
	tests := []struct {
		src, kind string
		err       string // substring; empty: no error
	}{
		{"trigger.body.n > 1", KindCondition, ""},
		{"trigger.body.(", KindCondition, "(1:"},
		{"1 + 2", KindCondition, "must yield true or false"},
		{"nope.x", KindExpr, "unknown name nope"},
		{"secrets.a.value == ''", KindCondition, "secrets are only available"},
		{"response.body.items", KindItems, ""},
		{"item.id", KindKey, ""},
		{"item.id", KindExpr, "unknown name item"},
		{"Hello {{ trigger.body.name }}", KindTemplate, ""},
		{"Hello {{ trigger.body. }}", KindTemplate, "offset 6"},
		{"{{ trigger.body", KindTemplate, "unclosed"},
		{`{"a": "{{ trigger.body.x }}"}`, KindJSON, ""},
		{`{"a": "{{ ) }}"}`, KindJSON, "expression"},
		{"x", "odd", "unknown kind"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+" "+tc.src, func(t *testing.T) {
			err := CheckExpr(tc.src, tc.kind)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestEvalSample(t *testing.T) {
	env := NewEnv(EnvInput{Trigger: TriggerData{Body: map[string]any{"name": "Ada", "n": 21.0}},
		Steps: map[string]StepState{"a": {Output: map[string]any{"x": 1.0}}}})
	tests := []struct {
		src, kind string
		want      any
	}{
		{"trigger.body.n * 2", KindExpr, 42.0},
		{"trigger.body.n > 1", KindCondition, true},
		{"Hi {{ trigger.body.name }}", KindTemplate, "Hi Ada"},
		{"{{ trigger.body.n }}", KindTemplate, 21.0},
		{"plain", KindTemplate, "plain"},
		{`{"v": "{{ steps.a.output.x }}"}`, KindJSON, map[string]any{"v": 1.0}},
		{`not json {{ trigger.body.name }}`, KindJSON, "not json Ada"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			got, err := EvalSample(tc.src, tc.kind, env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	if _, err := EvalSample("trigger.body.name.x.y()", KindExpr, env); err == nil {
		t.Fatal("a failing expression evaluated")
	}
}
