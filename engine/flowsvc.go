package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// FlowStore keeps flows and all their versions.
type FlowStore interface {
	// PutFlow stores a new version of a flow (version 1 when new)
	// and keeps every version so runs execute the version they were
	// accepted under.
	PutFlow(ctx context.Context, id string, raw []byte) (FlowRecord, error)
	Flow(ctx context.Context, id string) (FlowRecord, error)
	FlowVersion(ctx context.Context, id string, version int64) (FlowRecord, error)
	Flows(ctx context.Context) ([]FlowRecord, error)
	DeleteFlow(ctx context.Context, id string) error
}

// SaveFlow validates, compiles and stores a flow definition as its next
// version. With create, an existing id is an error (ErrFlowExists); with
// wantID set, the flow's id must match it. Invalid flows give a
// *flows.ValidationError listing every problem with its field path.
func (e *Engine) SaveFlow(ctx context.Context, raw []byte, create bool, wantID string) (*ActiveFlow, error) {
	a, _, err := e.saveFlow(ctx, raw, saveOpts{create: create, wantID: wantID})
	return a, err
}

// ImportFlow saves a flow file like SaveFlow, except that connections it
// names that do not exist yet are returned as warnings instead of refusing
// it: flows move between data dirs as files, connections (sealed under each
// data dir's key) do not, and are added once the flows are in.
// Importing a flow whose content is the current version's stores nothing
// (Changed false), so an import run twice makes no new version.
func (e *Engine) ImportFlow(ctx context.Context, raw []byte) (ImportResult, error) {
	var prev *ActiveFlow
	if f, err := flows.Decode(raw); err == nil {
		prev = e.flows.get(f.ID)
	}
	a, warnings, err := e.saveFlow(ctx, raw, saveOpts{missingOK: true})
	if err != nil {
		return ImportResult{}, err
	}
	return ImportResult{Flow: a, Changed: a != prev, Warnings: warnings}, nil
}

// ImportResult is what ImportFlow did.
type ImportResult struct {
	Flow *ActiveFlow
	// Changed is false when the flow was already current as given.
	Changed bool
	// Warnings name the connections the flow uses that do not exist yet.
	Warnings []flows.FieldError
}

// saveOpts say how saveFlow saves.
type saveOpts struct {
	// create: the id must be new; wantID: the flow's id must be this.
	create bool
	wantID string
	// missingOK turns connections that do not exist into warnings.
	missingOK bool
	// restoredFrom is the version whose content is being restored.
	restoredFrom int64
}

func (e *Engine) saveFlow(ctx context.Context, raw []byte, o saveOpts) (*ActiveFlow, []flows.FieldError, error) {
	create, wantID := o.create, o.wantID
	f, err := flows.Decode(raw)
	if err != nil {
		return nil, nil, err
	}
	if wantID != "" && f.ID != wantID {
		return nil, nil, &flows.ValidationError{Details: []flows.FieldError{{Field: "id", Message: fmt.Sprintf("must match the flow being saved (%q)", wantID)}}}
	}
	cf, err := CompileFlow(f)
	var ve *flows.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return nil, nil, err
	}
	// A missing connection is refused like an unknown connector: the run
	// would fail on it, so the save does, listing it with the rest.
	known, kerr := e.connectionTypes(ctx)
	if kerr != nil {
		return nil, nil, kerr
	}
	prev := e.flows.get(f.ID)
	missing := CheckConnections(f, known)
	if stateOnly(prev, f) {
		missing = nil // turning a flow off is always allowed
	}
	if len(missing) > 0 && !o.missingOK {
		if ve == nil {
			ve = &flows.ValidationError{}
		}
		ve.Details = append(ve.Details, missing...)
	}
	if unknown, cycles := e.checkFlowRefs(f); len(cycles) > 0 || (len(unknown) > 0 && !o.missingOK) {
		if ve == nil {
			ve = &flows.ValidationError{}
		}
		if !o.missingOK {
			ve.Details = append(ve.Details, unknown...)
		}
		ve.Details = append(ve.Details, cycles...)
	} else if o.missingOK {
		// Imported flows may name flows imported after them.
		missing = append(missing, unknown...)
	}
	if ve != nil {
		return nil, nil, ve
	}
	if f.Trigger.Type == flows.TriggerWebhook {
		if owner := e.flows.pathOwner(f.Trigger.Path, f.ID); owner != "" {
			return nil, nil, &flows.ValidationError{Details: []flows.FieldError{{Field: "trigger.path", Message: fmt.Sprintf("path %q is already used by flow %q", f.Trigger.Path, owner)}}}
		}
	}
	if create && prev != nil {
		return nil, nil, fmt.Errorf("engine: create flow %q: %w", f.ID, ErrFlowExists)
	}
	canon, err := flows.Encode(f)
	if err != nil {
		return nil, nil, err
	}
	rec, stored, err := e.storeVersion(ctx, prev, f, canon, o.restoredFrom)
	if err != nil {
		return nil, nil, err
	}
	if !stored {
		return prev, missing, nil // nothing changed, nothing stored
	}
	a := &ActiveFlow{Compiled: cf, Record: rec}
	e.flows.set(a)
	e.flowChanged(f.ID, false)
	e.auditFlowSave(ctx, prev, a, o.restoredFrom)
	if e.Ready() {
		e.sched.update(ctx, f.ID, a)
	}
	// With ctx: a request's logger adds its request id.
	e.log.InfoContext(ctx, "flow saved", "flow_id", f.ID, "version", rec.Version)
	return a, missing, nil
}

