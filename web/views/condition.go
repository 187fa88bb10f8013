package views

import (
	"errors"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"github.com/switchyard/switchyard/flows"
)

// The condition builder: a step's "Run only if" and each branch condition
// as rows of field ▸ operator ▸ value. Its form names hang off the
// condition's own name N (steps.0.if, steps.1.switch.0.when):
//
//	N.mode           builder or expr
//	N                the expression (expr mode only)
//	N.join           all or any
//	N.r.I.kind       row or group
//	N.r.I.field      a row's field path, N.r.I.op its operator, N.r.I.value its value
//	N.r.I.join       a group's all/any; its rows are N.r.I.r.J.*
//
// Buttons post _op=cond:<what>:<where> (add, group, del, expr, build).

// Condition builder modes.
const (
	CondModeBuilder = "builder"
	CondModeExpr    = "expr"
)

// CondState is a condition as the form holds it while it is edited: rows
// may be unfinished, so it cannot always be an expression yet.
type CondState struct {
	Mode  string
	Group flows.CondGroup
	// Expr is the text of the expression editor.
	Expr string
	// Note is shown above the condition (why it stays an expression).
	Note string
}

// CondField is one condition of the builder, ready to render.
type CondField struct {
	Name, Label, Help string
	// Optional: no rows means no condition (a step's "Run only if").
	Optional bool
	State    *CondState
	// Results are the rows' results against the latest event, by row;
	// GroupResults those of the rows of the group at that row.
	Results      []flows.CondRowResult
	GroupResults map[int][]flows.CondRowResult
	// Fields are the paths the field pickers offer.
	Fields []Ref
	// URL is where the builder's buttons and inputs post (the fragment
	// endpoint); empty without it.
	URL string
}

// condMeta names a condition by its form name.
func condMeta(name string) (label, help string, optional bool) {
	if strings.HasSuffix(name, ".when") {
		return "Condition", "This branch runs when the condition holds; the first branch that matches wins.", false
	}
	return "Run only if", "Leave it empty and the step always runs.", true
}

// Cond gathers what the condition named name renders: its state as posted
// (p.Conds) or read from the expression value, and its rows' results
// against the latest event.
func (p *BuilderProps) Cond(name, value string) CondField {
	label, help, optional := condMeta(name)
	f := CondField{Name: name, Label: label, Help: help, Optional: optional, Fields: p.Refs, URL: p.CondURL}
	st := p.Conds[name]
	if st == nil {
		st = CondStateOf(value, optional)
	}
	f.State = st
	env := p.SampleEnv
	if list, ok := loopListOf(p.Flow, name); ok && env != nil {
		// Inside a loop the rows are tried on its list's first item.
		env = FirstItemEnv(env, list)
	} else {
		f.Fields = outsideLoops(p.Refs)
	}
	if st.Mode == CondModeBuilder && env != nil {
		f.Results = flows.ExplainRows(st.Group, env)
		for i, r := range st.Group.Rows {
			if r.Group != nil {
				if f.GroupResults == nil {
					f.GroupResults = map[int][]flows.CondRowResult{}
				}
				f.GroupResults[i] = flows.ExplainRows(*r.Group, env)
			}
		}
	}
	return f
}

// withLabel returns f under another label.
func (f CondField) withLabel(label string) CondField {
	f.Label = label
	return f
}

// CondStateOf reads a stored condition: a simple one opens in rows, an
// empty one as no rows (or one empty row where a condition is required),
// anything else in the expression editor.
func CondStateOf(value string, optional bool) *CondState {
	if strings.TrimSpace(value) == "" {
		st := &CondState{Mode: CondModeBuilder}
		if !optional {
			st.Group.Rows = []flows.CondRow{{}}
		}
		return st
	}
	if g, ok := flows.ParseCondition(value); ok {
		return &CondState{Mode: CondModeBuilder, Group: g, Expr: value}
	}
	return &CondState{Mode: CondModeExpr, Expr: value}
}

// condRowView is one row (or group) with its form name.
type condRowView struct {
	Name string
	Row  flows.CondRow
	// Result of the row against the sample, when known.
	Result *flows.CondRowResult
	// Path is the row's place as errors name it ("2" or "2.1"); Index
	// its index in its group.
	Path  string
	Index int
}

// condRows lists g's rows with their form names under prefix and their
// results.
func condRows(prefix, path string, g flows.CondGroup, results []flows.CondRowResult) []condRowView {
	out := make([]condRowView, len(g.Rows))
	for i, r := range g.Rows {
		out[i] = condRowView{Name: prefix + ".r." + itoa(i), Row: r, Path: path + itoa(i+1), Index: i}
		if i < len(results) {
			out[i].Result = &results[i]
		}
	}
	return out
}

// condOpValue is the kind of value op takes ("" for none; see
// flows.CondOp).
func condOpValue(op string) string {
	for _, o := range flows.CondOps {
		if o.Op == op {
			return o.Value
		}
	}
	return "text"
}

