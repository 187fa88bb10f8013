package connectors

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestStringify(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"a", "a", true},
		{nil, "", true},
		{true, "true", true},
		{float64(42), "42", true},
		{float64(-3), "-3", true},
		{1.5, "1.5", true},
		{float64(12345678901), "12345678901", true},
		{1e21, "1e+21", true},
		{7, "7", true},
		{map[string]any{}, "", false},
		{[]any{}, "", false},
	}
	for _, tt := range tests {
		got, ok := Stringify(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Stringify(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestConfigHelpers(t *testing.T) {
	cfg := map[string]any{
		"s": "x", "n": float64(3), "b": true, "bs": "FALSE", "d": "1m30s", "dn": float64(2), "neg": "-1s",
		"obj":   map[string]any{"a": "1", "b": float64(2), "c": []any{"x", true}},
		"pairs": []any{map[string]any{"key": "k", "value": "v"}, map[string]any{"name": "n", "value": float64(1)}},
		"bad":   map[string]any{"a": map[string]any{}}, "choice": "post",
	}
	if s, err := ConfigString(cfg, "n"); s != "3" || err != nil {
		t.Errorf("ConfigString(n) = %q, %v", s, err)
	}
	if _, err := ConfigString(cfg, "obj"); !errors.Is(err, ErrBadConfig) {
		t.Errorf("ConfigString(obj) err = %v", err)
	}
	if b, err := ConfigBool(cfg, "bs", true); b || err != nil {
		t.Errorf("ConfigBool(bs) = %v, %v", b, err)
	}
	if b, err := ConfigBool(cfg, "missing", true); !b || err != nil {
		t.Errorf("ConfigBool(missing) = %v, %v", b, err)
	}
	if _, err := ConfigBool(cfg, "s", true); err == nil {
		t.Error("ConfigBool(s) accepted \"x\"")
	}
	if d, err := ConfigDuration(cfg, "d", 0); d != 90*time.Second || err != nil {
		t.Errorf("ConfigDuration(d) = %v, %v", d, err)
	}
	if d, err := ConfigDuration(cfg, "dn", 0); d != 2*time.Second || err != nil {
		t.Errorf("ConfigDuration(dn) = %v, %v", d, err)
	}
	if _, err := ConfigDuration(cfg, "neg", 0); err == nil {
		t.Error("negative duration accepted")
	}
	if _, err := ConfigDuration(cfg, "s", 0); err == nil {
		t.Error("bad duration accepted")
	}
	if c, err := ConfigChoice(cfg, "choice", "GET", []string{"GET", "POST"}); c != "POST" || err != nil {
		t.Errorf("ConfigChoice = %q, %v", c, err)
	}
	if _, err := ConfigChoice(cfg, "s", "GET", []string{"GET", "POST"}); err == nil {
		t.Error("ConfigChoice accepted x")
	}
	v, err := ConfigValues(cfg, "obj")
	want := map[string][]string{"a": {"1"}, "b": {"2"}, "c": {"x", "true"}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("ConfigValues(obj) = %v, %v", v, err)
	}
	v, err = ConfigValues(cfg, "pairs")
	want = map[string][]string{"k": {"v"}, "n": {"1"}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("ConfigValues(pairs) = %v, %v", v, err)
	}
	if _, err := ConfigValues(cfg, "bad"); !errors.Is(err, ErrBadConfig) {
		t.Errorf("ConfigValues(bad) err = %v", err)
	}
	if v, err := ConfigValues(cfg, "missing"); v != nil || err != nil {
		t.Errorf("ConfigValues(missing) = %v, %v", v, err)
	}
}

func TestHeaderChecks(t *testing.T) {
	for _, name := range []string{"X-Id", "content-type", "a!#$%&'*+-.^_`|~9"} {
		if !ValidHeaderName(name) {
			t.Errorf("ValidHeaderName(%q) = false", name)
		}
	}
	for _, name := range []string{"", "X Id", "X:Id", "X\nId", "é"} {
		if ValidHeaderName(name) {
			t.Errorf("ValidHeaderName(%q) = true", name)
		}
	}
	if !ValidHeaderValue("a\tb é") || ValidHeaderValue("a\r\nX-Evil: 1") || ValidHeaderValue("a\x00") {
		t.Error("ValidHeaderValue wrong")
	}
}
