package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// The builder's sample is the payload in its Test panel: the Insert data
// panel lists that payload's fields, the live check evaluates against it,
// and Test runs with it. It comes from a captured test event ("Listen for
// test event"), one of the flow's latest events, a poll's fetched items,
// a schedule's tick, or whatever the user pasted. The form carries it
// (_test_payload and _sample_note), so every builder swap keeps it.

// recentEvents is how many of a flow's latest events the builder offers.
const recentEvents = 10

// fillSample sets the builder's sample and what the sample panels show.
// form is the posted builder form, nil for a page opened fresh (which
// takes the flow's latest event).
func (s *Server) fillSample(c *fiber.Ctx, p *views.BuilderProps, form url.Values) {
	ctx := c.UserContext()
	t := p.Flow.Trigger
	sp := &views.SampleProps{TriggerType: t.Type}
	p.Sample = sp
	flowID := ""
	if !p.New {
		flowID = p.Flow.ID
	}
	if t.Type == flows.TriggerWebhook || t.Type == "" {
		if path := strings.Trim(t.Path, "/"); path != "" {
			sp.TestURL = s.hooksBaseURL(c) + "/hooks-test/" + path
		}
	}
	sp.Recent = s.recentEvents(ctx, flowID)
	var payload, note string
	var meta sampleMeta
	run, ev, haveRun := s.latestRun(ctx, flowID)
	if form != nil {
		payload, note = form.Get("_test_payload"), form.Get("_sample_note")
		meta = parseMeta(form.Get("_sample_meta"))
		sp.Picked = form.Get("_sample_run")
		if id := form.Get("_listen"); id != "" {
			if cp := s.captures.get(id); cp != nil {
				if st, _ := s.captures.state(cp, time.Now()); st == captureListening {
					sp.Listen = &views.ListenProps{ID: cp.ID, Deadline: cp.Deadline, State: "listening"}
				}
			}
		}
	} else if haveRun {
		payload = views.Pretty(eventBody(ev))
		meta = metaOf(ev)
		note = "the event of run " + run.ID + " (" + ev.ReceivedAt.Local().Format("2006-01-02 15:04:05 MST") + ")"
	} else if kept, ok := s.samples.get(flowID); ok {
		payload, note, meta = kept.payload, kept.note, parseMeta(kept.meta)
	}
	if strings.TrimSpace(payload) == "" && t.Type == flows.TriggerSchedule {
		payload = views.Pretty(tickBody(t, time.Now()))
		note = "a schedule tick (trigger.body.tick is when it fired)"
	}
	p.TestPayload = payload
	p.SampleNote = note
	sp.Meta = meta.encode()
	if strings.TrimSpace(payload) == "" {
		p.SampleNote = "none yet"
		return
	}
	var body any
	if err := json.Unmarshal([]byte(payload), &body); err != nil {
		sp.Error = "The payload in Test is not valid JSON: " + err.Error()
		return
	}
	if p.SampleNote == "" {
		p.SampleNote = "the payload in Test"
	}
	if !haveRun {
		run = nil
	}
	setRefs(p, s.sampleOf(flowID, body, meta, run))
}

// sampleMeta is what a sample carries besides its body, when it is a
// request: its method, headers (credentials redacted) and query. The form
// carries it as JSON in _sample_meta.
type sampleMeta struct {
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Query   map[string]string `json:"query,omitempty"`
}

func metaOf(ev *engine.Event) sampleMeta {
	return sampleMeta{Method: ev.Method, Headers: shownHeaders(ev.Headers), Query: ev.Query}
}