// condValuePlaceholder hints at the value op takes.
func condValuePlaceholder(op string) string {
	switch condOpValue(op) {
	case "number":
		return "a number, e.g. 70"
	case "date":
		return "e.g. 2026-01-31, or now"
	case "pattern":
		return "e.g. ^[A-Z]{2}-\\d+$"
	case "list":
		return "values separated by commas"
	}
	return "value"
}

// condFieldKnown reports whether path is one of the picker's fields.
func condFieldKnown(fields []Ref, path string) bool {
	for _, r := range fields {
		if r.Path == path {
			return true
		}
	}
	return false
}

// condResultText is the live result of one row in words.
func condResultText(r *flows.CondRowResult) (text string, ok, shown bool) {
	if r == nil {
		return "", false, false
	}
	if r.Err != nil {
		if errors.Is(r.Err, flows.ErrCondField) || errors.Is(r.Err, flows.ErrCondOp) || errors.Is(r.Err, flows.ErrCondNoRows) {
			return "", false, false
		}
		var re *flows.CondRowError
		if errors.As(r.Err, &re) {
			return re.Err.Error(), false, true
		}
		return r.Err.Error(), false, true
	}
	if r.Result {
		return "true for the sample", true, true
	}
	if r.Note != "" {
		return "false: " + r.Note, false, true
	}
	return "false for the sample", false, true
}

// condJoinAny is the form value of a join.
func condJoinAny(any bool) string {
	if any {
		return "any"
	}
	return "all"
}

// condEndpoint is the fragment URL of the condition f.
func condEndpoint(f CondField) string {
	sep := "?"
	if strings.Contains(f.URL, "?") {
		sep = "&"
	}
	return f.URL + sep + "name=" + url.QueryEscape(f.Name)
}

// condPost makes a button post to the fragment endpoint and swap the
// condition (htmx sends the whole builder form and the button's _op).
func condPost(f CondField) templ.Attributes {
	if f.URL == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{
		"hx-post":   condEndpoint(f),
		"hx-target": "#" + ID(f.Name) + "-cond",
		"hx-select": "#" + ID(f.Name) + "-cond",
		"hx-swap":   "outerHTML",
		// The latest change wins: an answer to an older one is dropped.
		"hx-sync": "closest .cond:replace",
	}
}

// condLive makes an input refresh the condition (and its live results)
// when it changes.
func condLive(f CondField) templ.Attributes {
	a := condPost(f)
	if len(a) > 0 {
		a["hx-trigger"] = "change"
	}
	return a
}

// condButtonLabel is what a screen reader says for a button whose text is
// a symbol.
func condButtonLabel(what, label string) string {
	if what == "del" && label == "✕" {
		return "Remove row"
	}
	return label
}

// condFieldGroup is the picker's fields of one source.
type condFieldGroup struct {
	Label string
	Refs  []Ref
}

// condFieldGroups sorts the picker's fields by where they come from: the
// event's data, its headers, earlier steps.
func condFieldGroups(refs []Ref) []condFieldGroup {
	groups := []condFieldGroup{{Label: "Event data"}, {Label: "Event headers"}, {Label: "Earlier steps"}, {Label: "Other"}}
	for _, r := range refs {
		i := 3
		switch {
		case strings.HasPrefix(r.Path, "trigger.body"):
			i = 0
		case strings.HasPrefix(r.Path, "trigger.headers"):
			i = 1
		case strings.HasPrefix(r.Path, "steps."):
			i = 2
		}
		groups[i].Refs = append(groups[i].Refs, r)
	}
	out := groups[:0]
	for _, g := range groups {
		if len(g.Refs) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// condFieldLabel names a field as a person reads it, with its value in
// the latest event: "score (85)", "lookup › status (200)".
func condFieldLabel(r Ref) string {
	name := r.Path
	switch {
	case strings.HasPrefix(name, "trigger.body."):
		name = strings.TrimPrefix(name, "trigger.body.")
	case strings.HasPrefix(name, "trigger.body["):
		name = strings.Trim(strings.TrimPrefix(name, "trigger.body"), `[]"`)
	case strings.HasPrefix(name, "trigger.headers["):
		name = strings.Trim(strings.TrimPrefix(name, "trigger.headers"), `[]"`)
	case strings.HasPrefix(name, "steps."):
		rest := strings.TrimPrefix(name, "steps.")
		if step, field, ok := strings.Cut(rest, ".output"); ok {
			name = step + " › " + strings.TrimPrefix(field, ".")
		}
	}
	if r.Preview == "" {
		return name
	}
	prev := r.Preview
	if len(prev) > 30 {
		cut := 30
		for cut > 0 && prev[cut]&0xC0 == 0x80 {
			cut--
		}
		prev = prev[:cut] + "…"
	}
	return name + " (" + prev + ")"
}
