package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
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
	// Seed records the unseen items as seen without running them and
	// lifts a flood pause (a user chose to skip them).
	Seed bool
	// IgnoreBackoff polls even while the source is backing off (a user
	// asked for a poll now).
	IgnoreBackoff bool
}

// Poll fetches a poll trigger's source once, evaluates its items and keys,
// and starts one run per unseen item (in list order: the items expression
// lists the oldest first), updating the bounded seen set in the same
// transaction. The first poll after enabling records what is there without
// running it (unless the flow asks for a backfill); more new items than the
// flood limit pause the flow until confirmed. Polls of one flow never
// overlap: Poll waits for one in flight.
func (e *Engine) Poll(ctx context.Context, a *ActiveFlow, opts PollOptions) (PollResult, error) {
	l := e.sched.pollLock(a.Flow().ID)
	l.Lock()
	defer l.Unlock()
	return e.poll(ctx, a, opts)
}

// poll is Poll for a caller holding the flow's poll lock.
func (e *Engine) poll(ctx context.Context, a *ActiveFlow, opts PollOptions) (PollResult, error) {
	f := a.Flow()
	t := f.Trigger
	if t.Type != flows.TriggerPoll || a.Compiled.Items == nil || a.Compiled.Key == nil {
		return PollResult{}, fmt.Errorf("engine: poll flow %q: %w", f.ID, ErrNotPoll)
	}
	now := e.sched.clock.Now()
	st, err := e.store.PollStateOf(ctx, f.ID)
	if err != nil {
		return PollResult{}, err
	}
	if st.Paused && !opts.Force && !opts.Seed {
		return PollResult{State: st}, nil
	}
	if !opts.IgnoreBackoff && now.Before(st.NextAllowed) {
		return PollResult{State: st}, nil
	}
	st.FlowVersion = a.Record.Version
	st.LastPollAt = now.UTC()
	if opts.Force || opts.Seed {
		st.Paused, st.PauseReason = false, ""
	}
	items, cursor, err := e.fetchItems(ctx, a, &st)
	if err != nil {
		if ctx.Err() != nil {
			return PollResult{State: st}, err // shutting down: not the source's fault
		}
		st.Failures++
		st.LastStatus, st.LastError = "error", err.Error()
		delay := time.Duration(float64(pollBackoffBase) * math.Pow(2, float64(min(st.Failures-1, 20))))
		st.NextAllowed = now.Add(min(delay, pollBackoffMax)).UTC()
		res, serr := e.store.AcceptPoll(ctx, PollCommit{FlowID: f.ID, Version: a.Record.Version, State: st, Failed: true})
		if serr != nil && !errors.Is(serr, ErrStaleVersion) {
			e.log.ErrorContext(ctx, "save poll state", "flow_id", f.ID, "err", serr)
		}
		res.State = st
		return res, fmt.Errorf("engine: poll flow %q: %w", f.ID, err)
	}
	st.Failures, st.LastError, st.NextAllowed = 0, "", time.Time{}
	st.LastItems = len(items)
	pc := PollCommit{FlowID: f.ID, Version: a.Record.Version, Items: items, State: st, Force: opts.Force, Seed: opts.Seed,
		SeenLimit: orDefault(t.SeenLimit, flows.DefaultSeenLimit), FloodLimit: orDefault(t.FloodLimit, flows.DefaultFloodLimit),
		Backfill: t.Backfill, Cursor: cursor}
	// Reserve room for every item: which are unseen is only known inside
	// the transaction.
	if n := e.pending.Add(int64(len(items))); n > int64(e.cfg.QueueLimit) {
		e.pending.Add(-int64(len(items)))
		e.counts.saturated.Add(1)
		return PollResult{State: st}, fmt.Errorf("engine: poll flow %q: %w", f.ID, ErrSaturated)
	}
	res, err := e.store.AcceptPoll(ctx, pc)
	e.pending.Add(-int64(len(items) - len(res.Runs)))
	if err != nil {
		return res, err
	}
	for i, run := range res.Runs {
		e.counts.accepted.Add(1)
		e.enqueue(queued{runID: run.ID, run: run, event: res.Events[i]})
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

// fillCursor substitutes the saved cursor for {{ cursor }} in a request
// string; in a URL's query it is escaped as a query value, in its path as a
// path segment.
func fillCursor(s, cursor string, isURL bool) string {
	const a, b = "{{ cursor }}", "{{cursor}}"
	if !isURL {
		return strings.ReplaceAll(strings.ReplaceAll(s, a, cursor), b, cursor)
	}
	base, query, hasQuery := strings.Cut(s, "?")
	base = strings.ReplaceAll(strings.ReplaceAll(base, a, url.PathEscape(cursor)), b, url.PathEscape(cursor))
	if !hasQuery {
		return base
	}
	q := url.QueryEscape(cursor)
	return base + "?" + strings.ReplaceAll(strings.ReplaceAll(query, a, q), b, q)
}

// fetchItems sends the poll request and turns the answer into items, and
// evaluates the cursor expression (nil without one).
//
// A panic while fetching (in the request's connector, say) is the poll's
// failure, "internal error (see log, id X)", counted and backed off like
// any other; it never takes the process down.
func (e *Engine) fetchItems(ctx context.Context, a *ActiveFlow, st *PollState) (items []PollItem, next any, err error) {
	defer func() {
		if r := recover(); r != nil {
			items, next, err = nil, nil, internalError(e.log, r, nil, "flow_id", a.Flow().ID)
		}
	}()
	return e.fetch(ctx, a, st)
}

func (e *Engine) fetch(ctx context.Context, a *ActiveFlow, st *PollState) ([]PollItem, any, error) {
	f := a.Flow()
	resp, err := e.pollResponse(ctx, f, cursorString(st.Cursor))
	if err != nil {
		return nil, nil, err
	}
	env := flows.NewEnv(flows.EnvInput{Flow: f})
	list, err := a.Compiled.Items.Eval(env.With(flows.VarResponse, resp))
	if err != nil {
		return nil, nil, err
	}
	raw, ok := list.([]any)
	if !ok && list != nil {
		return nil, nil, fmt.Errorf("trigger.items: expected a list, got %T", list)
	}
	var next any
	if a.Compiled.Cursor != nil {
		v, err := a.Compiled.Cursor.Eval(env.With(flows.VarResponse, resp).With(flows.VarCursor, st.Cursor))
		if err != nil {
			return nil, nil, err
		}
		// The cursor is kept as JSON: a value JSON cannot hold fails the
		// poll now rather than the transaction that saves it.
		data, err := json.Marshal(v)
		if err != nil {
			return nil, nil, fmt.Errorf("trigger.cursor: %w", err)
		}
		if err := json.Unmarshal(data, &next); err != nil {
			return nil, nil, fmt.Errorf("trigger.cursor: %w", err)
		}
	}
	now := e.sched.clock.Now().UTC()
	items := make([]PollItem, 0, len(raw))
	for i, it := range raw {
		k, err := a.Compiled.Key.Eval(env.With(flows.VarItem, it))
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, err)
		}
		key := scalarString(k)
		if key == "" {
			return nil, nil, fmt.Errorf("trigger.key: item %d has an empty key", i)
		}
		body, err := json.Marshal(it)
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, err)
		}
		ev := &Event{FlowID: f.ID, Source: flows.TriggerPoll, ContentType: "application/json", Body: body,
			ReceivedAt: now, DedupeKey: key, Headers: map[string]string{}}
		run := &Run{FlowID: f.ID, FlowVersion: a.Record.Version, Status: RunQueued, CreatedAt: now, Steps: []StepResult{}}
		items = append(items, PollItem{Key: key, Event: ev, Run: run})
	}
	return items, next, nil
}

