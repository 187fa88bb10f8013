package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// tickBody is the trigger body of a schedule tick: when it fell (UTC) and
// the flow's time zone.
func tickBody(a *ActiveFlow, tick time.Time) []byte {
	body, _ := json.Marshal(map[string]any{"tick": tick.UTC().Format(time.RFC3339Nano), "timezone": a.Flow().Trigger.Timezone})
	return body
}

// TickNow starts one run of a schedule flow now, with the trigger data a
// tick at this moment has. It is a run started by hand: the flow's own
// ticks, their catch-up and their deduplication are untouched.
func (e *Engine) TickNow(ctx context.Context, id string) (Accepted, error) {
	a := e.flows.get(id)
	if a == nil {
		return Accepted{}, fmt.Errorf("engine: tick flow %q: %w", id, ErrFlowNotFound)
	}
	if a.Flow().Trigger.Type != flows.TriggerSchedule {
		return Accepted{}, fmt.Errorf("engine: tick flow %q: it has a %s trigger: %w", id, a.Flow().Trigger.Type, ErrNotTimed)
	}
	now := e.sched.clock.Now().UTC()
	ev := &Event{Source: flows.TriggerManual, ContentType: "application/json", Body: tickBody(a, now),
		ReceivedAt: now, Headers: map[string]string{}}
	return e.Accept(ctx, a, ev, false)
}