func (m sampleMeta) encode() string {
	if m.Method == "" && len(m.Headers) == 0 && len(m.Query) == 0 {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// parseMeta reads _sample_meta; anything damaged is no meta.
func parseMeta(s string) sampleMeta {
	var m sampleMeta
	if s != "" && json.Unmarshal([]byte(s), &m) != nil {
		return sampleMeta{}
	}
	return m
}

// sampleMemo keeps the sample a flow was saved with from the builder, so
// the builder opened after the save still has it while the flow has no
// event yet. Memory only, bounded: it is a convenience, not data.
type sampleMemo struct {
	mu sync.Mutex
	m  map[string]keptSample
}

type keptSample struct{ payload, note, meta string }

// maxKeptSamples bounds sampleMemo.
const maxKeptSamples = 256

func (m *sampleMemo) get(flowID string) (keptSample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.m[flowID]
	return k, ok
}

// keepSample remembers the builder's sample for the flow just saved.
func (s *Server) keepSample(flowID string, p *views.BuilderProps) {
	m := &s.samples
	m.mu.Lock()
	defer m.mu.Unlock()
	if strings.TrimSpace(p.TestPayload) == "" {
		delete(m.m, flowID)
		return
	}
	if m.m == nil || len(m.m) >= maxKeptSamples {
		m.m = map[string]keptSample{}
	}
	k := keptSample{payload: p.TestPayload, note: p.SampleNote}
	if p.Sample != nil {
		k.meta = p.Sample.Meta
	}
	m.m[flowID] = k
}

// tickBody is what a schedule tick's run reads as trigger.body (the
// scheduler's shape).
func tickBody(t flows.Trigger, at time.Time) map[string]any {
	return map[string]any{"tick": at.UTC().Truncate(time.Minute).Format(time.RFC3339Nano), "timezone": t.Timezone}
}

// recentEvents lists a saved flow's latest events for the sample picker.
func (s *Server) recentEvents(ctx context.Context, flowID string) []views.RecentEvent {
	if flowID == "" {
		return nil
	}
	page, err := s.eng.ListRuns(ctx, engine.RunFilter{FlowID: flowID, Limit: recentEvents})
	if err != nil {
		return nil
	}
	out := make([]views.RecentEvent, 0, len(page.Runs))
	for _, r := range page.Runs {
		re := views.RecentEvent{RunID: r.ID, ReceivedAt: r.CreatedAt, Status: string(r.Status)}
		if _, ev, ok := s.runEvent(ctx, r.ID); ok {
			re.ReceivedAt = ev.ReceivedAt
			re.Preview = clip(compactJSON(eventBody(ev)), 60)
		}
		out = append(out, re)
	}
	return out
}

// checkSample is the sample the live check evaluates against: the
// payload posted with the field (the builder's Test payload), else the
// flow's latest event.
func (s *Server) checkSample(c *fiber.Ctx) (sample, bool) {
	flowID := c.Query("flow")
	if sm, ok := s.payloadSample(c.UserContext(), flowID, c.FormValue("_test_payload"), c.FormValue("_sample_meta")); ok {
		return sm, true
	}
	return s.latestSample(c.UserContext(), flowID)
}

// payloadSample is the sample of a payload (the builder's Test payload)
// with its method, headers and query (the encoded sampleMeta), and the
// step outputs of the flow's latest run; false when the payload is empty
// or not JSON.
func (s *Server) payloadSample(ctx context.Context, flowID, payload, metaText string) (sample, bool) {
	payload = strings.TrimSpace(payload)
	if payload == "" {
		return sample{}, false
	}
	var body any
	if err := json.Unmarshal([]byte(payload), &body); err != nil {
		return sample{}, false
	}
	run, _, ok := s.latestRun(ctx, flowID)
	if !ok {
		run = nil
	}
	return s.sampleOf(flowID, body, parseMeta(metaText), run), true
}

// sampleOf is what the builder shows and evaluates of a sample: the
// fields to pick (refs) and the environment expressions and condition
// rows run in. run is the flow's latest run (its step outputs), or nil.
func (s *Server) sampleOf(flowID string, body any, meta sampleMeta, run *engine.Run) sample {
	td := flows.TriggerData{Body: body, Headers: meta.Headers, Query: meta.Query, Method: meta.Method, ReceivedAt: time.Now().UTC()}
	if td.Headers == nil {
		td.Headers = map[string]string{}
	}
	if td.Method == "" {
		td.Method = "POST"
	}
	return sample{env: s.sampleEnv(flowID, run, td), body: body, refs: sampleRefs(body, meta, run)}
}

// sampleForm reads the builder form a sample endpoint was sent (htmx
// posts the whole form) and the builder props it describes.
func (s *Server) sampleForm(c *fiber.Ctx) (url.Values, *views.BuilderProps, error) {
	vals, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return nil, nil, errStatus(fiber.StatusBadRequest, "malformed form: %v", err)
	}
	f, _ := parseFlowForm(vals)
	isNew := vals.Get("_new") == "1"
	p := s.builderProps(c, f, isNew)
	s.fillSample(c, p, vals)
	return vals, p, nil
}

// setSample makes body the builder's sample.
func (s *Server) setSample(c *fiber.Ctx, p *views.BuilderProps, body any, note string, meta sampleMeta) {
	p.TestPayload = views.Pretty(body)
	p.SampleNote = note
	p.Sample.Error = ""
	p.Sample.Meta = meta.encode()
	flowID := ""
	if !p.New {
		flowID = p.Flow.ID
	}
	run, _, ok := s.latestRun(c.UserContext(), flowID)
	if !ok {
		run = nil
	}
	setRefs(p, s.sampleOf(flowID, body, meta, run))
}

// sampleListen starts a "Listen for test event" on the form's webhook
// path.
func (s *Server) sampleListen(c *fiber.Ctx) error {
	_, p, err := s.sampleForm(c)
	if err != nil {
		return err
	}
	t := p.Flow.Trigger
	path := strings.Trim(t.Path, "/")
	if path == "" {
		p.Sample.Listen = &views.ListenProps{Error: "Give the webhook a path first."}
		return render(c, fiber.StatusOK, views.ListenBox(p))
	}
	cp, err := s.captures.listen(path, t.Methods, t.EffectiveMaxBody(), time.Now())
	if err != nil {
		p.Sample.Listen = &views.ListenProps{Error: err.Error()}
		return render(c, fiber.StatusOK, views.ListenBox(p))
	}
	p.Sample.Listen = &views.ListenProps{ID: cp.ID, Deadline: cp.Deadline, State: "listening"}
	return render(c, fiber.StatusOK, views.ListenBox(p))
}

// sampleWait is the listen's long poll: it answers when the test event
// arrives (making it the sample), when the listen ends, or after
// waitSlice (the page then asks again).
func (s *Server) sampleWait(c *fiber.Ctx) error {
	vals, p, err := s.sampleForm(c)
	if err != nil {
		return err
	}
	cp := s.captures.get(vals.Get("_listen"))
	if cp == nil {
		p.Sample.Listen = &views.ListenProps{State: "expired"}
		return render(c, fiber.StatusOK, views.ListenBox(p))
	}
	timer := time.NewTimer(min(waitSlice, max(time.Until(cp.Deadline), 0)+50*time.Millisecond))
	defer timer.Stop()
	select {
	case <-cp.done:
	case <-timer.C:
	case <-s.closing:
	}
	st, ev := s.captures.state(cp, time.Now())
	switch st {
	case captureListening:
		p.Sample.Listen = &views.ListenProps{ID: cp.ID, Deadline: cp.Deadline, State: "listening"}
		return render(c, fiber.StatusOK, views.ListenBox(p))
	case captureReceived:
		at := ev.ReceivedAt.Local().Format("15:04:05 MST")
		p.Sample.Listen = &views.ListenProps{State: "received",
			Summary: fmt.Sprintf("%s at %s, %d bytes", ev.Method, at, len(ev.Body))}
		s.setSample(c, p, eventBody(ev), "the test event received at "+at, metaOf(ev))
		return render(c, fiber.StatusOK, views.SampleAnswer(p, views.ListenBox(p), true, true))
	case captureCanceled:
		p.Sample.Listen = &views.ListenProps{State: "canceled"}
	default:
		p.Sample.Listen = &views.ListenProps{State: "expired"}
	}
	return render(c, fiber.StatusOK, views.ListenBox(p))
}

// sampleCancel ends a listen.
func (s *Server) sampleCancel(c *fiber.Ctx) error {
	vals, p, err := s.sampleForm(c)
	if err != nil {
		return err
	}
	s.captures.cancel(vals.Get("_listen"))
	p.Sample.Listen = &views.ListenProps{State: "canceled"}
	return render(c, fiber.StatusOK, views.ListenBox(p))
}

// sampleUse changes the sample to one of the flow's latest events
// (_sample_run), one item of a fetched poll (_sample_item) or what was
// typed into Test (_sample_paste); it answers with the Insert data panel.
func (s *Server) sampleUse(c *fiber.Ctx) error {
	vals, p, err := s.sampleForm(c)
	if err != nil {
		return err
	}
	payload := true
	switch {
	case vals.Get("_sample_paste") != "":
		// fillSample read the typed payload already; the textarea being
		// typed into is left alone.
		payload = false
		if p.Sample.Error == "" && strings.TrimSpace(p.TestPayload) != "" {
			p.SampleNote = "the payload in Test"
		}
	case vals.Get("_sample_item") != "":
		var item any
		if err := json.Unmarshal([]byte(vals.Get("_sample_item")), &item); err != nil {
			return errStatus(fiber.StatusBadRequest, "the item is not JSON: %v", err)
		}
		s.setSample(c, p, item, "an item the poll request found", sampleMeta{})
	case vals.Get("_sample_run") != "":
		id := vals.Get("_sample_run")
		run, ev, ok := s.runEvent(c.UserContext(), id)
		if !ok || run.FlowID != p.Flow.ID {
			p.Sample.Error = "That event is no longer stored."
			break
		}
		s.setSample(c, p, eventBody(ev), "the event of run "+run.ID+" ("+ev.ReceivedAt.Local().Format("2006-01-02 15:04:05 MST")+")", metaOf(ev))
		p.Sample.Picked = id
	}
	if payload {
		return render(c, fiber.StatusOK, views.SampleAnswer(p, views.RefsPanel(p, false), true, false))
	}
	return render(c, fiber.StatusOK, views.SampleAnswer(p, views.RefsPanel(p, false), false, false))
}

// sampleFetch sends the form's poll request once and lists its items;
// the first becomes the sample.
func (s *Server) sampleFetch(c *fiber.Ctx) error {
	_, p, err := s.sampleForm(c)
	if err != nil {
		return err
	}
	if t := p.Flow.Trigger; strings.TrimSpace(t.Items) == "" || strings.TrimSpace(t.Key) == "" {
		return s.fetchPick(c, p)
	}
	// Only the trigger matters here: steps still being built must not
	// stop the fetch.
	f := *p.Flow
	// (a flow needs one step to compile; this one never runs).
	f.Steps = []flows.Step{{ID: "sample", Use: "data.set", With: map[string]any{"sample": true}}}
	if f.ID == "" {
		f.ID = "sample"
	}
	cf, err := flows.Compile(&f)
	if err != nil {
		p.Sample.FetchError = "Fill in the request and the items and item key fields first: " + err.Error()
		return render(c, fiber.StatusOK, views.FetchBox(p))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), testRunTimeout)
	defer cancel()
	items, err := s.eng.SamplePoll(ctx, cf)
	if err != nil {
		p.Sample.FetchError = "The request failed: " + err.Error()
		return render(c, fiber.StatusOK, views.FetchBox(p))
	}
	p.Sample.Items = make([]views.SampleItem, 0, min(len(items), 20))
	for i, it := range items {
		if i == 20 {
			break
		}
		js := compactJSON(it)
		p.Sample.Items = append(p.Sample.Items, views.SampleItem{JSON: js, Preview: clip(js, 100)})
	}
	if len(items) == 0 {
		return render(c, fiber.StatusOK, views.FetchBox(p))
	}
	s.setSample(c, p, items[0], fmt.Sprintf("item 1 of the %d the poll request found", len(items)), sampleMeta{})
	// The fields are swapped too: a key picked from fetchPick's offer
	// was sent with this request, not typed into the page.
	return render(c, fiber.StatusOK, views.SampleAnswer(p, views.Fragments(views.FetchBox(p), views.PollItemFields(p, true)), true, true))
}

