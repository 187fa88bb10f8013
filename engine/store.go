package engine

import (
	"errors"
	"time"
)

// Store is everything the engine keeps: the small interfaces its parts
// consume, each declared beside its consumer (RunStore in ingest.go,
// FlowStore in flowsvc.go, ConnectionStore in connections.go, TriggerStore
// in trigger.go, RefusalStore in refusals.go). The bbolt implementation is
// engine/boltstore; a store is added without touching the executor, and
// engine/storetest is the conformance suite every store passes. Accounts,
// sessions and tokens are auth's (auth.Store), which the same store
// usually implements too.
//
// Write methods are durable when they return: the data is on disk (or
// committed).
type Store interface {
	RunStore
	FlowStore
	ConnectionStore
	TriggerStore
	RefusalStore
	MetaStore
	Close() error
}

// AcceptResult is what Accept did.
type AcceptResult struct {
	RunID   string
	EventID string
	// Duplicate is true when the delivery's dedupe key was already seen;
	// RunID then names the first run.
	Duplicate bool
}

// RunFilter selects runs for ListRuns.
type RunFilter struct {
	FlowID string
	Status RunStatus
	// Since and Until bound the creation time (zero: unbounded).
	Since, Until time.Time
	// Limit defaults to 50 and is capped at 500.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
	// Search keeps the runs whose payload, headers or step outputs hold
	// every term of the query (ParseSearch); stores that offer it
	// implement RunSearcher.
	Search string
	// Resolved, when set, keeps the failed runs whose failure a retry or
	// replay resolved (true) or not (false). The engine applies it
	// (Engine.ListRuns); stores ignore it.
	Resolved *bool
}

// RunPage is one page of runs.
type RunPage struct {
	Runs       []RunSummary `json:"runs"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// QueueItem is an unfinished run and when it is due.
type QueueItem struct {
	RunID string
	Due   time.Time
}

// Sentinel errors of the store.
var (
	ErrNotFound   = errors.New("not found")
	ErrRunFinal   = errors.New("run is final and cannot be rewritten")
	ErrBadID      = errors.New("malformed id")
	ErrLocked     = errors.New("data directory is locked by another process")
	ErrSaturated  = errors.New("engine saturated")
	ErrFlowExists = errors.New("flow already exists")
	// ErrStaleVersion: a tick or poll was for a flow version that has
	// since been replaced; it must not start runs.
	ErrStaleVersion = errors.New("flow version changed")
	// ErrStoreUnavailable: the store cannot take or serve the request
	// now because its database refuses writes, or lags too far behind;
	// nothing was stored. Try again later.
	ErrStoreUnavailable = errors.New("store unavailable")
)

// StoreHealth is how a store that applies writes behind a log is doing
// (boltstore.Store.Health).
type StoreHealth struct {
	// Stuck is set while the database refuses a write that was
	// acknowledged already; Cause says why, Since since when.
	Stuck bool
	Cause error
	Since time.Time
	// Backlog is how many acknowledged writes wait for the database;
	// while it is stuck, new ones are refused once BacklogMax wait.
	Backlog, BacklogMax int64
	// ApplyErrors counts failed attempts to move acknowledged writes into
	// the database.
	ApplyErrors int64
}
