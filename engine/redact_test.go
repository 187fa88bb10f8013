package engine

import (
	"reflect"
	"testing"
)

// With no secret to hide, a recorded value is the step's own (no copy),
// except that a map[string]string inside it still becomes a map[string]any,
// as the stores and search expect of a recorded output.
func TestRedactValueWithoutSecrets(t *testing.T) {
	r := newRedactor()
	out := map[string]any{"status": 200.0, "body": map[string]any{"tags": []any{"a", "b"}}}
	got := r.value(out)
	if reflect.ValueOf(got).Pointer() != reflect.ValueOf(out).Pointer() {
		t.Error("a value with nothing to redact or turn was copied")
	}
	withHeaders := map[string]any{"status": 200.0, "headers": map[string]string{"x-request-id": "r-1"}}
	want := map[string]any{"status": 200.0, "headers": map[string]any{"x-request-id": "r-1"}}
	if got := r.value(withHeaders); !reflect.DeepEqual(got, want) {
		t.Errorf("headers as map[string]string recorded as %#v, want %#v", got, want)
	}

	r.add(map[string]string{"token": "s3cr3t-t0ken-value"})
	leaky := map[string]any{"echo": []any{"Bearer s3cr3t-t0ken-value"}}
	got = r.value(leaky)
	if !reflect.DeepEqual(got, map[string]any{"echo": []any{"Bearer " + Redacted}}) || leaky["echo"].([]any)[0] != "Bearer s3cr3t-t0ken-value" {
		t.Errorf("with a secret: recorded %#v, and the step's own value became %#v", got, leaky)
	}
}
