package engine

import (
	"context"
	"reflect"
	"testing"
)

// TestConditionTrace: a built condition compares numeric text as a number,
// and a missing field makes it false with a plain-words reason in the
// run's history instead of failing the run, for `if` and a switch's `when`
// alike.
func TestConditionTrace(t *testing.T) {
	te := startEngine(t, "", Config{Workers: 2})
	a := te.saveFlow(t, `{"id": "leads", "name": "leads", "enabled": true, "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [
	    {"id": "hot", "use": "data.set", "if": "check(trigger.body.score, \">=\", 70)", "with": {"hot": true}},
	    {"id": "route", "switch": [
	      {"when": "check(trigger.body.plan, \"is one of\", [\"pro\", \"team\"])", "steps": [{"id": "paid", "use": "data.set", "with": {"x": 1}}]},
	      {"default": true, "steps": [{"id": "free", "use": "data.set", "with": {"x": 2}}]}]}]}`)
	tests := []struct {
		body      string
		hot       StepStatus
		hotWhy    []string
		branch    int
		routeWhy  []string
		hotResult bool
	}{
		{`{"score": "85", "plan": "pro"}`, StepSucceeded, nil, 0, nil, true},
		{`{"score": 69}`, StepSkipped, nil, 1, []string{"plan is missing"}, false},
		{`{"plan": "free"}`, StepSkipped, []string{"score is missing"}, 1, nil, false},
		{`{"score": "n/a"}`, StepSkipped, []string{"score is not a number"}, 1, []string{"plan is missing"}, false},
		{`"not an object"`, StepSkipped, []string{"score is missing"}, 1, []string{"plan is missing"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			acc, err := te.Accept(context.Background(), a, webhookEvent(tt.body), false)
			if err != nil {
				t.Fatal(err)
			}
			r := te.waitFinal(t, acc.RunID)
			if r.Status != RunSucceeded {
				t.Fatalf("run %s: %s", r.Status, r.Error)
			}
			hot, route := r.result("hot"), r.result("route")
			if hot == nil || route == nil {
				t.Fatalf("steps: %+v", r.Steps)
			}
			if hot.Status != tt.hot || len(hot.Conditions) != 1 || hot.Conditions[0].Result != tt.hotResult ||
				!reflect.DeepEqual(hot.Conditions[0].Why, tt.hotWhy) || hot.Conditions[0].Error != "" {
				t.Errorf("hot: %s %+v", hot.Status, hot.Conditions)
			}
			if route.Branch == nil || *route.Branch != tt.branch || len(route.Conditions) != 1 ||
				!reflect.DeepEqual(route.Conditions[0].Why, tt.routeWhy) {
				t.Errorf("route: branch %v %+v", route.Branch, route.Conditions)
			}
		})
	}
}
