package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/flows"
)

// Unresolved failures: a failed run stays unresolved until a retry or a
// replay started from it (directly, or through a chain of retries and
// replays) succeeds. The store keeps the unresolved ones in an index of
// their own, written with the checkpoint that makes a run final, so that
// listing and counting them never walks the whole history.

// Sentinel errors of run control (beside ErrNotFailed).
var (
	// ErrResolved: a retry of the run succeeded already.
	ErrResolved = errors.New("run is resolved: a retry or replay of it succeeded")
	// ErrNotFinal: the run is still queued, running or waiting.
	ErrNotFinal = errors.New("run is still in progress")
	// ErrNoResolution: the store does not track resolutions.
	ErrNoResolution = errors.New("store does not track unresolved runs")
)

// RunLinks are the runs started from one run and whether it is resolved.
type RunLinks struct {
	// RetriedBy and ReplayedBy name the runs whose retry_of or replay_of
	// is this run, oldest first.
	RetriedBy  []string `json:"retried_by"`
	ReplayedBy []string `json:"replayed_by"`
	// Resolved is set on a failed run once a run started from it (or
	// from one of its retries or replays) succeeded; ResolvedBy names
	// that run.
	Resolved   bool   `json:"resolved"`
	ResolvedBy string `json:"resolved_by,omitempty"`
}

// ResolutionStore is what a store offers to track unresolved failures.
type ResolutionStore interface {
	// ListUnresolved lists unresolved failed runs newest first, filtered
	// by f's FlowID, Since, Until, Limit and Cursor.
	ListUnresolved(ctx context.Context, f RunFilter) (RunPage, error)
	// CountUnresolved counts unresolved failed runs, stopping at max.
	CountUnresolved(ctx context.Context, max int) (int, error)
	// RunLinks reports the runs started from run id and its resolution.
	RunLinks(ctx context.Context, id string) (RunLinks, error)
	// ResolvedAmong reports which of the given failed runs are resolved.
	ResolvedAmong(ctx context.Context, ids []string) (map[string]bool, error)
}

func (e *Engine) resolutions() (ResolutionStore, error) {
	rs, ok := e.store.(ResolutionStore)
	if !ok {
		return nil, ErrNoResolution
	}
	return rs, nil
}

// RunLinks reports the retries and replays of run id and whether it is
// resolved.
func (e *Engine) RunLinks(ctx context.Context, id string) (RunLinks, error) {
	none := RunLinks{RetriedBy: []string{}, ReplayedBy: []string{}}
	rs, err := e.resolutions()
	if err != nil {
		return none, nil
	}
	links, err := rs.RunLinks(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// A run the store cannot link (no index entry) still shows.
		return none, nil
	}
	return links, err
}

// ListUnresolved lists the failed runs that still need attention.
func (e *Engine) ListUnresolved(ctx context.Context, f RunFilter) (RunPage, error) {
	rs, err := e.resolutions()
	if err != nil {
		return RunPage{}, err
	}
	return rs.ListUnresolved(ctx, f)
}

// CountUnresolved counts the failed runs that need attention, up to max
// (capped reports that there may be more).
func (e *Engine) CountUnresolved(ctx context.Context, max int) (n int, capped bool, err error) {
	rs, err := e.resolutions()
	if err != nil {
		return 0, false, nil
	}
	n, err = rs.CountUnresolved(ctx, max)
	return min(n, max), n >= max, err
}

// ResolvedAmong reports which of the given runs are resolved failures.
func (e *Engine) ResolvedAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	rs, err := e.resolutions()
	if err != nil || len(ids) == 0 {
		return map[string]bool{}, nil
	}
	return rs.ResolvedAmong(ctx, ids)
}

// checkRetryable refuses a retry of a run that did not fail or whose
// failure a retry already resolved.
func (e *Engine) checkRetryable(ctx context.Context, old *Run) error {
	if old.Status != RunFailed {
		return fmt.Errorf("engine: retry run %s: %w (status %s)", old.ID, ErrNotFailed, old.Status)
	}
	links, err := e.RunLinks(ctx, old.ID)
	if err != nil {
		return err
	}
	if links.Resolved {
		return fmt.Errorf("engine: retry run %s: %w (by %s)", old.ID, ErrResolved, links.ResolvedBy)
	}
	return nil
}

// ExternalStep is a step that changes something outside Switchyard
// (its connector has side effects): a replay sends it again.
type ExternalStep struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Use   string `json:"use"`
	Label string `json:"label"`
	// Path is the step's field path; a step inside a switch branch runs
	// only when its branch is taken.
	Path string `json:"path"`
}

// ReplayPlan lists the steps a replay of run id may send out again: those
// of the flow version a replay runs (the current one, while the flow
// exists) whose connectors have side effects, at any depth.
func (e *Engine) ReplayPlan(ctx context.Context, id string) ([]ExternalStep, error) {
	old, err := e.store.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	var cf *flows.Compiled
	if a := e.flows.get(old.FlowID); a != nil {
		cf = a.Compiled
	} else if cf, err = e.flows.version(ctx, e.store, old.FlowID, old.FlowVersion); err != nil {
		return nil, err
	}
	out := []ExternalStep{}
	var walk func(steps []*flows.CompiledStep)
	walk = func(steps []*flows.CompiledStep) {
		for _, s := range steps {
			if s.Spec.SideEffects {
				out = append(out, ExternalStep{ID: s.Step.ID, Name: s.Step.Name, Use: s.Step.Use, Label: s.Spec.Label, Path: s.Path})
			}
			for _, c := range s.Cases {
				walk(c.Steps)
			}
			// A loop's steps call out once per item.
			walk(s.Body)
		}
	}
	walk(cf.Steps)
	return out, nil
}
