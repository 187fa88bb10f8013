package engine

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// History within its budget (docs/operations.md, "History and disk
// space"): finished runs go by age (Config.Retention), by count per flow
// (RetentionRuns) and by the bytes the history takes (RetentionBytes),
// whichever is reached first, oldest first; unfinished runs are never
// touched. A store that can give space back (Compacter) is compacted when
// its free space passes Config.CompactFree and a quarter of the file.

// DefaultCompactFree is the free space past which the database is
// compacted (when that is also a quarter of the file).
const DefaultCompactFree = 128 << 20

// RetentionPolicy says which finished runs go.
type RetentionPolicy struct {
	// Before: runs created before it go (zero: none by age).
	Before time.Time
	// KeepPerFlow: a flow's oldest finished runs go while it has more
	// runs than this (0: no limit). Unfinished runs count, but stay.
	KeepPerFlow int
	// MaxBytes: the oldest finished runs go while the history takes more
	// bytes than this (0: no limit).
	MaxBytes int64
}

// HistoryUsage is what the run history takes, in all and per flow.
type HistoryUsage struct {
	// Bytes counts the records of the history: runs with their steps,
	// their events and index entries (not the file: see StoreSpace).
	Bytes      int64       `json:"bytes"`
	Runs       int         `json:"runs"`
	Unfinished int         `json:"unfinished"`
	Flows      []FlowUsage `json:"flows"`
}

// FlowUsage is one flow's part of the history.
type FlowUsage struct {
	FlowID     string `json:"flow_id"`
	Runs       int    `json:"runs"`
	Unfinished int    `json:"unfinished"`
	Bytes      int64  `json:"bytes"`
	// Share is Bytes over the history's bytes, 0 to 1.
	Share float64 `json:"share"`
}

// HistoryStore is a store that measures its history and trims it by
// every limit of a RetentionPolicy (the bbolt store). Without it only
// the age limit applies (RunStore.DeleteRunsBefore).
type HistoryStore interface {
	HistoryUsage(ctx context.Context) (HistoryUsage, error)
	// TrimHistory deletes up to limit finished runs the policy says go,
	// oldest first, and returns how many it deleted.
	TrimHistory(ctx context.Context, p RetentionPolicy, limit int) (int, error)
}

// StoreSpace is the database file's size and its free part.
type StoreSpace struct {
	FileBytes int64 `json:"file_bytes"`
	FreeBytes int64 `json:"free_bytes"`
}

// CompactReport is what a compaction did.
type CompactReport struct {
	BeforeBytes int64 `json:"before_bytes"`
	AfterBytes  int64 `json:"after_bytes"`
	// Took is how long the copy and swap took: writes that need the
	// database's answer and reads of runs waited that long; webhooks and
	// checkpoints did not.
	Took time.Duration `json:"-"`
}

// Compacter is a store whose file can be compacted while it runs.
type Compacter interface {
	Space() (StoreSpace, error)
	Compact(ctx context.Context) (CompactReport, error)
}

// ErrNoCompaction is returned by Compact for a store that cannot compact.
var ErrNoCompaction = fmt.Errorf("engine: this store cannot be compacted")

// History is the history's usage with the limits that apply and the
// database file's space, for GET /api/history and the flows page.
type History struct {
	HistoryUsage
	Limits HistoryLimits `json:"limits"`
	// Space is the database file (absent for stores without one).
	Space *StoreSpace `json:"space,omitempty"`
}

// HistoryLimits are the retention settings in force.
type HistoryLimits struct {
	// MaxAge in seconds (0: kept for ever).
	MaxAgeSeconds int64 `json:"max_age_seconds"`
	RunsPerFlow   int   `json:"runs_per_flow"`
	MaxBytes      int64 `json:"max_bytes"`
	// CompactFreeBytes is the free space past which the file is compacted.
	CompactFreeBytes int64 `json:"compact_free_bytes"`
}

