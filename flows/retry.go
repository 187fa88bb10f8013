package flows

import (
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// DefaultRetry is the retry policy of a step whose connector acts on an
// outside service (HTTP, Slack, HubSpot, Salesforce, Pipedrive, email:
// its spec has SideEffects) when the step sets no `retry` of its own:
// three attempts, waiting about 2 s and then 4 s, longer when the service
// asks with Retry-After. Only retryable failures (429, 5xx, timeouts,
// dropped connections) are tried again. A step opts out with
// "retry": {"attempts": 1}.
var DefaultRetry = Retry{Attempts: 3, Backoff: Duration(2 * time.Second)}

// EffectiveRetry is the retry policy a step runs with: its own, else
// DefaultRetry for a connector with side effects, else nil (one attempt).
func EffectiveRetry(s *Step, spec connectors.Spec) *Retry {
	if s.Retry != nil {
		return s.Retry
	}
	if s.Use != "" && spec.SideEffects {
		r := DefaultRetry
		return &r
	}
	return nil
}
