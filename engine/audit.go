package engine

import (
	"context"
	"strconv"
	"time"
)

// The audit trail: who changed what, when and from where. Flow saves,
// turning flows on and off, pauses, deletes, restores, connection
// changes, token creation, bulk actions and sign-ins are recorded; the
// newest AuditKept are kept.

// AuditKept is how many audit entries a store keeps; the oldest go first.
const AuditKept = 10000

// Audit actions.
const (
	AuditFlowCreate       = "flow.create"
	AuditFlowSave         = "flow.save"
	AuditFlowEnable       = "flow.enable"
	AuditFlowDisable      = "flow.disable"
	AuditFlowPause        = "flow.pause"
	AuditFlowResume       = "flow.resume"
	AuditFlowRestore      = "flow.restore"
	AuditFlowDelete       = "flow.delete"
	AuditConnectionSave   = "connection.save"
	AuditConnectionDelete = "connection.delete"
	AuditTokenCreate      = "token.create"
	AuditTokenRevoke      = "token.revoke"
	AuditRunsBulk         = "runs.bulk"
	AuditLogin            = "login.success"
	AuditLoginFailed      = "login.failure"
)

// AuditEntry is one thing someone did.
type AuditEntry struct {
	// ID is given by the store; it orders entries as they were stored.
	ID     string    `json:"id,omitempty"`
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	// Actor is who did it: a user, a token or the command line. For a
	// failed sign-in it is the name that was tried.
	Actor Actor `json:"actor"`
	// Target is what it was done to: a flow id, a connection or token
	// name.
	Target string `json:"target,omitempty"`
	// Address is the client's address (empty on the command line).
	Address string `json:"address,omitempty"`
	// Detail says more in a line: the version saved, what changed.
	Detail string `json:"detail,omitempty"`
}

// AuditStore keeps the audit trail. It is optional: an engine over a
// store without it records nothing and lists nothing.
type AuditStore interface {
	// AddAudit stores entries and drops the oldest beyond keep.
	AddAudit(ctx context.Context, entries []AuditEntry, keep int) error
	// ListAudit lists entries newest first, a page at a time.
	ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error)
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	// Action matches an action exactly, or every action under it
	// ("flow" matches "flow.save").
	Action string
	// Target matches exactly.
	Target string
	// Limit defaults to 50 and is capped at 500.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// Matches reports whether an entry passes the filter's action and target.
func (f AuditFilter) Matches(a AuditEntry) bool {
	if f.Target != "" && a.Target != f.Target {
		return false
	}
	if f.Action == "" || a.Action == f.Action {
		return true
	}
	return len(a.Action) > len(f.Action) && a.Action[:len(f.Action)] == f.Action && a.Action[len(f.Action)] == '.'
}

// AuditPage is one page of the audit trail.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

type addressKey struct{}

// WithAddress returns ctx carrying the client address a request came
// from; the audit trail records it.
func WithAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addressKey{}, addr)
}

// AddressOf returns the client address in ctx ("" when none was set).
func AddressOf(ctx context.Context) string {
	a, _ := ctx.Value(addressKey{}).(string)
	return a
}

// Audit records an entry. Actor and Address default to those of ctx, At
// to now. The entry is written before Audit returns; a failure is logged,
// never returned: what was done is done.
func (e *Engine) Audit(ctx context.Context, a AuditEntry) {
	as, ok := e.store.(AuditStore)
	if !ok {
		return
	}
	if a.At.IsZero() {
		a.At = time.Now().UTC()
	}
	if a.Actor == (Actor{}) {
		a.Actor = ActorOf(ctx)
	}
	if a.Address == "" {
		a.Address = AddressOf(ctx)
	}
	if err := as.AddAudit(context.WithoutCancel(ctx), []AuditEntry{a}, AuditKept); err != nil {
		e.log.ErrorContext(ctx, "record audit entry", "action", a.Action, "target", a.Target, "err", err)
	}
}

// ListAudit lists the audit trail newest first.
func (e *Engine) ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error) {
	as, ok := e.store.(AuditStore)
	if !ok {
		return AuditPage{Entries: []AuditEntry{}}, nil
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	p, err := as.ListAudit(ctx, f)
	if p.Entries == nil {
		p.Entries = []AuditEntry{}
	}
	return p, err
}

// auditFlowSave records a stored save of f over prev (nil: a new flow).
func (e *Engine) auditFlowSave(ctx context.Context, prev *ActiveFlow, a *ActiveFlow, restoredFrom int64) {
	f := a.Flow()
	entry := AuditEntry{Action: AuditFlowSave, Target: f.ID, Detail: "version " + strconv.FormatInt(a.Record.Version, 10)}
	switch {
	case prev == nil:
		entry.Action = AuditFlowCreate
	case restoredFrom != 0:
		entry.Action, entry.Detail = AuditFlowRestore, "restored version "+strconv.FormatInt(restoredFrom, 10)+" as version "+strconv.FormatInt(a.Record.Version, 10)
	case a.Record.Version == prev.Record.Version && f.Enabled:
		entry.Action, entry.Detail = AuditFlowEnable, ""
	case a.Record.Version == prev.Record.Version:
		entry.Action, entry.Detail = AuditFlowDisable, ""
	case prev.Flow().Enabled != f.Enabled && f.Enabled:
		entry.Detail += ", turned on"
	case prev.Flow().Enabled != f.Enabled:
		entry.Detail += ", turned off"
	}
	e.Audit(ctx, entry)
}
