package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// testRunTimeout bounds a builder test run.
const testRunTimeout = 30 * time.Second

// builderNew opens the builder on an empty webhook flow.
func (s *Server) builderNew(c *fiber.Ctx) error {
	f := &flows.Flow{Enabled: true, Trigger: flows.Trigger{Type: flows.TriggerWebhook}, Steps: []flows.Step{}}
	p := s.builderProps(c, f, true)
	if id := c.Query("template"); id != "" {
		if !openTemplate(p, id) {
			return errStatus(fiber.StatusNotFound, "There is no template %q.", id)
		}
	} else if entries, err := gallery(); err == nil {
		for _, e := range entries {
			p.Gallery = append(p.Gallery, e.card)
		}
	}
	// After the template: its trigger decides which sample tools show.
	s.fillSample(c, p, nil)
	return render(c, fiber.StatusOK, views.BuilderPage(p))
}

// builderEdit opens the builder on a stored flow.
func (s *Server) builderEdit(c *fiber.Ctx) error {
	a, f, err := s.flowCopy(c)
	if err != nil {
		return err
	}
	p := s.builderProps(c, f, false)
	s.fillSample(c, p, nil)
	p.Notice = fmt.Sprintf("Version %d, saved %s.", a.Record.Version, a.Record.UpdatedAt.Local().Format("2006-01-02 15:04 MST"))
	p.Panels = s.flowPanels(c, f.ID)
	return render(c, fiber.StatusOK, views.BuilderPage(p))
}

// builderProps gathers what the builder renders around a flow, but its
// sample: the caller fills that once (fillSample), from the posted form
// or, for a page opened fresh, from the flow's latest event.
func (s *Server) builderProps(c *fiber.Ctx, f *flows.Flow, isNew bool) *views.BuilderProps {
	p := &views.BuilderProps{
		Page:        s.pageProps(c, "Edit flow", "flows"),
		New:         isNew,
		Flow:        f,
		Tab:         "form",
		Errors:      map[string][]string{},
		Specs:       map[string]connectors.Spec{},
		WebhookBase: s.hooksBaseURL(c) + "/hooks/",
		CheckURL:    "/flows/check",
		Action:      "/flows/new",
	}
	if isNew {
		p.Page.Title = "New flow"
	} else {
		p.Action = "/flows/" + f.ID + "/edit"
		p.CheckURL = "/flows/check?flow=" + url.QueryEscape(f.ID)
	}
	groups := map[string][]connectors.Spec{}
	for _, sp := range connectors.Specs() {
		p.Specs[sp.ID] = sp
		groups[sp.Category] = append(groups[sp.Category], sp)
	}
	cats := make([]string, 0, len(groups))
	for cat := range groups {
		cats = append(cats, cat)
	}
	// Core first, then the rest alphabetically.
	sort.Slice(cats, func(i, j int) bool {
		if (cats[i] == "Core") != (cats[j] == "Core") {
			return cats[i] == "Core"
		}
		return cats[i] < cats[j]
	})
	for _, cat := range cats {
		p.Palette = append(p.Palette, views.PaletteGroup{Category: cat, Specs: groups[cat]})
	}
	if conns, err := s.eng.Connections(c.UserContext()); err == nil {
		p.Connections = conns
	}
	p.Flows = s.flowChoices()
	setFragmentURLs(p, flowIDOf(p))
	if t := f.Trigger; t.Type == flows.TriggerSchedule || t.Type == flows.TriggerPoll {
		p.SchedPreview = schedPreview(t.Cron, t.Timezone, "", nil)
		p.BrowserZone = isNew && t.Timezone == ""
	}
	return p
}

