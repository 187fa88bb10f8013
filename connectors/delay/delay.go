// Package delay is the flow.delay connector: it parks the run durably and
// continues it after a while.
package delay

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// ID is the connector id a step's `use` names.
const ID = "flow.delay"

// fieldDuration is the one config key.
const fieldDuration = "duration"

// MaxDuration is the longest delay a step may ask for.
const MaxDuration = 30 * 24 * time.Hour

func init() { connectors.Register(&Delay{}) }

// Delay is the flow.delay connector.
type Delay struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Spec describes flow.delay.
func (*Delay) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       ID,
		Category: "Core",
		Label:    "Delay",
		Help:     "Waits before the next step. The run is parked on disk, so a restart does not cut the wait short or lose the run.",
		Fields: []connectors.Field{
			{Name: fieldDuration, Label: "Duration", Type: connectors.TypeDuration, Required: true, Help: "How long to wait; at most 30 days."},
		},
		SideEffects: false,
	}
}

// Execute asks the engine to resume the step after the duration; when
// resumed it completes. A dry run does not wait.
func (d *Delay) Execute(_ context.Context, in connectors.Input) (connectors.Result, error) {
	dur, err := connectors.ConfigDuration(in.Config, fieldDuration, -1)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, err))
	}
	switch {
	case dur < 0:
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, &connectors.ConfigError{Field: fieldDuration, Msg: "required"}))
	case dur > MaxDuration:
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, &connectors.ConfigError{Field: fieldDuration, Msg: fmt.Sprintf("%s is longer than %s (30 days)", dur, MaxDuration)}))
	}
	if in.Resumed {
		return connectors.Result{Output: map[string]any{"waited": dur.String()}}, nil
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	until := now().Add(dur).UTC()
	if in.DryRun {
		return connectors.Result{Output: map[string]any{"dry_run": true, "until": until.Format(time.RFC3339), "waited": dur.String()}}, nil
	}
	if dur == 0 {
		return connectors.Result{Output: map[string]any{"waited": dur.String()}}, nil
	}
	return connectors.Result{ResumeAt: until, Output: map[string]any{"until": until.Format(time.RFC3339)}}, nil
}

var _ connectors.Connector = (*Delay)(nil)
