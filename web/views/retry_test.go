package views

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
)

func TestRetrySummary(t *testing.T) {
	p := &BuilderProps{Specs: map[string]connectors.Spec{
		"http.request": {ID: "http.request", SideEffects: true},
		"data.set":     {ID: "data.set"},
	}}
	for _, tc := range []struct {
		step flows.Step
		want string
	}{
		{flows.Step{Use: "http.request"}, "If the service is busy or unreachable (429, 5xx, timeouts), tried up to 3 times (the default for steps that call a service), waiting about 2 s, then 4 s, longer when the service asks with Retry-After. A refusal (other 4xx) fails at once. After the last failed attempt, the run stops."},
		{flows.Step{Use: "http.request", OnError: "continue", Retry: &flows.Retry{Attempts: 1}}, "Tried once; if it fails, the run goes on with the next step."},
		{flows.Step{Use: "data.set"}, "Tried once; if it fails, the run stops."},
		{flows.Step{Use: "http.request", Retry: &flows.Retry{Attempts: 8, Backoff: flows.Duration(30 * time.Second), MaxBackoff: flows.Duration(2 * time.Minute)}},
			"If the service is busy or unreachable (429, 5xx, timeouts), tried up to 8 times, waiting about 30 s, then 1 min, then 2 min, then … up to 2 min, longer when the service asks with Retry-After. A refusal (other 4xx) fails at once. After the last failed attempt, the run stops."},
	} {
		if got := retrySummary(p, tc.step); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.step, got, tc.want)
		}
	}
}
