package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// Run notifications. When a run ends, the endpoint its flow's notify names
// (else the settings') gets run.succeeded or run.failed, and step.failed
// for each step that failed, as Standard Webhooks. Each message is a run of
// a built-in flow, NotifyFlowID, with one webhook.send step: it is queued
// durably before the ended run's final checkpoint (dedupe key: the run and
// the event), retried with backoff by the executor like any step, and its
// request and answer are in the run history like any outgoing call.

// NotifyFlowID is the id of the built-in flow whose runs deliver run
// notifications. It is not a valid id for a user's flow, so none collides.
const NotifyFlowID = "_notify"

// notifyFlowJSON is the built-in notification flow (its id is set to
// NotifyFlowID after it compiles, since a user's flow could not have it).
const notifyFlowJSON = `{"id": "notify", "name": "Run notifications", "enabled": true, "trigger": {"type": "call"},
  "steps": [{"id": "send", "use": "webhook.send", "retry": {"attempts": 16, "backoff": "2s", "max_backoff": "30m"},
    "with": {"connection": "{{ trigger.body.endpoint.secret }}", "url": "{{ trigger.body.endpoint.url }}",
             "type": "{{ trigger.body.type }}", "data": "{{ trigger.body.data }}"}}]}`

var notifyOnce struct {
	sync.Once
	active *ActiveFlow
	err    error
}

// notifyFlow compiles the built-in notification flow on first use (the
// webhook.send connector registers itself before then).
func notifyFlow() (*ActiveFlow, error) {
	notifyOnce.Do(func() {
		f, err := flows.Decode([]byte(notifyFlowJSON))
		if err != nil {
			notifyOnce.err = err
			return
		}
		cf, err := flows.Compile(f)
		if err != nil {
			notifyOnce.err = fmt.Errorf("engine: the notification flow does not compile: %w", err)
			return
		}
		f.ID = NotifyFlowID
		notifyOnce.active = &ActiveFlow{Compiled: cf, Record: FlowRecord{ID: NotifyFlowID, Version: 1}}
	})
	return notifyOnce.active, notifyOnce.err
}

// notify queues the notifications of a run that just ended (st.run's
// status is final, not yet checkpointed). Runs of the notification flow
// notify nobody.
func (e *Engine) notify(ctx context.Context, st *runState) error {
	r := st.run
	if r.FlowID == NotifyFlowID || st.dry {
		return nil
	}
	n := st.flow.Flow.Notify
	if n == nil {
		n = e.Settings().Notify
	}
	if n == nil {
		return nil
	}
	a, err := notifyFlow()
	if err != nil {
		e.log.ErrorContext(ctx, "run notifications are off", "err", err)
		return nil
	}
	type message struct {
		event string
		data  map[string]any
		key   string
	}
	var msgs []message
	for i := range r.Steps {
		if s := &r.Steps[i]; s.Status == StepFailed {
			// The checkpoint's place in the run tells the items of a
			// loop apart, and never changes.
			msgs = append(msgs, message{flows.EventStepFailed, map[string]any{
				"run_id": r.ID, "flow_id": r.FlowID, "step_id": s.ID, "use": s.Use, "error": s.Error, "attempts": s.Attempts},
				":" + strconv.Itoa(i)})
		}
	}
	event := flows.EventRunSucceeded
	if r.Status == RunFailed {
		event = flows.EventRunFailed
	}
	data := map[string]any{"run_id": r.ID, "flow_id": r.FlowID, "flow_name": st.flow.Flow.Name, "status": string(r.Status)}
	if r.Error != "" {
		data["error"], data["failed_step"] = r.Error, r.ErrorStep
	}
	if r.StartedAt != nil {
		data["started_at"] = r.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if r.FinishedAt != nil {
		data["finished_at"] = r.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	msgs = append(msgs, message{event, data, ""})
	for _, m := range msgs {
		if !n.Wants(m.event) {
			continue
		}
		body, err := json.Marshal(map[string]any{"endpoint": map[string]any{"url": n.URL, "secret": n.Secret}, "type": m.event, "data": m.data})
		if err != nil {
			return fmt.Errorf("engine: notification: %w", err)
		}
		key := "notify:" + r.ID + ":" + m.event + m.key
		ev := &Event{Source: SourceNotify, Method: "POST", ContentType: "application/json", Body: body,
			Headers: map[string]string{}, DedupeKey: key}
		if _, err := e.accept(ctx, a, ev, false, &Run{}); err != nil {
			return fmt.Errorf("engine: queue notification %s: %w", m.event, err)
		}
	}
	return nil
}

// SourceNotify is the event source of a run notification's run.
const SourceNotify = "notification"
