package views

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/a-h/templ"
)

// SampleProps is the builder's sample: the event whose fields the Insert
// data panel offers, and the ways to get one (listen for a test event,
// pick one of the flow's latest events, fetch a poll's items, paste a
// payload into Test).
type SampleProps struct {
	// TriggerType is the form's trigger type.
	TriggerType string
	// TestURL is where a webhook's test event is sent
	// (/hooks-test/{path}); empty without a path.
	TestURL string
	// Listen is the listen in progress or just ended (nil: none).
	Listen *ListenProps
	// Recent are the flow's latest events, newest first (at most 10).
	Recent []RecentEvent
	// Picked is the run whose event is the sample, when one was picked.
	Picked string
	// Items are a poll's items from "Fetch sample" (nil: not fetched).
	Items []SampleItem
	// FetchError says why fetching a poll's sample failed.
	FetchError string
	// Pick offers, after a fetch, what the poll's items or item key may
	// be, when the form has none yet (nil: nothing to offer).
	Pick *PollPick
	// Error says what is wrong with a pasted payload.
	Error string
	// Meta is the sample's method, headers and query as JSON (empty: a
	// body alone); the form carries it as _sample_meta.
	Meta string
}

// ListenProps is one "Listen for test event".
type ListenProps struct {
	ID       string
	Deadline time.Time
	// State is listening, received, canceled or expired.
	State string
	// Summary describes the received request (method, size, time).
	Summary string
	// Error is why listening could not start.
	Error string
}

// RecentEvent is one of a flow's latest events, offered as the sample.
type RecentEvent struct {
	RunID      string
	ReceivedAt time.Time
	Status     string
	Preview    string
}

// SampleItem is one item a poll's request listed.
type SampleItem struct {
	// JSON is the item as compact JSON, Preview a short line of it.
	JSON, Preview string
}

func (r RecentEvent) label() string {
	return r.ReceivedAt.Local().Format("Jan 2 15:04:05") + " · " + r.Status + " · " + r.Preview
}

// remaining is the countdown's text when the page is rendered; app.js
// counts it down from data-deadline.
func (l *ListenProps) remaining() string {
	d := time.Until(l.Deadline).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func (l *ListenProps) deadlineMS() string { return strconv.FormatInt(l.Deadline.UnixMilli(), 10) }

// oob marks a fragment as an out-of-band swap: htmx puts it in place of
// the element with the same id, wherever that is.
func oob(on bool) templ.Attributes {
	if on {
		return templ.Attributes{"hx-swap-oob": "true"}
	}
	return templ.Attributes{}
}

// itemVals are the htmx values that pick a poll item as the sample.
func itemVals(item string) string { return valsJSON("_sample_item", item) }

func (p *BuilderProps) sample() *SampleProps {
	if p.Sample == nil {
		return &SampleProps{}
	}
	return p.Sample
}

// PollPick is what "Fetch sample" offers for a poll trigger's items (the
// lists in the response) or, once they are set, its item key (the first
// item's single values): each a button that fills Field and fetches again.
type PollPick struct {
	// Field is the form name filled: trigger.items or trigger.key.
	Field string
	// Title says what is offered.
	Title   string
	Options []ListOption
}

// valsJSON is an hx-vals of one value: a PollPick button's field, filled,
// or a fetched item picked as the sample.
func valsJSON(name, value string) string {
	b, _ := json.Marshal(map[string]string{name: value})
	return string(b)
}
