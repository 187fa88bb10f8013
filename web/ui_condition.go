package web

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// The condition builder's server side: reading its rows from the posted
// form (views/condition.go names the fields), writing the expression a
// step stores, the row buttons, and the fragment endpoint that answers
// every change with the condition and its live results per row.

// condition reads the condition named name: the rows built into an
// expression, or the expression editor's text. A row that cannot be
// built is an error on the part at fault (field, operator or value).
func (r *flowForm) condition(name string) string {
	st := readCond(r.v, name)
	if st == nil || st.Mode != views.CondModeBuilder {
		return r.trim(name)
	}
	g := dropBlankRows(st.Group)
	if len(g.Rows) == 0 {
		return ""
	}
	src, err := flows.BuildCondition(g)
	if err != nil {
		field, msg := condErrorField(name, err)
		r.errs.add(field, msg)
		return ""
	}
	return src
}

// readCond reads the condition named name as posted; nil when the form
// has no condition builder there.
func readCond(v url.Values, name string) *views.CondState {
	mode := v.Get(name + ".mode")
	if mode == "" {
		return nil
	}
	st := &views.CondState{Mode: mode}
	if mode == views.CondModeExpr {
		st.Expr = strings.TrimSpace(v.Get(name))
		return st
	}
	st.Mode = views.CondModeBuilder
	st.Group = readCondGroup(&flowForm{v: v}, name, 0)
	return st
}

// readCondGroup reads the rows under prefix (a condition, or a group one
// level down).
func readCondGroup(r *flowForm, prefix string, depth int) flows.CondGroup {
	g := flows.CondGroup{Any: r.str(prefix+".join") == "any", Rows: []flows.CondRow{}}
	for _, i := range r.indices(prefix+".r", "kind") {
		rp := prefix + ".r." + strconv.Itoa(i)
		if r.str(rp+".kind") == "group" && depth == 0 {
			sub := readCondGroup(r, rp, depth+1)
			g.Rows = append(g.Rows, flows.CondRow{Group: &sub})
			continue
		}
		g.Rows = append(g.Rows, flows.CondRow{Field: r.trim(rp + ".field"), Op: r.trim(rp + ".op"), Value: r.str(rp + ".value")})
	}
	return g
}

