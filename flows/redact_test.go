package flows

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestTemplateRedact: what may be recorded of a rendered config has every
// value computed from a secret masked whole, and only those; the config
// itself (what the connector gets) keeps the real values.
func TestTemplateRedact(t *testing.T) {
	tpl := mustTemplate(t, map[string]any{
		"url":     "https://{{ secrets.smtp.host }}/x",
		"headers": map[string]any{"X-Token": "Bearer {{ toBase64(secrets.k.value) }}", "X-Plain": "{{ trigger.body.id }}"},
		"lower":   "{{ lower(secrets.k.value) }}",
		"slice":   "{{ secrets.k.value[0:6] }}",
		"obj":     "{{ {'v': secrets['k']['value'], 'n': 1} }}",
		"dynamic": "{{ secrets[trigger.body.conn].value }}",
		"whole":   "{{ len(toJSON(secrets.smtp)) > 0 }}",
		"list":    []any{"a", "{{ upper(secrets.k.value) }}"},
		"user":    "{{ secrets.smtp.username }}",
		"literal": "secrets.k.value",
	})
	env := NewEnv(EnvInput{
		Trigger: TriggerData{Body: map[string]any{"id": "o-1", "conn": "k"}},
		Secrets: map[string]map[string]string{
			"k":    {"value": "S3cretValue"},
			"smtp": {"host": "127.0.0.1", "username": "alice", "password": "pw-1"},
		},
	})
	cfg, err := tpl.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	isSecret := func(conn, field string) bool { return field == "value" || field == "password" }
	rec, hidden := tpl.Redact(cfg, "[redacted]", SecretPolicy{Field: isSecret})
	want := map[string]any{
		"url":     "https://127.0.0.1/x", // a host is no secret
		"headers": map[string]any{"X-Token": "[redacted]", "X-Plain": "o-1"},
		"lower":   "[redacted]",
		"slice":   "[redacted]",
		"obj":     "[redacted]",
		"dynamic": "[redacted]",
		"whole":   "[redacted]",
		"list":    []any{"a", "[redacted]"},
		"user":    "alice",
		"literal": "secrets.k.value",
	}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("recorded %#v\nwant %#v", rec, want)
	}
	for _, s := range []string{"Bearer UzNjcmV0VmFsdWU=", "s3cretvalue", "S3cret", "S3CRETVALUE", "S3cretValue"} {
		if !slices.Contains(hidden, s) {
			t.Errorf("hidden %q lacks %q", hidden, s)
		}
	}
	if cfg["lower"] != "s3cretvalue" || cfg["headers"].(map[string]any)["X-Token"] != "Bearer UzNjcmV0VmFsdWU=" {
		t.Errorf("the rendered config changed: %#v", cfg)
	}
}

// TestTemplateRedactSteps: what a template computes from an earlier
// step's output that holds a secret (a remote echoed it) is masked too.
func TestTemplateRedactSteps(t *testing.T) {
	tpl := mustTemplate(t, map[string]any{
		"echo":  "{{ lower(steps.a.output.auth) }}",
		"clean": "{{ steps.b.output.id }}",
		"dyn":   "{{ steps[trigger.body.s].output }}",
	})
	env := NewEnv(EnvInput{
		Trigger: TriggerData{Body: map[string]any{"s": "b"}},
		Steps: map[string]StepState{"a": {Output: map[string]any{"auth": "Basic QUJD"}},
			"b": {Output: map[string]any{"id": "x1"}}},
	})
	cfg, err := tpl.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	rec, hidden := tpl.Redact(cfg, "[redacted]", SecretPolicy{Step: func(id string) bool { return id == "a" }})
	want := map[string]any{"echo": "[redacted]", "clean": "x1", "dyn": "[redacted]"}
	if !reflect.DeepEqual(rec, want) || !slices.Contains(hidden, "basic qujd") {
		t.Errorf("recorded %#v, hidden %q", rec, hidden)
	}
	if rec, _ := tpl.Redact(cfg, "[redacted]", SecretPolicy{}); !reflect.DeepEqual(rec, cfg) {
		t.Errorf("nothing secret, yet %#v", rec)
	}
}

// TestSecretExprErrorHidden: expr's message for an expression that reads
// secrets would quote the value; it is replaced.
func TestSecretExprErrorHidden(t *testing.T) {
	tpl := mustTemplate(t, map[string]any{"n": "{{ int(secrets.k.value) }}"})
	env := NewEnv(EnvInput{Secrets: map[string]map[string]string{"k": {"value": "S3cretValue"}}})
	_, err := tpl.Render(env)
	if !errors.Is(err, ErrSecretMessage) || strings.Contains(err.Error(), "S3cret") {
		t.Fatalf("err = %v", err)
	}
}
