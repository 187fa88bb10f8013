package engine

import (
	"context"
	"time"
)

// RunCounter is a store that counts a flow's recent runs without listing
// them. The engine falls back to ListRuns for stores without it.
type RunCounter interface {
	CountRuns(ctx context.Context, flowID string, since time.Time, max int) (int, error)
}

// CountRuns counts a flow's runs created at or after since, stopping at max
// (capped reports whether it stopped there). The flows list calls it for
// every flow, so it reads index headers rather than listing summaries.
func (e *Engine) CountRuns(ctx context.Context, flowID string, since time.Time, max int) (n int, capped bool, err error) {
	if rc, ok := e.store.(RunCounter); ok {
		n, err = rc.CountRuns(ctx, flowID, since, max)
		return min(n, max), n >= max, err
	}
	cursor := ""
	for {
		page, err := e.store.ListRuns(ctx, RunFilter{FlowID: flowID, Since: since, Limit: 500, Cursor: cursor})
		if err != nil {
			return 0, false, err
		}
		n += len(page.Runs)
		if n >= max {
			return max, true, nil
		}
		if page.NextCursor == "" {
			return n, false, nil
		}
		cursor = page.NextCursor
	}
}