// fetchPick is "Fetch sample" for a poll trigger without items or an item
// key yet: it sends the request and offers, as buttons that fill the
// field and fetch again, the lists in the response for the items, or,
// once they are set, the first item's single values for the key. So
// neither is typed. The fields are swapped too, showing what was picked.
func (s *Server) fetchPick(c *fiber.Ctx, p *views.BuilderProps) error {
	answer := func() error {
		return render(c, fiber.StatusOK, views.Fragments(views.FetchBox(p), views.PollItemFields(p, true)))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), testRunTimeout)
	defer cancel()
	resp, err := s.eng.SamplePollResponse(ctx, p.Flow)
	if err != nil {
		p.Sample.FetchError = "The request failed: " + err.Error()
		if errors.Is(err, engine.ErrNotPoll) {
			p.Sample.FetchError = "Fill in the request URL first."
		}
		return answer()
	}
	t := p.Flow.Trigger
	if strings.TrimSpace(t.Items) == "" {
		p.Sample.Pick = &views.PollPick{Field: "trigger.items", Title: "Where are the items? The lists in the response:",
			Options: views.ListOptions(responseRefs(resp), "")}
		if len(p.Sample.Pick.Options) == 0 {
			// The body alone: the answer's headers may carry a session
			// the credential bought (Set-Cookie).
			p.Sample.Pick, p.Sample.FetchError = nil, "The response's body holds no list: "+clip(compactJSON(responseBody(resp)), 200)
		}
		return answer()
	}
	list, err := flows.EvalSample(t.Items, flows.KindItems, flows.Env{flows.VarResponse: resp})
	items, ok := list.([]any)
	switch {
	case err != nil:
		p.Sample.FetchError = "Items: " + err.Error()
	case !ok || len(items) == 0:
		p.Sample.FetchError = "Items found no list of items in the response; pick another (clear the field to see the response's lists)."
	default:
		refs := &refCollector{}
		refs.walk(flows.VarItem, items[0], 1)
		p.Sample.Pick = &views.PollPick{Field: "trigger.key", Title: "What tells one item from another? The first item's values (an id is usual):",
			Options: views.ValueOptions(refs.out)}
		if len(p.Sample.Pick.Options) == 0 {
			p.Sample.Pick, p.Sample.FetchError = nil, "The first item has no single value to tell items apart: "+clip(compactJSON(items[0]), 200)
		}
	}
	return answer()
}

// responseBody is the body of a poll's response (nil when it has none).
func responseBody(resp any) any {
	m, _ := resp.(map[string]any)
	return m["body"]
}

// responseRefs are the fields of a poll's response, as its items
// expression reads them (response.body.tickets).
func responseRefs(resp any) []views.Ref {
	refs := &refCollector{}
	refs.walk(flows.VarResponse, resp, 0)
	return refs.out
}
