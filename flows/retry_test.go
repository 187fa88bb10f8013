package flows

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

func TestEffectiveRetry(t *testing.T) {
	service := connectors.Spec{ID: "x.call", SideEffects: true}
	local := connectors.Spec{ID: "x.local"}
	own := &Retry{Attempts: 1}
	for _, tc := range []struct {
		name string
		step Step
		spec connectors.Spec
		want *Retry
	}{
		{"a service call gets the default", Step{Use: "x.call"}, service, &Retry{Attempts: 3, Backoff: Duration(2 * time.Second)}},
		{"its own policy wins", Step{Use: "x.call", Retry: own}, service, own},
		{"a local step runs once", Step{Use: "x.local"}, local, nil},
		{"a switch has none", Step{}, service, nil},
	} {
		got := EffectiveRetry(&tc.step, tc.spec)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// The default is a copy: changing what a step got changes no other.
	r := EffectiveRetry(&Step{Use: "x.call"}, service)
	r.Attempts = 9
	if DefaultRetry.Attempts != 3 {
		t.Fatal("DefaultRetry was changed through a step's policy")
	}
}
