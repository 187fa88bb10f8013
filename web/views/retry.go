package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// retrySummary says in words what a step does when it fails, with the
// settings the form holds now: how often and how long apart it is tried
// again, which failures count, and what the run does after the last one.
func retrySummary(p *BuilderProps, s flows.Step) string {
	spec, _ := p.spec(s.Use)
	policy := flows.EffectiveRetry(&s, spec)
	then := "the run stops."
	if s.OnError == "continue" {
		then = "the run goes on with the next step."
	}
	if policy == nil || policy.Attempts <= 1 {
		return "Tried once; if it fails, " + then
	}
	waits := retryWaits(policy)
	src := ""
	if s.Retry == nil {
		src = " (the default for steps that call a service)"
	}
	return fmt.Sprintf("If the service is busy or unreachable (429, 5xx, timeouts), tried up to %d times%s, waiting about %s, longer when the service asks with Retry-After. A refusal (other 4xx) fails at once. After the last failed attempt, %s",
		policy.Attempts, src, waits, then)
}

// retryWaits lists the waits between attempts ("2s, then 4s"), as the
// engine computes them (doubling from the backoff up to max backoff;
// defaults of 2 s and 1 h when the step leaves them empty), ignoring the
// jitter that shortens each by up to a fifth.
func retryWaits(r *flows.Retry) string {
	d, maxB := r.Backoff.Std(), r.MaxBackoff.Std()
	if d <= 0 {
		d = flows.DefaultRetry.Backoff.Std()
	}
	if maxB <= 0 {
		maxB = time.Hour
	}
	var parts []string
	for i := 1; i < r.Attempts; i++ {
		if len(parts) == 3 && r.Attempts > 5 {
			parts = append(parts, "… up to "+spoken(maxB))
			break
		}
		parts = append(parts, spoken(min(d, maxB)))
		d *= 2
	}
	return strings.Join(parts, ", then ")
}

// spoken writes a wait as people say it: "2 s", "4 min", "1 h", "1m30s".
func spoken(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d%time.Second == 0 && d < time.Minute:
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return d.String()
}

// retryDefaults are the placeholders of a step's retry inputs.
type retryDefaults struct {
	attempts string
	backoff  time.Duration
}

// retryDefault is what a step without retry settings runs with.
func retryDefault(p *BuilderProps, s flows.Step) retryDefaults {
	if s.Retry != nil {
		return retryDefaults{}
	}
	spec, _ := p.spec(s.Use)
	if r := flows.EffectiveRetry(&s, spec); r != nil {
		return retryDefaults{attempts: strconv.Itoa(r.Attempts), backoff: r.Backoff.Std()}
	}
	return retryDefaults{attempts: "1"}
}