// CompileFlow is flows.Compile plus what only the runtime can check: that a
// schedule or poll trigger's cron expression parses. The CLI's `flows
// validate` and the API use it alike.
func CompileFlow(f *flows.Flow) (*flows.Compiled, error) {
	cf, err := flows.Compile(f)
	var ve *flows.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return nil, err
	}
	if f.Trigger.Type == flows.TriggerSchedule || f.Trigger.Type == flows.TriggerPoll {
		// Only the cron itself: a bad time zone is flows.Compile's error,
		// on the time zone's field, not also on this one.
		if _, perr := cronParser.Parse(f.Trigger.Cron); perr != nil && strings.TrimSpace(f.Trigger.Cron) != "" {
			if ve == nil {
				ve = &flows.ValidationError{}
			}
			ve.Details = append(ve.Details, flows.FieldError{Field: "trigger.cron", Message: perr.Error()})
		}
	}
	if ve != nil && len(ve.Details) > 0 {
		return nil, ve
	}
	return cf, nil
}

// Flow returns a flow's current version.
func (e *Engine) Flow(id string) (*ActiveFlow, error) {
	a := e.flows.get(id)
	if a == nil {
		return nil, fmt.Errorf("engine: flow %q: %w", id, ErrFlowNotFound)
	}
	return a, nil
}

// FlowVersion returns a flow as one of its versions was (the one a run
// ran), from the cache of compiled versions.
func (e *Engine) FlowVersion(ctx context.Context, id string, version int64) (*flows.Flow, error) {
	cf, err := e.flows.version(ctx, e.store, id, version)
	if err != nil {
		return nil, err
	}
	return cf.Flow, nil
}

// Flows lists every flow, sorted by id.
func (e *Engine) Flows() []*ActiveFlow { return e.flows.all() }

// DeleteFlow removes a flow. Its runs and their history stay.
func (e *Engine) DeleteFlow(ctx context.Context, id string) error {
	if users := e.FlowCallers(id); len(users) > 0 {
		return &FlowInUseError{ID: id, By: users}
	}
	if err := e.store.DeleteFlow(ctx, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("engine: delete flow %q: %w", id, ErrFlowNotFound)
		}
		return err
	}
	e.flows.remove(id)
	e.forgetPause(ctx, id)
	e.flowChanged(id, true)
	e.sched.update(ctx, id, nil)
	e.Audit(ctx, AuditEntry{Action: AuditFlowDelete, Target: id})
	return nil
}

// Run loads a run.
func (e *Engine) Run(ctx context.Context, id string) (*Run, error) { return e.store.Run(ctx, id) }

// Event loads an event.
func (e *Engine) Event(ctx context.Context, id string) (*Event, error) {
	return e.store.Event(ctx, id)
}

// ListRuns lists runs newest first; with f.Search it searches them
// (ErrNoSearch when the store cannot), with f.Resolved it keeps failed runs
// by their resolution.
func (e *Engine) ListRuns(ctx context.Context, f RunFilter) (RunPage, error) {
	if f.Resolved != nil {
		return e.listResolved(ctx, f)
	}
	return e.listRuns(ctx, f)
}