// builderPost handles every button of the builder: each posts the whole
// form with _op saying what to do. Edits (add, remove, move) rebuild the
// flow from the form, change it and render the builder again; save
// validates and stores it.
func (s *Server) builderPost(c *fiber.Ctx) error {
	vals, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return errStatus(fiber.StatusBadRequest, "malformed form: %v", err)
	}
	isNew := vals.Get("_new") == "1"
	wantID := c.Params("id")
	op := vals.Get("_op")
	if isHTMX(c) && op == "" {
		// htmx reports the clicked submit button in the values it posts;
		// a change event (trigger type) sends _op via hx-vals instead.
		op = "refresh"
	}
	if op == "domove" {
		// A "Move to…" menu changed: its value is the move.
		for _, m := range vals["_move"] {
			if m != "" {
				op = m
				break
			}
		}
	}
	kind, arg, _ := strings.Cut(op, ":")
	if kind == "kvdel" || kind == "jsonrowdel" {
		if i := strings.LastIndex(arg, ":"); i > 0 {
			n, _ := strconv.Atoi(arg[i+1:])
			if kind == "kvdel" {
				dropRow(vals, arg[:i], n)
			} else {
				dropJSONRow(vals, arg[:i], n)
			}
		}
	}

	switch kind {
	case "savejson", "fromjson":
		return s.builderJSON(c, vals, kind, isNew, wantID)
	}

	f, ferrs := parseFlowForm(vals)
	if !isNew {
		// The id of a stored flow is fixed; the form shows it read-only.
		f.ID = wantID
	} else if f.ID == "" && f.Name != "" {
		f.ID = slugID(f.Name)
	}
	p := s.builderProps(c, f, isNew)
	s.fillSample(c, p, vals)
	p.JSONModes = jsonModes(vals)
	p.PickedUnits = valuesBySuffix(vals, ".unit")
	keepTemplate(p, vals.Get("_template"))
	if keepCondStates(kind) {
		p.Conds = condStates(vals)
	}
	p.Sched = readSched(vals)

	switch kind {
	case "cond":
		applyCondOp(p.Conds, arg)
	case "save":
		if len(ferrs) == 0 {
			_, err := s.saveFlow(c, f, isNew, wantID)
			if err == nil {
				s.keepSample(f.ID, p)
				return redirect(c, "/flows/"+f.ID+"/edit?flash=saved")
			}
			if !s.explainSaveError(p, err) {
				return err
			}
		} else {
			p.Errors, p.Problems = ferrs, formProblems(ferrs)
		}
		return s.renderBuilder(c, p, fiber.StatusUnprocessableEntity)
	case "test":
		s.builderTest(c, p, ferrs)
	case "tab":
		raw, err := flows.Encode(f)
		if err != nil {
			return err
		}
		p.Tab, p.JSONText = "json", string(raw)
	case "add":
		listPrefix, use, _ := strings.Cut(arg, ":")
		if list := stepListAt(f, listPrefix); list != nil {
			*list = append(*list, newStep(f, use))
			p.Focus = views.ID(listPrefix + "." + strconv.Itoa(len(*list)-1))
		}
	case "signingsecret":
		if err := s.createFlowSigningSecret(c, p); err != nil {
			return err
		}
	case "jsonmode":
		// The field's value was read in its old mode; it is shown in the
		// new one.
		if i := strings.LastIndex(arg, ":"); i > 0 {
			p.JSONModes[arg[:i]] = arg[i+1:]
		}
	case "del", "up", "down":
		list, i := stepAt(f, arg)
		if list == nil {
			break
		}
		switch kind {
		case "del":
			*list = append((*list)[:i], (*list)[i+1:]...)
		case "up":
			if i > 0 {
				(*list)[i-1], (*list)[i] = (*list)[i], (*list)[i-1]
			}
		case "down":
			if i < len(*list)-1 {
				(*list)[i+1], (*list)[i] = (*list)[i], (*list)[i+1]
			}
		}
	case "move":
		moveStep(f, arg)
	case "caseadd", "casedefault":
		if list, i := stepAt(f, arg); list != nil {
			st := &(*list)[i]
			if kind == "casedefault" {
				st.Switch = append(st.Switch, flows.Case{Default: true, Steps: []flows.Step{}})
				break
			}
			c := flows.Case{Steps: []flows.Step{}}
			// A new condition goes before the default case, which must
			// stay last.
			at := len(st.Switch)
			if at > 0 && st.Switch[at-1].Default {
				at--
			}
			st.Switch = append(st.Switch[:at], append([]flows.Case{c}, st.Switch[at:]...)...)
		}
	case "casedel":
		if cut := strings.LastIndex(arg, ".switch."); cut > 0 {
			if list, i := stepAt(f, arg[:cut]); list != nil {
				st := &(*list)[i]
				j, err := strconv.Atoi(arg[cut+len(".switch."):])
				if err == nil && j >= 0 && j < len(st.Switch) {
					st.Switch = append(st.Switch[:j], st.Switch[j+1:]...)
				}
			}
		}
	}
	return s.renderBuilder(c, p, fiber.StatusOK)
}

