package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// Flow versions: every save that changes a flow's content stores a new
// version with who saved it, when, and a one-line summary of what changed.
// A save that changes nothing stores nothing; turning a flow on or off
// rewrites its current version in place and is recorded as a state change,
// not as a version.

// Actor is who did something: a signed-in user, an API token or the CLI.
type Actor struct {
	// Kind is "user", "token" or "cli".
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type actorKey struct{}

// WithActor returns ctx carrying who acts; the engine records it with
// what it stores.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf returns who acts in ctx (zero when nobody said).
func ActorOf(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// VersionMeta is what is recorded with a flow version.
type VersionMeta struct {
	Version int64     `json:"version"`
	SavedAt time.Time `json:"saved_at"`
	SavedBy Actor     `json:"saved_by"`
	Summary string    `json:"summary"`
	// RestoredFrom names the version whose content this one restored.
	RestoredFrom int64 `json:"restored_from,omitempty"`
}

// VersionInfo is one version as listed: its number, and what was recorded
// with it (Known is false for versions saved before versions were
// recorded; their summary is worked out from the content).
type VersionInfo struct {
	Version      int64      `json:"version"`
	SavedAt      *time.Time `json:"saved_at"`
	SavedBy      string     `json:"saved_by"`
	SavedByKind  string     `json:"saved_by_kind,omitempty"`
	Summary      string     `json:"summary"`
	RestoredFrom int64      `json:"restored_from,omitempty"`
	Current      bool       `json:"current"`
}

// StateChange records a flow turned on or off.
type StateChange struct {
	At      time.Time `json:"at"`
	By      Actor     `json:"by"`
	Enabled bool      `json:"enabled"`
	Version int64     `json:"version"`
}

// VersionStore is what a store offers to record flow versions.
type VersionStore interface {
	// PutFlowVersion is PutFlow recording meta (its Version is set by the
	// store) with the new version, in one transaction.
	PutFlowVersion(ctx context.Context, id string, raw []byte, meta VersionMeta) (FlowRecord, error)
	// SetFlowState replaces the current version's definition with raw,
	// which differs only in enabled, and records the change.
	SetFlowState(ctx context.Context, id string, raw []byte, change StateChange) (FlowRecord, error)
	// FlowVersions lists the versions of a flow, newest first, with the
	// meta recorded with each (zero Version where none was).
	FlowVersions(ctx context.Context, id string) ([]int64, map[int64]VersionMeta, error)
	// FlowStates lists a flow's state changes, newest first, at most limit.
	FlowStates(ctx context.Context, id string, limit int) ([]StateChange, error)
}

// ErrNoVersions: the store does not record flow versions.
var ErrNoVersions = errors.New("store does not record flow versions")

func (e *Engine) versionStore() (VersionStore, error) {
	vs, ok := e.store.(VersionStore)
	if !ok {
		return nil, ErrNoVersions
	}
	return vs, nil
}

// FlowHistory is a flow's versions and state changes, newest first.
type FlowHistory struct {
	Versions     []VersionInfo `json:"versions"`
	StateChanges []StateChange `json:"state_changes"`
}

// FlowHistory lists the versions of flow id, newest first: the newest
// limit of them (0: all).
func (e *Engine) FlowHistory(ctx context.Context, id string, limit int) (FlowHistory, error) {
	h := FlowHistory{Versions: []VersionInfo{}, StateChanges: []StateChange{}}
	a, err := e.Flow(id)
	if err != nil {
		return h, err
	}
	vs, err := e.versionStore()
	if err != nil {
		return h, err
	}
	nums, metas, err := vs.FlowVersions(ctx, id)
	if err != nil {
		return h, err
	}
	shown := len(nums)
	if limit > 0 && shown > limit {
		shown = limit
	}
	for i, n := range nums[:shown] {
		v := VersionInfo{Version: n, Current: n == a.Record.Version}
		if m, ok := metas[n]; ok && m.Version != 0 {
			at := m.SavedAt
			v.SavedAt, v.SavedBy, v.SavedByKind, v.Summary, v.RestoredFrom = &at, m.SavedBy.Name, m.SavedBy.Kind, m.Summary, m.RestoredFrom
		} else {
			// Saved before versions were recorded: tell what changed from
			// the content.
			if v.Current {
				at := a.Record.UpdatedAt
				v.SavedAt = &at
			}
			var prev int64
			if i+1 < len(nums) {
				prev = nums[i+1]
			}
			v.Summary = e.summaryBetween(ctx, id, prev, n)
		}
		h.Versions = append(h.Versions, v)
	}
	if h.StateChanges, err = vs.FlowStates(ctx, id, 100); err != nil {
		return h, err
	}
	return h, nil
}

// summaryBetween summarizes the changes from version prev (0: none) to n.
func (e *Engine) summaryBetween(ctx context.Context, id string, prev, n int64) string {
	changes, err := e.DiffVersions(ctx, id, prev, n)
	if err != nil {
		return ""
	}
	if prev == 0 {
		return "created"
	}
	return flows.SummarizeChanges(changes)
}

// FlowVersionRecord returns version n of flow id as stored, with who saved it and when.
func (e *Engine) FlowVersionRecord(ctx context.Context, id string, n int64) (FlowRecord, error) {
	rec, err := e.store.FlowVersion(ctx, id, n)
	if errors.Is(err, ErrNotFound) {
		return rec, fmt.Errorf("engine: flow %q has no version %d: %w", id, n, ErrNotFound)
	}
	return rec, err
}

// DiffVersions lists what changed from version a (0: nothing) to b.
func (e *Engine) DiffVersions(ctx context.Context, id string, a, b int64) ([]flows.Change, error) {
	load := func(n int64) (*flows.Flow, error) {
		if n == 0 {
			return nil, nil
		}
		rec, err := e.FlowVersionRecord(ctx, id, n)
		if err != nil {
			return nil, err
		}
		return flows.Decode(rec.Flow)
	}
	fa, err := load(a)
	if err != nil {
		return nil, err
	}
	fb, err := load(b)
	if err != nil {
		return nil, err
	}
	return flows.Diff(fa, fb), nil
}

// RestoreVersion saves the content of version n of flow id as its newest
// version; whether the flow is on stays as it is. Restoring content equal
// to the current one stores nothing (created is false).
func (e *Engine) RestoreVersion(ctx context.Context, id string, n int64) (a *ActiveFlow, created bool, err error) {
	cur, err := e.Flow(id)
	if err != nil {
		return nil, false, err
	}
	rec, err := e.FlowVersionRecord(ctx, id, n)
	if err != nil {
		return nil, false, err
	}
	f, err := flows.Decode(rec.Flow)
	if err != nil {
		return nil, false, fmt.Errorf("engine: restore flow %q version %d: %w", id, n, err)
	}
	f.Enabled = cur.Flow().Enabled
	raw, err := flows.Encode(f)
	if err != nil {
		return nil, false, err
	}
	a, _, err = e.saveFlow(ctx, raw, saveOpts{wantID: id, restoredFrom: n})
	if err != nil {
		return nil, false, err
	}
	return a, a.Record.Version != cur.Record.Version, nil
}

// storeVersion stores f (encoded as canon) as the flow's next version, or,
// when it differs from the current version prev only in enabled (or not
// at all), changes that one in place and records a state change (or
// stores nothing: stored is false).
func (e *Engine) storeVersion(ctx context.Context, prev *ActiveFlow, f *flows.Flow, canon []byte, restoredFrom int64) (rec FlowRecord, stored bool, err error) {
	vs, err := e.versionStore()
	if err != nil {
		rec, err = e.store.PutFlow(ctx, f.ID, canon)
		return rec, err == nil, err
	}
	now, by := time.Now().UTC(), ActorOf(ctx)
	if prev != nil && flows.SameContent(prev.Flow(), f) {
		if prev.Flow().Enabled == f.Enabled {
			return prev.Record, false, nil
		}
		rec, err = vs.SetFlowState(ctx, f.ID, canon, StateChange{At: now, By: by, Enabled: f.Enabled, Version: prev.Record.Version})
		return rec, err == nil, err
	}
	meta := VersionMeta{SavedAt: now, SavedBy: by, Summary: "created", RestoredFrom: restoredFrom}
	if prev != nil {
		meta.Summary = flows.SummarizeChanges(flows.Diff(prev.Flow(), f))
	}
	if restoredFrom != 0 {
		meta.Summary = fmt.Sprintf("restored version %d: %s", restoredFrom, meta.Summary)
	}
	rec, err = vs.PutFlowVersion(ctx, f.ID, canon, meta)
	return rec, err == nil, err
}

// stateOnly reports whether saving f over the current version prev only
// turns the flow off: that is always allowed, whatever it names.
func stateOnly(prev *ActiveFlow, f *flows.Flow) bool {
	return prev != nil && !f.Enabled && flows.SameContent(prev.Flow(), f)
}
