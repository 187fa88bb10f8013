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