// renderBuilder answers htmx with the builder fragment (always 200, since
// htmx does not swap error answers) and browsers with the page.
func (s *Server) renderBuilder(c *fiber.Ctx, p *views.BuilderProps, status int) error {
	if isHTMX(c) {
		return render(c, fiber.StatusOK, views.Builder(p))
	}
	if !p.New && p.Panels == nil {
		p.Panels = s.flowPanels(c, p.Flow.ID)
	}
	return render(c, status, views.BuilderPage(p))
}

// explainSaveError turns a refused save into problems shown in the
// builder; false means the error is not the user's to fix.
func (s *Server) explainSaveError(p *views.BuilderProps, err error) bool {
	var ve *flows.ValidationError
	switch {
	case errors.As(err, &ve):
		p.Problems, p.Unplaced = placeErrors(p.Flow, ve.Details, p.Errors)
	case errors.Is(err, engine.ErrFlowExists):
		p.Errors["id"] = append(p.Errors["id"], "a flow with this id exists already; choose another")
		p.Problems = []views.Problem{{Field: "id", Message: "a flow with this id exists already", Anchor: "id-error"}}
	default:
		return false
	}
	return true
}

// builderJSON handles the JSON tab: back to the builder (decode) or save
// from the JSON as it is.
func (s *Server) builderJSON(c *fiber.Ctx, vals url.Values, kind string, isNew bool, wantID string) error {
	text := vals.Get("_json")
	f, err := flows.Decode([]byte(text))
	if err == nil && kind == "savejson" {
		if _, err = s.eng.SaveFlow(c.UserContext(), []byte(text), isNew, wantID); err == nil {
			s.keepSample(f.ID, &views.BuilderProps{TestPayload: vals.Get("_test_payload"), SampleNote: vals.Get("_sample_note"),
				Sample: &views.SampleProps{Meta: vals.Get("_sample_meta")}})
			return redirect(c, "/flows/"+f.ID+"/edit?flash=saved")
		}
	}
	if err == nil {
		if !isNew {
			f.ID = wantID
		}
		p := s.builderProps(c, f, isNew)
		s.fillSample(c, p, vals)
		return s.renderBuilder(c, p, fiber.StatusOK)
	}
	shown := f
	if shown == nil {
		shown = &flows.Flow{ID: wantID}
	}
	p := s.builderProps(c, shown, isNew)
	s.fillSample(c, p, vals)
	p.Tab, p.JSONText = "json", text
	var ve *flows.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, d := range ve.Details {
			p.Problems = append(p.Problems, views.Problem{Field: d.Field, Message: d.Message})
		}
	case errors.Is(err, engine.ErrFlowExists):
		p.Problems = []views.Problem{{Field: "id", Message: "a flow with this id exists already"}}
	default:
		return err
	}
	return s.renderBuilder(c, p, fiber.StatusUnprocessableEntity)
}

