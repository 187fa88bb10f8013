package engine

import (
	"context"
	"errors"
	"time"
)

// Store is everything the engine keeps. The bbolt implementation lives in
// bolt.go; a shared implementation (PostgreSQL) can come later without
// touching the executor, which sees only this interface.
//
// Write methods are durable when they return: the data is on disk.
type Store interface {
	// Accept stores ev and its first run (status queued) with the run's
	// queue entry in one durable transaction, assigning both IDs. When
	// ev.DedupeKey is set and a delivery with the same key was accepted for
	// the flow within window, nothing is stored and the result names the
	// first run.
	Accept(ctx context.Context, ev *Event, run *Run, window time.Duration) (AcceptResult, error)
	// AddRun stores a new queued run for an event already stored (retry,
	// replay), with its queue entry, assigning its ID.
	AddRun(ctx context.Context, run *Run) error
	// SaveRun checkpoints a run. A run that is not final keeps a queue entry
	// due at run.DueAt (now when nil); a final run loses it. A run already
	// final in the store is never rewritten: SaveRun returns ErrRunFinal.
	SaveRun(ctx context.Context, run *Run) error
	// Run and Event load one record.
	Run(ctx context.Context, id string) (*Run, error)
	Event(ctx context.Context, id string) (*Event, error)
	// ListRuns lists run summaries newest first.
	ListRuns(ctx context.Context, f RunFilter) (RunPage, error)
	// Pending lists every run that is not final with its due time, for
	// recovery at start-up.
	Pending(ctx context.Context) ([]QueueItem, error)
	// PurgeDedupe forgets dedupe keys that expired before now.
	PurgeDedupe(ctx context.Context, now time.Time) (int, error)
	// DeleteRunsBefore removes final runs (and events no run needs any
	// more) created before t, at most limit of them; it reports how many.
	DeleteRunsBefore(ctx context.Context, t time.Time, limit int) (int, error)

	// Flows: PutFlow stores a new version of a flow (version 1 when new)
	// and keeps every version so runs execute the version they were
	// accepted under.
	PutFlow(ctx context.Context, id string, raw []byte) (FlowRecord, error)
	Flow(ctx context.Context, id string) (FlowRecord, error)
	FlowVersion(ctx context.Context, id string, version int64) (FlowRecord, error)
	Flows(ctx context.Context) ([]FlowRecord, error)
	DeleteFlow(ctx context.Context, id string) error

	// Connections hold sealed (encrypted) credentials.
	PutConnection(ctx context.Context, c ConnectionRecord) error
	Connection(ctx context.Context, name string) (ConnectionRecord, error)
	Connections(ctx context.Context) ([]ConnectionRecord, error)
	DeleteConnection(ctx context.Context, name string) error

	// Schedule triggers: AcceptTick stores a tick's event and run unless
	// that tick of the flow already fired (Duplicate), and only while the
	// flow is still at run.FlowVersion (ErrStaleVersion), in one
	// transaction. LastTick is the newest tick recorded.
	AcceptTick(ctx context.Context, ev *Event, run *Run, tick time.Time) (AcceptResult, error)
	LastTick(ctx context.Context, flowID string) (time.Time, error)

	// Poll triggers: AcceptPoll stores the runs of a poll's unseen items,
	// adds their keys to the bounded seen set and saves the poll state,
	// in one transaction.
	AcceptPoll(ctx context.Context, pc PollCommit) (PollResult, error)
	PollStateOf(ctx context.Context, flowID string) (PollState, error)
	PutPollState(ctx context.Context, flowID string, st PollState) error
	SeenKeys(ctx context.Context, flowID string, newest int) (int, []string, error)
	ResetPoll(ctx context.Context, flowID string) error

	// Refusals are refused webhook requests, the newest `keep` per flow.
	AddRefusals(ctx context.Context, rs []Refusal, keep int) error
	Refusals(ctx context.Context, flowID string, limit int) ([]Refusal, error)

	// Meta is a small key-value space for the engine's own settings.
	MetaStore
	// Reseal re-encrypts connections (key rotation).
	Resealer

	Close() error
}

// MetaStore is a small key-value space for the engine's own settings
// (the secret key's check value).
type MetaStore interface {
	Meta(ctx context.Context, key string) ([]byte, error)
	PutMeta(ctx context.Context, key string, value []byte) error
}

// Resealer re-encrypts what a store keeps sealed, without the caller
// knowing how it is kept.
type Resealer interface {
	// Reseal replaces, in one atomic transaction, the sealed value of
	// every connection (its name is the associated data) and of the meta
	// value metaKey when it exists (the key is the associated data) by
	// what fn returns for it. The meta value goes first. When fn fails
	// for any of them nothing changes and its error is returned. It
	// reports how many connections it rewrote.
	Reseal(ctx context.Context, metaKey string, fn func(sealed, ad []byte) ([]byte, error)) (int, error)
}

// KeyStore is what rotating the key file needs.
type KeyStore interface {
	MetaStore
	Resealer
}

// PollState is what a poll trigger remembers between polls.
type PollState struct {
	FlowVersion int64     `json:"flow_version"`
	Seeded      bool      `json:"seeded"`
	LastPollAt  time.Time `json:"last_poll_at,omitempty"`
	LastStatus  string    `json:"last_status,omitempty"` // ok, error, flood, seeded
	LastError   string    `json:"last_error,omitempty"`
	// LastItems is how many items the last poll listed, LastNew how many
	// of them were unseen, LastRuns how many runs it started.
	LastItems   int       `json:"last_items"`
	LastNew     int       `json:"last_new"`
	LastRuns    int       `json:"last_runs"`
	Failures    int       `json:"failures"`
	NextAllowed time.Time `json:"next_allowed,omitempty"`
	// Paused is set by the flood guard until someone confirms.
	Paused      bool   `json:"paused"`
	PauseReason string `json:"pause_reason,omitempty"`
	// Cursor is the value of the flow's cursor expression after the last
	// successful poll.
	Cursor any `json:"cursor,omitempty"`
	// SeenCount is how many keys the seen set holds.
	SeenCount int `json:"seen_count"`
}

// PollItem is one polled item that would start a run.
type PollItem struct {
	Key   string
	Event *Event
	Run   *Run
}

// PollCommit is the outcome of one poll, written in one transaction.
type PollCommit struct {
	FlowID  string
	Version int64
	Items   []PollItem
	// SeenLimit bounds the seen set; the oldest keys go first.
	SeenLimit int
	// FloodLimit: more unseen items than this pauses the flow instead.
	FloodLimit int
	// Backfill is how many of the newest unseen items the first poll runs
	// (0: the first poll only records what is there).
	Backfill int
	// Force fires unseen items even beyond the flood limit (a user
	// confirmed).
	Force bool
	// Seed records the unseen items as seen without running any.
	Seed bool
	// Failed saves State alone: the poll found nothing to commit.
	Failed bool
	// Cursor is the cursor expression's new value; it replaces
	// State.Cursor unless the flood guard holds the items back (they
	// must be fetched again with the old cursor).
	Cursor any
	// State is the state to save, updated with what the commit did.
	State PollState
}

// PollResult reports what AcceptPoll stored.
type PollResult struct {
	Runs    []*Run
	Events  []*Event
	Unseen  int
	Flooded bool
	State   PollState
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
// (BoltStore.Health).
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
