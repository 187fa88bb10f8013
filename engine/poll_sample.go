package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/switchyard/switchyard/flows"
)

// SamplePoll sends a poll trigger's request once and returns the items
// its items expression lists (each checked by the key expression, as a
// real poll does), for the builder's "Fetch sample". Nothing is stored:
// no run starts, and the flow's seen set, cursor and backoff are
// untouched. The flow need not be saved.
func (e *Engine) SamplePoll(ctx context.Context, cf *flows.Compiled) ([]any, error) {
	if cf.Flow.Trigger.Type != flows.TriggerPoll || cf.Items == nil || cf.Key == nil {
		return nil, fmt.Errorf("engine: sample poll %q: %w", cf.Flow.ID, ErrNotPoll)
	}
	items, _, err := e.fetchItems(ctx, &ActiveFlow{Compiled: cf}, &PollState{})
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it.Event.Body, &out[i]); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
	}
	return out, nil
}

// SamplePollResponse sends a poll trigger's request once, as a first poll
// would (no cursor), and returns its response (status, headers, body), for
// the builder to offer the lists in it as the trigger's items and their
// fields as its key before either is set. Nothing is stored; the flow need
// not be saved or complete.
func (e *Engine) SamplePollResponse(ctx context.Context, f *flows.Flow) (resp any, err error) {
	if f.Trigger.Type != flows.TriggerPoll || f.Trigger.Request == nil || f.Trigger.Request.URL == "" {
		return nil, fmt.Errorf("engine: sample poll %q: %w", f.ID, ErrNotPoll)
	}
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, internalError(e.log, r, nil, "flow_id", f.ID)
		}
	}()
	return e.pollResponse(ctx, f, "")
}
