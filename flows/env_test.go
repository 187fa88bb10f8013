package flows

import (
	"reflect"
	"testing"
	"time"
)

func TestNewEnv(t *testing.T) {
	at := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.FixedZone("CEST", 2*3600))
	f := &Flow{ID: "orders", Name: "Orders", Steps: []Step{
		{ID: "a"},
		{ID: "route", Switch: []Case{{Default: true, Steps: []Step{{ID: "inner"}}}}},
	}}
	env := NewEnv(EnvInput{
		Flow: f,
		Trigger: TriggerData{
			Body:       map[string]any{"id": "evt_1"},
			Headers:    map[string]string{"x-github-delivery": "d1", "Content-Type": "application/json"},
			Query:      map[string]string{"page": "2"},
			Method:     "POST",
			Path:       "orders",
			ReceivedAt: at,
		},
		RunID:   "run_1",
		Attempt: 3,
		Steps:   map[string]StepState{"a": {Output: map[string]any{"x": 1.0}, Status: "succeeded"}},
	})
	want := Env{
		"trigger": map[string]any{
			"body":        map[string]any{"id": "evt_1"},
			"headers":     map[string]any{"x-github-delivery": "d1", "content-type": "application/json"},
			"query":       map[string]any{"page": "2"},
			"method":      "POST",
			"path":        "orders",
			"received_at": "2025-06-07T06:09:10.123456789Z",
		},
		"steps": map[string]any{
			"a":     map[string]any{"output": map[string]any{"x": 1.0}, "status": "succeeded"},
			"route": map[string]any{"output": nil, "status": ""},
			"inner": map[string]any{"output": nil, "status": ""},
		},
		"run":     map[string]any{"id": "run_1", "attempt": 3},
		"flow":    map[string]any{"id": "orders", "name": "Orders"},
		"secrets": map[string]any{},
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %#v\nwant %#v", env, want)
	}
}

func TestNewEnvSecretsAndZero(t *testing.T) {
	env := NewEnv(EnvInput{Secrets: map[string]map[string]string{"crm": {"value": "k"}}})
	if got := env["secrets"]; !reflect.DeepEqual(got, map[string]any{"crm": map[string]any{"value": "k"}}) {
		t.Errorf("secrets = %#v", got)
	}
	tr := env["trigger"].(map[string]any)
	if tr["received_at"] != "" || tr["body"] != nil {
		t.Errorf("zero trigger = %#v", tr)
	}
	if f := env["flow"].(map[string]any); f["id"] != "" || f["name"] != "" {
		t.Errorf("flow without Flow = %#v", f)
	}
}

func TestEnvWith(t *testing.T) {
	env := NewEnv(EnvInput{})
	with := env.With(VarItem, 1.0)
	if _, ok := env[VarItem]; ok {
		t.Error("With changed the original env")
	}
	if with[VarItem] != 1.0 || with[VarTrigger] == nil {
		t.Errorf("With = %#v", with)
	}
}

// TestEnvBaseSharedAcrossSteps: the Envs a run builds from one base see
// the steps done when each was built, and building one changes no other.
func TestEnvBaseSharedAcrossSteps(t *testing.T) {
	f := &Flow{ID: "f", Name: "F", Steps: []Step{{ID: "a", Use: "data.set"}, {ID: "b", Use: "data.set"}}}
	base := NewEnvBase(f, TriggerData{Body: map[string]any{"n": 1.0}, Headers: map[string]string{"X-Up": "1"}})
	first := base.Env("run_1", 1, nil, nil)
	second := base.Env("run_1", 2, map[string]StepState{"a": {Output: "out", Status: "succeeded"}}, nil)
	step := func(env Env, id string) map[string]any { return env[VarSteps].(map[string]any)[id].(map[string]any) }
	if got := step(first, "a")["status"]; got != "" {
		t.Errorf("first env: steps.a.status %q, want empty", got)
	}
	if got := step(second, "a")["output"]; got != "out" {
		t.Errorf("second env: steps.a.output %v, want out", got)
	}
	if got := step(second, "b")["status"]; got != "" {
		t.Errorf("second env: steps.b.status %q, want empty", got)
	}
	if got := first[VarTrigger].(map[string]any)["headers"].(map[string]any)["x-up"]; got != "1" {
		t.Errorf("trigger.headers.x-up %v, want 1", got)
	}
	if got := second[VarRun].(map[string]any)["attempt"]; got != 2 {
		t.Errorf("run.attempt %v, want 2", got)
	}
}