// History measures the run history (nil error and zero usage for a store
// that cannot).
func (e *Engine) History(ctx context.Context) (History, error) {
	h := History{Limits: HistoryLimits{RunsPerFlow: e.cfg.RetentionRuns, MaxBytes: e.cfg.RetentionBytes, CompactFreeBytes: max(0, e.cfg.CompactFree)}}
	if e.cfg.Retention > 0 {
		h.Limits.MaxAgeSeconds = int64(e.cfg.Retention / time.Second)
	}
	if hs, ok := e.store.(HistoryStore); ok {
		u, err := hs.HistoryUsage(ctx)
		if err != nil {
			return h, err
		}
		h.HistoryUsage = u
	}
	if h.Flows == nil {
		h.Flows = []FlowUsage{}
	}
	if c, ok := e.store.(Compacter); ok {
		sp, err := c.Space()
		if err != nil {
			return h, err
		}
		h.Space = &sp
	}
	return h, nil
}

// ShareUsage fills the flows' shares and sorts them, largest first.
func ShareUsage(u *HistoryUsage) {
	for i := range u.Flows {
		if u.Bytes > 0 {
			u.Flows[i].Share = float64(u.Flows[i].Bytes) / float64(u.Bytes)
		}
	}
	sort.Slice(u.Flows, func(i, j int) bool {
		if u.Flows[i].Bytes != u.Flows[j].Bytes {
			return u.Flows[i].Bytes > u.Flows[j].Bytes
		}
		return u.Flows[i].FlowID < u.Flows[j].FlowID
	})
}

// retentionPolicy is the policy of the engine's settings now.
func (e *Engine) retentionPolicy() RetentionPolicy {
	p := RetentionPolicy{KeepPerFlow: e.cfg.RetentionRuns, MaxBytes: e.cfg.RetentionBytes}
	if e.cfg.Retention >= 0 {
		p.Before = time.Now().Add(-e.cfg.Retention)
	}
	return p
}

// trimChunk is how many runs one TrimHistory call may delete.
const trimChunk = 20000

// trimHistory applies every limit; stores without HistoryStore only the age.
func (e *Engine) trimHistory(ctx context.Context) (int, error) {
	p := e.retentionPolicy()
	hs, ok := e.store.(HistoryStore)
	if !ok {
		if p.KeepPerFlow > 0 || p.MaxBytes > 0 {
			e.log.Warn("retention: this store keeps runs by age only; the limits by runs per flow and by size do not apply to it")
		}
		if p.Before.IsZero() {
			return 0, nil
		}
		total := 0
		for ctx.Err() == nil {
			n, err := e.store.DeleteRunsBefore(ctx, p.Before, 1000)
			total += n
			if err != nil || n < 1000 {
				return total, err
			}
		}
		return total, nil
	}
	total := 0
	for ctx.Err() == nil {
		n, err := hs.TrimHistory(ctx, p, trimChunk)
		total += n
		if err != nil || n < trimChunk {
			return total, err
		}
	}
	return total, nil
}

// Compact compacts the store's database now.
func (e *Engine) Compact(ctx context.Context) (CompactReport, error) {
	c, ok := e.store.(Compacter)
	if !ok {
		return CompactReport{}, ErrNoCompaction
	}
	e.compactMu.Lock()
	defer e.compactMu.Unlock()
	rep, err := c.Compact(ctx)
	if err != nil {
		return rep, err
	}
	e.log.InfoContext(ctx, "database compacted", "before_bytes", rep.BeforeBytes, "after_bytes", rep.AfterBytes,
		"took", rep.Took.Round(time.Millisecond).String())
	return rep, nil
}

// maybeCompact compacts when the free space passes CompactFree and a
// quarter of the file.
func (e *Engine) maybeCompact(ctx context.Context) {
	c, ok := e.store.(Compacter)
	if !ok || e.cfg.CompactFree < 0 {
		return
	}
	sp, err := c.Space()
	if err != nil {
		e.log.Error("database space", "err", err)
		return
	}
	if !CompactDue(sp, e.cfg.CompactFree) {
		return
	}
	e.log.Info("compacting the database", "file_bytes", sp.FileBytes, "free_bytes", sp.FreeBytes)
	if _, err := e.Compact(ctx); err != nil {
		e.log.Error("compaction", "err", err)
	}
}

// CompactDue reports whether a file with space sp is due for compaction
// under the threshold free.
func CompactDue(sp StoreSpace, free int64) bool {
	return free >= 0 && sp.FreeBytes >= free && sp.FreeBytes*4 >= sp.FileBytes
}
