package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
)

// Poll backoff while a source keeps failing: doubling from pollBackoffBase
// up to pollBackoffMax; ticks in between are skipped.
const (
	pollBackoffBase = 30 * time.Second
	pollBackoffMax  = time.Hour
)

// PollOptions tune one poll.
type PollOptions struct {
	// Force runs unseen items even beyond the flood limit and lifts a
	// flood pause (a user confirmed).
	Force bool
	// IgnoreBackoff polls even while the source is backing off (a user
	// asked for a poll now).
	IgnoreBackoff bool
}

// Poll fetches a poll trigger's source once, evaluates its items and keys,
// and starts one run per unseen item (oldest first), updating the bounded
// seen set in the same transaction. The first poll after enabling records
// what is there without running it (unless the flow asks for a backfill);
// more new items than the flood limit pause the flow until confirmed.
func (e *Engine) Poll(ctx context.Context, a *ActiveFlow, opts PollOptions) (PollResult, error) {
	f := a.Flow()
	t := f.Trigger
	if t.Type != flows.TriggerPoll || a.Compiled.Items == nil || a.Compiled.Key == nil {
		return PollResult{}, fmt.Errorf("engine: poll flow %q: not a poll trigger", f.ID)
	}
	now := e.sched.clock.Now()
	st, err := e.store.PollStateOf(ctx, f.ID)
	if err != nil {
		return PollResult{}, err
	}
	if st.Paused && !opts.Force {
		return PollResult{State: st}, nil
	}
	if !opts.IgnoreBackoff && now.Before(st.NextAllowed) {
		return PollResult{State: st}, nil
	}
	st.FlowVersion = a.Record.Version
	st.LastPollAt = now.UTC()
	if opts.Force {
		st.Paused, st.PauseReason = false, ""
	}
	items, err := e.fetchItems(ctx, a, &st)
	if err != nil {
		st.Failures++
		st.LastStatus, st.LastError = "error", err.Error()
		delay := time.Duration(float64(pollBackoffBase) * math.Pow(2, float64(min(st.Failures-1, 20))))
		st.NextAllowed = now.Add(min(delay, pollBackoffMax)).UTC()
		if perr := e.store.PutPollState(ctx, f.ID, st); perr != nil {
			e.log.Error("save poll state", "flow_id", f.ID, "err", perr)
		}
		return PollResult{State: st}, err
	}
	st.Failures, st.LastError, st.NextAllowed = 0, "", time.Time{}
	st.LastItems = len(items)
	pc := PollCommit{FlowID: f.ID, Version: a.Record.Version, Items: items, State: st, Force: opts.Force,
		SeenLimit: orDefault(t.SeenLimit, flows.DefaultSeenLimit), FloodLimit: orDefault(t.FloodLimit, flows.DefaultFloodLimit),
		Backfill: t.Backfill}
	if n := e.pending.Add(int64(len(items))); n > int64(e.cfg.QueueLimit) {
		e.pending.Add(-int64(len(items)))
		return PollResult{State: st}, ErrSaturated
	}
	res, err := e.store.AcceptPoll(ctx, pc)
	e.pending.Add(-int64(len(items) - len(res.Runs)))
	if err != nil {
		return res, err
	}
	for i, run := range res.Runs {
		e.counts.accepted.Add(1)
		e.queue.push(queued{runID: run.ID, run: run, event: res.Events[i]})
		e.bus.publish(Update{Type: "run", RunID: run.ID, FlowID: run.FlowID, Status: string(RunQueued)})
	}
	return res, nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// fetchItems sends the poll request and turns the answer into items.
func (e *Engine) fetchItems(ctx context.Context, a *ActiveFlow, st *PollState) ([]PollItem, error) {
	f := a.Flow()
	req := f.Trigger.Request
	cursor := ""
	if st.Cursor != nil {
		cursor = scalarString(st.Cursor)
	}
	// The request may carry the saved cursor as {{ cursor }}.
	fill := func(s string) string {
		for _, ph := range []string{"{{ cursor }}", "{{cursor}}"} {
			s = strings.ReplaceAll(s, ph, cursor)
		}
		return s
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	headers := map[string]any{}
	for k, v := range req.Headers {
		headers[k] = fill(v)
	}
	cfg := map[string]any{"method": method, "url": fill(req.URL), "headers": headers, "idempotency_key": false}
	in := connectors.Input{Config: cfg, RunID: "poll", StepID: f.ID, HTTP: e.cfg.HTTP, Dial: e.cfg.Dial, Attempt: 1}
	if req.Connection != "" {
		conn, err := e.Connection(ctx, req.Connection)
		if err != nil {
			return nil, err
		}
		cfg[connectors.KeyConnection] = req.Connection
		in.Connection = conn.Values
	}
	httpc, err := connectors.Lookup("http.request")
	if err != nil {
		return nil, err
	}
	out, err := httpc.Execute(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("poll request: %w", err)
	}
	env := flows.NewEnv(flows.EnvInput{Flow: f})
	list, err := a.Compiled.Items.Eval(env.With("response", out.Output))
	if err != nil {
		return nil, err
	}
	raw, ok := list.([]any)
	if !ok {
		if list == nil {
			raw = nil
		} else {
			return nil, fmt.Errorf("trigger.items: expected a list, got %T", list)
		}
	}
	now := e.sched.clock.Now().UTC()
	items := make([]PollItem, 0, len(raw))
	for i, it := range raw {
		k, err := a.Compiled.Key.Eval(env.With("item", it))
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		key := scalarString(k)
		if key == "" {
			return nil, fmt.Errorf("trigger.key: item %d has an empty key", i)
		}
		body, err := json.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		ev := &Event{FlowID: f.ID, Source: flows.TriggerPoll, ContentType: "application/json", Body: body,
			ReceivedAt: now, DedupeKey: key, Headers: map[string]string{}}
		run := &Run{FlowID: f.ID, FlowVersion: a.Record.Version, Status: RunQueued, CreatedAt: now, Steps: []StepResult{}}
		items = append(items, PollItem{Key: key, Event: ev, Run: run})
	}
	return items, nil
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	default:
		return fmt.Sprint(x)
	}
}

// PollInfo is what the API shows of a timed flow.
type PollInfo struct {
	NextFires []time.Time `json:"next_fires"`
	Poll      *PollState  `json:"poll,omitempty"`
	SeenCount int         `json:"seen_count,omitempty"`
	SeenNew   []string    `json:"seen_newest,omitempty"`
}

// ScheduleInfo describes a schedule or poll flow: next fire times, the last
// poll's result and the seen set.
func (e *Engine) ScheduleInfo(ctx context.Context, id string) (PollInfo, error) {
	next, err := e.NextFires(id, 5)
	if err != nil {
		return PollInfo{}, err
	}
	info := PollInfo{NextFires: next}
	if a := e.flows.get(id); a != nil && a.Flow().Trigger.Type == flows.TriggerPoll {
		st, err := e.store.PollStateOf(ctx, id)
		if err != nil {
			return info, err
		}
		info.Poll = &st
		info.SeenCount, info.SeenNew, err = e.store.SeenKeys(ctx, id, 20)
		if err != nil {
			return info, err
		}
	}
	return info, nil
}

// ResetPoll forgets a poll flow's seen set, so the next poll seeds again.
func (e *Engine) ResetPoll(ctx context.Context, id string) error {
	if e.flows.get(id) == nil {
		return fmt.Errorf("engine: flow %q: %w", id, ErrFlowNotFound)
	}
	return e.store.ResetPoll(ctx, id)
}

// PollNow polls a flow at once. With force a flood pause is lifted and the
// unseen items run; with seed they are recorded as seen without running.
func (e *Engine) PollNow(ctx context.Context, id string, force, seed bool) (PollResult, error) {
	a := e.flows.get(id)
	if a == nil {
		return PollResult{}, fmt.Errorf("engine: flow %q: %w", id, ErrFlowNotFound)
	}
	if seed {
		// Seeding is a first poll on an emptied state that keeps the seen
		// keys: mark the state unseeded and lift any pause.
		st, err := e.store.PollStateOf(ctx, id)
		if err != nil {
			return PollResult{}, err
		}
		st.Seeded, st.Paused, st.PauseReason = false, false, ""
		if err := e.store.PutPollState(ctx, id, st); err != nil {
			return PollResult{}, err
		}
		a2 := *a
		a2f := *a.Compiled
		fl := *a.Compiled.Flow
		fl.Trigger.Backfill = 0
		a2f.Flow = &fl
		a2.Compiled = &a2f
		return e.Poll(ctx, &a2, PollOptions{IgnoreBackoff: true})
	}
	return e.Poll(ctx, a, PollOptions{Force: force, IgnoreBackoff: true})
}