// formProblems lists the problems the form itself found, in field order,
// each linked to the field that shows it.
func formProblems(ferrs formErrors) []views.Problem {
	names := make([]string, 0, len(ferrs))
	for name := range ferrs {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []views.Problem
	for _, name := range names {
		for _, m := range ferrs[name] {
			out = append(out, views.Problem{Field: name, Message: m, Anchor: views.ID(name) + "-error"})
		}
	}
	return out
}

// builderTest runs the flow as the form holds it, dry, against the pasted
// payload (or the latest one).
func (s *Server) builderTest(c *fiber.Ctx, p *views.BuilderProps, ferrs formErrors) {
	p.Test = &views.TestResult{}
	if len(ferrs) > 0 {
		// The same linked summary as Save shows.
		p.Errors, p.Problems = ferrs, formProblems(ferrs)
		p.Test.Error = "Fix the problems marked in the form first."
		return
	}
	cf, err := flows.Compile(p.Flow)
	if err != nil {
		var ve *flows.ValidationError
		if errors.As(err, &ve) {
			p.Problems, p.Unplaced = placeErrors(p.Flow, ve.Details, p.Errors)
		}
		p.Test.Error = "The flow is not valid yet: fix the problems marked in the form first."
		return
	}
	ev := &engine.Event{Source: flows.TriggerManual, Method: "POST", Path: p.Flow.Trigger.Path, Headers: map[string]string{}, ReceivedAt: time.Now().UTC()}
	if p.Sample != nil {
		// The sample's request headers, query and method, when it is a
		// captured or stored event.
		meta := parseMeta(p.Sample.Meta)
		if meta.Method != "" {
			ev.Method = meta.Method
		}
		if meta.Headers != nil {
			ev.Headers = meta.Headers
		}
		ev.Query = meta.Query
	}
	if body := strings.TrimSpace(p.TestPayload); body != "" {
		if err := validJSON([]byte(body)); err != nil {
			p.Test.Error = "The payload is not valid JSON: " + err.Error()
			return
		}
		ev.ContentType, ev.Body = "application/json", []byte(body)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), testRunTimeout)
	defer cancel()
	run, err := s.eng.TestRun(ctx, cf, ev, true)
	p.Test.Run = run
	if err != nil {
		p.Test.Error = err.Error()
	}
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// barePathRE matches a data path without its {{ }}, such as
// trigger.body.email or steps.lookup.output["first name"].
var barePathRE = regexp.MustCompile(`^(trigger|steps|run|flow)(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\["[^"]*"\]|\['[^']*'\])+$`)

// slugID derives a flow id from a name: "New orders → Slack" becomes
// "new-orders-slack".
func slugID(name string) string {
	id := strings.Trim(slugRE.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(id) > 64 {
		id = strings.TrimRight(id[:64], "-")
	}
	return id
}

// stepListAt finds the step list a form prefix names: "steps" or
// "steps.1.switch.0.steps".
func stepListAt(f *flows.Flow, prefix string) *[]flows.Step {
	parts := strings.Split(prefix, ".")
	if len(parts) == 0 || parts[0] != "steps" {
		return nil
	}
	list := &f.Steps
	for i := 1; i < len(parts); {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 || n >= len(*list) || i+1 >= len(parts) {
			return nil
		}
		st := &(*list)[n]
		switch {
		case parts[i+1] == "steps" && st.IsLoop():
			// A loop's inner steps: steps.1.steps.
			list = &st.Steps
			i += 2
		case parts[i+1] == "switch" && i+3 < len(parts) && parts[i+3] == "steps":
			m, err := strconv.Atoi(parts[i+2])
			if err != nil || m < 0 || m >= len(st.Switch) {
				return nil
			}
			list = &st.Switch[m].Steps
			i += 4
		default:
			return nil
		}
	}
	return list
}

// stepAt finds a step by its form prefix ("steps.2"): its list and index.
func stepAt(f *flows.Flow, sp string) (*[]flows.Step, int) {
	cut := strings.LastIndex(sp, ".")
	if cut < 0 {
		return nil, 0
	}
	list := stepListAt(f, sp[:cut])
	i, err := strconv.Atoi(sp[cut+1:])
	if list == nil || err != nil || i < 0 || i >= len(*list) {
		return nil, 0
	}
	return list, i
}

// newStep makes a step for the palette: a connector step, or a switch with
// one case (an "otherwise" case is one click away). Its id is unique in
// the flow.
func newStep(f *flows.Flow, use string) flows.Step {
	base := use
	if i := strings.LastIndex(base, "."); i >= 0 {
		base = base[i+1:]
	}
	switch use {
	case "switch":
		base = "route"
	case stepKindLoop:
		base = "each"
	}
	base = strings.Trim(regexp.MustCompile(`[^A-Za-z0-9_]+`).ReplaceAllString(base, "_"), "_")
	if base == "" || (base[0] >= '0' && base[0] <= '9') {
		base = "step_" + base
	}
	taken := map[string]bool{}
	flows.Walk(f.Steps, func(_ string, s *flows.Step) { taken[s.ID] = true })
	id := base
	for n := 1; ; n++ {
		id = fmt.Sprintf("%s_%d", base, n)
		if !taken[id] {
			break
		}
	}
	switch use {
	case "switch":
		return flows.Step{ID: id, Switch: []flows.Case{{Steps: []flows.Step{}}}}
	case stepKindLoop:
		return flows.Step{ID: id, Steps: []flows.Step{}}
	}
	return flows.Step{ID: id, Use: use}
}

// sample is a flow's latest event and run, for trying expressions on.
type sample struct {
	env  flows.Env
	body any
	refs []views.Ref
	note string
}

// latestSample loads the event and step outputs of a flow's latest run.
func (s *Server) latestSample(ctx context.Context, flowID string) (sample, bool) {
	run, ev, ok := s.latestRun(ctx, flowID)
	if !ok {
		return sample{}, false
	}
	body := eventBody(ev)
	headers := shownHeaders(ev.Headers)
	return sample{
		env:  s.sampleEnv(flowID, run, flows.TriggerData{Body: body, Headers: headers, Query: ev.Query, Method: ev.Method, Path: ev.Path, ReceivedAt: ev.ReceivedAt}),
		body: body,
		refs: sampleRefs(body, sampleMeta{Headers: headers, Query: ev.Query}, run),
		note: "the event of run " + run.ID + " (" + ev.ReceivedAt.Local().Format("2006-01-02 15:04:05 MST") + ")",
	}, true
}

// latestRun loads a flow's latest run and its event.
func (s *Server) latestRun(ctx context.Context, flowID string) (*engine.Run, *engine.Event, bool) {
	if flowID == "" {
		return nil, nil, false
	}
	page, err := s.eng.ListRuns(ctx, engine.RunFilter{FlowID: flowID, Limit: 1})
	if err != nil || len(page.Runs) == 0 {
		return nil, nil, false
	}
	return s.runEvent(ctx, page.Runs[0].ID)
}

// runEvent loads a run and the event that started it.
func (s *Server) runEvent(ctx context.Context, runID string) (*engine.Run, *engine.Event, bool) {
	run, err := s.eng.Run(ctx, runID)
	if err != nil {
		return nil, nil, false
	}
	ev, err := s.eng.Event(ctx, run.EventID)
	if err != nil {
		return nil, nil, false
	}
	return run, ev, true
}

// eventBody is an event's body as steps read it (the raw text when it
// does not parse).
func eventBody(ev *engine.Event) any {
	body, err := engine.ParseBody(ev.ContentType, ev.Body)
	if err != nil {
		return string(ev.Body)
	}
	return body
}

// shownHeaders are request headers with credentials redacted.
func shownHeaders(in map[string]string) map[string]string {
	headers := make(map[string]string, len(in))
	for k, v := range in {
		if sensitiveHeaders[k] {
			v = engine.Redacted
		}
		headers[k] = v
	}
	return headers
}

// sampleEnv is the expression environment of a sample: its trigger data
// and the step outputs of run (nil: none).
func (s *Server) sampleEnv(flowID string, run *engine.Run, td flows.TriggerData) flows.Env {
	steps := map[string]flows.StepState{}
	runID := ""
	if run != nil {
		runID = run.ID
		for _, st := range run.Steps {
			if laterItem(st) {
				continue
			}
			steps[st.ID] = flows.StepState{Output: st.Output, Status: string(st.Status)}
		}
	}
	var fl *flows.Flow
	if a, err := s.eng.Flow(flowID); err == nil {
		fl = a.Flow()
	}
	return flows.NewEnv(flows.EnvInput{Flow: fl, RunID: runID, Attempt: 1, Steps: steps, Trigger: td})
}

// transportHeaders say how a request travelled, not what it is about; the
// Insert data panel leaves them out (expressions still read them).
var transportHeaders = map[string]bool{"host": true, "content-length": true, "accept-encoding": true,
	"connection": true, "transfer-encoding": true, "te": true, "upgrade": true}

// sampleRefs lists the paths of a sample's fields: the body, query
// parameters, headers (at most 15) and the step outputs of run (nil:
// none).
func sampleRefs(body any, meta sampleMeta, run *engine.Run) []views.Ref {
	refs := &refCollector{}
	refs.walk("trigger.body", body, 0)
	for _, k := range slices.Sorted(maps.Keys(meta.Query)) {
		p := "trigger.query." + k
		if !identRE.MatchString(k) {
			p = "trigger.query[" + strconv.Quote(k) + "]"
		}
		refs.add(p, meta.Query[k])
	}
	n := 0
	for _, k := range slices.Sorted(maps.Keys(meta.Headers)) {
		if transportHeaders[k] {
			continue
		}
		if n++; n > 15 {
			break
		}
		refs.add("trigger.headers["+strconv.Quote(k)+"]", meta.Headers[k])
	}
	if run != nil {
		for _, st := range run.Steps {
			if st.Output != nil && !laterItem(st) {
				refs.walk("steps."+st.ID+".output", st.Output, 1)
			}
		}
	}
	return refs.out
}

// refCollector lists the paths of a sample's fields, bounded in depth and
// number so a huge payload stays a usable list.
type refCollector struct{ out []views.Ref }

const (
	maxRefs     = 80
	maxRefDepth = 4
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r *refCollector) add(path string, v any) {
	if len(r.out) >= maxRefs {
		return
	}
	prev := clip(views.TextValue(v), 80)
	r.out = append(r.out, views.Ref{Path: path, Preview: prev})
}

func (r *refCollector) walk(path string, v any, depth int) {
	switch x := v.(type) {
	case map[string]any:
		if depth >= maxRefDepth {
			r.add(path, "{…}")
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := path + "." + k
			if !identRE.MatchString(k) {
				p = path + "[" + strconv.Quote(k) + "]"
			}
			r.walk(p, x[k], depth+1)
		}
	case []any:
		r.add(path, fmt.Sprintf("list of %d", len(x)))
		if len(x) > 0 && depth < maxRefDepth {
			r.walk(path+"[0]", x[0], depth+1)
		}
	default:
		r.add(path, x)
	}
}

// checkExpr is the live check of one expression field: its compile error
// with line:column, or what it yields against the flow's latest event.
// The field's name comes in `field` and its text, posted, under that name.
// It evaluates what it is sent, so it is a POST with the session's CSRF
// token (requireSession) and refuses cross-site requests outright.
func (s *Server) checkExpr(c *fiber.Ctx) error {
	if s.crossSite(c) {
		return errStatus(fiber.StatusForbidden, "The live check only answers this site's own pages.")
	}
	kind, field := c.Query("kind"), c.Query("field")
	src := c.FormValue(field)
	props := views.CheckProps{}
	switch {
	case field == "" || strings.TrimSpace(src) == "":
	case kind == flows.KindTemplate && barePathRE.MatchString(strings.TrimSpace(src)):
		// A path typed (or pasted) without braces is sent as that text;
		// it was almost surely meant as data.
		props.Fix = "{{ " + strings.TrimSpace(src) + " }}"
	case (kind == flows.KindTemplate || kind == flows.KindJSON) && !strings.Contains(src, "{{"):
	default:
		list := c.Query("list")
		check, eval := flows.CheckExpr, flows.EvalSample
		if list != "" {
			check, eval = flows.CheckExprInLoop, flows.EvalSampleInLoop
		}
		if err := check(src, kind); err != nil {
			props.Error = err.Error()
			break
		}
		if kind == flows.KindItems {
			// No poll response is stored to try it on: runs keep items.
			props.Note = "✓ valid (it reads each poll's response)"
			break
		}
		sm, ok := s.checkSample(c)
		if !ok {
			props.Note = "✓ valid (no event received yet to try it on)"
			break
		}
		env := sm.env
		if kind == flows.KindKey {
			// A poll run's trigger body is the item it was started for.
			env = make(flows.Env, len(sm.env)+1)
			for k, v := range sm.env {
				env[k] = v
			}
			env["item"] = sm.body
		}
		if list != "" {
			// Inside a loop: tried on the first element of its list.
			env = views.FirstItemEnv(env, list)
		}
		v, err := eval(src, kind, env)
		if err != nil {
			props.Error = "with the latest event: " + strings.TrimPrefix(err.Error(), kind+": ")
			break
		}
		props.HasValue, props.Value = true, clip(compactJSON(v), 300)
	}
	return render(c, fiber.StatusOK, views.Check(props))
}

// compactJSON writes v as one line of JSON, leaving < > & as they are
// (the view escapes them).
func compactJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