// pollResponse sends a poll trigger's request once, the cursor filled in,
// and returns its response as an http.request step gives it (status,
// headers, body): what the items, key and cursor expressions read as
// response.
func (e *Engine) pollResponse(ctx context.Context, f *flows.Flow, cursor string) (any, error) {
	req := f.Trigger.Request
	method := req.Method
	if method == "" {
		method = "GET"
	}
	headers := map[string]any{}
	for k, v := range req.Headers {
		headers[k] = fillCursor(v, cursor, false)
	}
	cfg := map[string]any{"method": method, "url": fillCursor(req.URL, cursor, true), "headers": headers, "idempotency_key": false}
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
	return out.Output, nil
}

// cursorString is the text a saved cursor stands for in the request: a
// string as is, a number in plain notation, anything else as JSON.
func cursorString(v any) string {
	switch v.(type) {
	case nil, string, float64, int:
		return scalarString(v)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
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
	FlowID  string `json:"flow_id"`
	Trigger string `json:"trigger"`
	Enabled bool   `json:"enabled"`
	// NextFires are the next fire times in the flow's time zone (none
	// while the flow is disabled).
	NextFires []time.Time `json:"next_fires"`
	// LastTick is the newest schedule tick that fired (schedule flows).
	LastTick *time.Time `json:"last_tick,omitempty"`
	// Poll is the last poll's result (poll flows).
	Poll *PollState `json:"poll,omitempty"`
	// SeenCount and SeenNew describe the seen set (poll flows): its size
	// and its newest keys, newest first.
	SeenCount int      `json:"seen_count"`
	SeenNew   []string `json:"seen_newest,omitempty"`
}

// ScheduleInfo describes a schedule or poll flow: next fire times, the last
// poll's result and the seen set.
func (e *Engine) ScheduleInfo(ctx context.Context, id string) (PollInfo, error) {
	next, err := e.NextFires(id, 5)
	if err != nil {
		return PollInfo{}, err
	}
	a := e.flows.get(id)
	if a == nil {
		return PollInfo{}, fmt.Errorf("engine: flow %q: %w", id, ErrFlowNotFound)
	}
	f := a.Flow()
	info := PollInfo{FlowID: id, Trigger: f.Trigger.Type, Enabled: f.Enabled, NextFires: next}
	switch f.Trigger.Type {
	case flows.TriggerSchedule:
		last, err := e.store.LastTick(ctx, id)
		if err != nil {
			return info, err
		}
		if !last.IsZero() {
			info.LastTick = &last
		}
	case flows.TriggerPoll:
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

// pollFlow returns a poll flow's current version.
func (e *Engine) pollFlow(id string) (*ActiveFlow, error) {
	a := e.flows.get(id)
	if a == nil {
		return nil, fmt.Errorf("engine: flow %q: %w", id, ErrFlowNotFound)
	}
	if a.Flow().Trigger.Type != flows.TriggerPoll {
		return nil, fmt.Errorf("engine: flow %q has a %s trigger: %w", id, a.Flow().Trigger.Type, ErrNotPoll)
	}
	return a, nil
}

// ResetPoll forgets a poll flow's seen set and state (a flood pause, the
// cursor, the backoff), so the next poll seeds again.
func (e *Engine) ResetPoll(ctx context.Context, id string) error {
	if _, err := e.pollFlow(id); err != nil {
		return err
	}
	l := e.sched.pollLock(id)
	l.Lock()
	defer l.Unlock()
	return e.store.ResetPoll(ctx, id)
}

// PollNow polls a flow at once, even while its source backs off. With force
// a flood pause is lifted and the unseen items run; with seed they are
// recorded as seen without running.
func (e *Engine) PollNow(ctx context.Context, id string, force, seed bool) (PollResult, error) {
	a, err := e.pollFlow(id)
	if err != nil {
		return PollResult{}, err
	}
	if force && seed {
		return PollResult{}, fmt.Errorf("engine: poll flow %q: force and seed exclude each other", id)
	}
	return e.Poll(ctx, a, PollOptions{Force: force, Seed: seed, IgnoreBackoff: true})
}
