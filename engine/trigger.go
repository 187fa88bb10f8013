package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// TriggerStore keeps the state of schedule and poll triggers: which ticks
// fired, and each poll's state and seen set.
type TriggerStore interface {
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

// IsJSONType reports whether a Content-Type names JSON (application/json or
// any +json type).
func IsJSONType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// ParseBody turns a stored body into what expressions see as trigger.body:
// JSON is decoded, a form becomes an object (repeated keys become lists),
// anything else is text. An empty body is nil.
func ParseBody(contentType string, body []byte) (any, error) {
	if len(body) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case IsJSONType(contentType):
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, err
		}
		return v, nil
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(vals))
		for k, vs := range vals {
			if len(vs) == 1 {
				out[k] = vs[0]
				continue
			}
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = v
			}
			out[k] = list
		}
		return out, nil
	default:
		return string(body), nil
	}
}

// triggerData is the `trigger` an event shows to expressions.
func triggerData(ev *Event) (flows.TriggerData, error) {
	body, err := ParseBody(ev.ContentType, ev.Body)
	if err != nil {
		return flows.TriggerData{}, err
	}
	return flows.TriggerData{
		Body:       body,
		Headers:    ev.Headers,
		Query:      ev.Query,
		Method:     ev.Method,
		Path:       ev.Path,
		ReceivedAt: ev.ReceivedAt,
	}, nil
}

// Decide applies the poll rules to the items a store found unseen and
// updates st (the state being committed): the first poll (or a seed)
// records what is there and runs only a backfill; more unseen items than
// the flood limit pause the flow and record nothing (flooded); otherwise
// every unseen item fires. The store then records fire's runs, adds every
// unseen key to the seen set and sets st.Cursor, unless flooded.
func (pc *PollCommit) Decide(st *PollState, unseen []PollItem) (fire []PollItem, flooded bool) {
	st.LastNew = len(unseen)
	fire = unseen
	switch {
	case !st.Seeded || pc.Seed:
		// A seed asked for runs nothing.
		fire = nil
		if !pc.Seed && pc.Backfill > 0 && len(unseen) > 0 {
			fire = unseen[max(0, len(unseen)-pc.Backfill):]
		}
		st.Seeded = true
		st.LastStatus = "seeded"
	case pc.FloodLimit > 0 && len(unseen) > pc.FloodLimit && !pc.Force:
		// Nothing is recorded and the cursor stays, so that confirming
		// fetches and runs the same items.
		st.Paused = true
		st.PauseReason = fmt.Sprintf("%d new items in one poll (limit %d); confirm to run them or seed to skip them", len(unseen), pc.FloodLimit)
		st.LastStatus = "flood"
		st.LastRuns = 0
		return nil, true
	default:
		st.LastStatus = "ok"
	}
	st.Cursor = pc.Cursor
	st.LastRuns = len(fire)
	return fire, false
}