// dropBlankRows leaves out rows nothing was chosen in, and groups left
// empty, so an added row left alone does not block saving.
func dropBlankRows(g flows.CondGroup) flows.CondGroup {
	out := flows.CondGroup{Any: g.Any}
	for _, r := range g.Rows {
		if r.Group != nil {
			sub := dropBlankRows(*r.Group)
			if len(sub.Rows) > 0 {
				out.Rows = append(out.Rows, flows.CondRow{Group: &sub})
			}
			continue
		}
		if r.Field != "" || r.Op != "" || strings.TrimSpace(r.Value) != "" {
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// condErrorField is the form field a BuildCondition error belongs to, and
// its message.
func condErrorField(name string, err error) (string, string) {
	var re *flows.CondRowError
	if !errors.As(err, &re) {
		return name, err.Error()
	}
	field := name
	if re.Path != "" {
		for _, n := range strings.Split(re.Path, ".") {
			i, _ := strconv.Atoi(n)
			field += ".r." + strconv.Itoa(i-1)
		}
	}
	switch re.Part {
	case "field", "op", "value":
		field += "." + re.Part
	}
	return field, re.Err.Error()
}

// condStates reads every condition the form posted, by name, so that rows
// being edited survive a re-render.
func condStates(v url.Values) map[string]*views.CondState {
	out := map[string]*views.CondState{}
	for k := range v {
		if name, ok := strings.CutSuffix(k, ".mode"); ok && (strings.HasSuffix(name, ".if") || strings.HasSuffix(name, ".when")) {
			if st := readCond(v, name); st != nil {
				out[name] = st
			}
		}
	}
	return out
}

// applyCondOp carries out a condition builder button, op being
// "<what>:<where>": add (a row to the condition or group where names),
// group (a group to the condition), del (the row or group), expr (switch to
// the expression editor), build (switch back to rows).
func applyCondOp(conds map[string]*views.CondState, op string) {
	what, where, _ := strings.Cut(op, ":")
	name, st := condOwner(conds, where)
	if st == nil {
		return
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(where, name), ".r.")
	switch what {
	case "add":
		g := &st.Group
		if rest != "" {
			i, err := strconv.Atoi(rest)
			if err != nil || i < 0 || i >= len(g.Rows) || g.Rows[i].Group == nil {
				return
			}
			g = g.Rows[i].Group
		}
		g.Rows = append(g.Rows, flows.CondRow{})
	case "group":
		st.Group.Rows = append(st.Group.Rows, flows.CondRow{Group: &flows.CondGroup{Any: !st.Group.Any, Rows: []flows.CondRow{{}, {}}}})
	case "del":
		parts := strings.Split(rest, ".r.")
		g := &st.Group
		for len(parts) > 1 {
			i, err := strconv.Atoi(parts[0])
			if err != nil || i < 0 || i >= len(g.Rows) || g.Rows[i].Group == nil {
				return
			}
			g, parts = g.Rows[i].Group, parts[1:]
		}
		i, err := strconv.Atoi(parts[0])
		if err != nil || i < 0 || i >= len(g.Rows) {
			return
		}
		g.Rows = append(g.Rows[:i], g.Rows[i+1:]...)
	case "expr":
		g := dropBlankRows(st.Group)
		src := ""
		if len(g.Rows) > 0 {
			var err error
			if src, err = flows.BuildCondition(g); err != nil {
				st.Note = "Finish or remove the unfinished rows first: " + err.Error() + "."
				return
			}
		}
		*st = views.CondState{Mode: views.CondModeExpr, Expr: src}
	case "build":
		if strings.TrimSpace(st.Expr) == "" {
			*st = views.CondState{Mode: views.CondModeBuilder, Group: flows.CondGroup{Rows: []flows.CondRow{{}}}}
			return
		}
		g, ok := flows.ParseCondition(st.Expr)
		if !ok {
			st.Note = "This condition uses more than the builder can show, so it stays an expression."
			return
		}
		*st = views.CondState{Mode: views.CondModeBuilder, Group: g, Expr: st.Expr}
	}
}

// condOwner finds the condition a button's place belongs to: the
// condition itself, or one of its rows or groups.
func condOwner(conds map[string]*views.CondState, where string) (string, *views.CondState) {
	if st, ok := conds[where]; ok {
		return where, st
	}
	if i := strings.Index(where, ".r."); i > 0 {
		name := where[:i]
		return name, conds[name]
	}
	return "", nil
}

// keepCondStates reports whether the conditions as posted still sit under
// the same names after a builder operation. Operations that move or
// remove steps or branches (and any this list does not know) shift the
// names: the conditions are then read again from the flow, which holds
// every finished row.
func keepCondStates(kind string) bool {
	switch kind {
	case "", "refresh", "save", "test", "tab", "cond", "add", "caseadd", "casedefault", "kvdel":
		return true
	}
	return false
}

// conditionFragment answers the condition builder's buttons and inputs:
// the whole builder form is posted, the condition named in ?name= is read
// from it, the button's _op applied, and the condition rendered again with
// its rows tried on the flow's latest event.
func (s *Server) conditionFragment(c *fiber.Ctx) error {
	vals, err := s.fragmentForm(c)
	if err != nil {
		return err
	}
	name := c.Query("name")
	st := readCond(vals, name)
	if st == nil {
		return errStatus(fiber.StatusBadRequest, "no condition named %q in the form", name)
	}
	p := s.fragmentProps(c, vals)
	p.Conds = map[string]*views.CondState{name: st}
	if kind, arg, _ := strings.Cut(vals.Get("_op"), ":"); kind == "cond" {
		applyCondOp(p.Conds, arg)
	}
	if st.Mode == views.CondModeBuilder {
		// Show what is wrong with a finished row where it is wrong.
		if g := dropBlankRows(st.Group); len(g.Rows) > 0 {
			if _, err := flows.BuildCondition(g); err != nil {
				field, msg := condErrorField(name, err)
				if !strings.HasSuffix(field, ".field") && !strings.HasSuffix(field, ".op") {
					p.Errors[field] = append(p.Errors[field], msg)
				}
			}
		}
	}
	return render(c, fiber.StatusOK, views.CondBuilder(p, p.Cond(name, "")))
}

// fragmentForm reads the builder form a fragment endpoint is posted. Its
// answers are computed from the flow's latest event, so, like the live
// check, they go to this site's own pages only.
func (s *Server) fragmentForm(c *fiber.Ctx) (url.Values, error) {
	if s.crossSite(c) {
		return nil, errStatus(fiber.StatusForbidden, "The builder's live parts only answer this site's own pages.")
	}
	vals, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return nil, errStatus(fiber.StatusBadRequest, "malformed form: %v", err)
	}
	return vals, nil
}

// fragmentProps are the builder props a fragment of the builder needs:
// the sample (fields to pick, rows to try) as the posted form holds it, and
// the endpoints.
func (s *Server) fragmentProps(c *fiber.Ctx, vals url.Values) *views.BuilderProps {
	flowID := c.Query("flow")
	p := &views.BuilderProps{Page: s.pageProps(c, "", "flows"), Errors: map[string][]string{}, Flow: &flows.Flow{ID: flowID}, New: flowID == ""}
	setFragmentURLs(p, flowID)
	p.CheckURL = "/flows/check"
	if flowID != "" {
		p.CheckURL += "?flow=" + url.QueryEscape(flowID)
	}
	s.fillSample(c, p, vals)
	return p
}

// flowIDOf is the id of a stored flow the builder edits, "" for a new one.
func flowIDOf(p *views.BuilderProps) string {
	if p.New {
		return ""
	}
	return p.Flow.ID
}

// setFragmentURLs points the builder's live parts at their endpoints.
func setFragmentURLs(p *views.BuilderProps, flowID string) {
	q := ""
	if flowID != "" {
		q = "?flow=" + url.QueryEscape(flowID)
	}
	p.CondURL = "/flows/condition" + q
	p.SchedURL = "/flows/schedule" + q
}
