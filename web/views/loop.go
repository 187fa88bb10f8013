package views

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// loopPageWords says which items a page of a loop shows: "items 51–100
// of 120".
func loopPageWords(lp *engine.LoopPage) string {
	switch lp.ItemCount {
	case 0:
		return "no items"
	case 1:
		return "1 item"
	}
	first := (lp.Page-1)*lp.PerPage + 1
	last := min(lp.Page*lp.PerPage, lp.ItemCount)
	if lp.Pages == 1 {
		return strconv.Itoa(lp.ItemCount) + " items"
	}
	return "items " + strconv.Itoa(first) + "–" + strconv.Itoa(last) + " of " + strconv.Itoa(lp.ItemCount)
}

// loopPageURL is the run page showing page n of a loop's items.
func loopPageURL(runID, loop string, n int) string {
	q := url.Values{"loop": {loop}, "page": {strconv.Itoa(n)}}
	return "/runs/" + url.PathEscape(runID) + "?" + q.Encode() + "#step-" + ID(loop) + "-items"
}

// ListExpression is the list picker's choice for a list written as an
// expression.
const ListExpression = "__expression"

// loopBodyRE finds a loop's inner steps in a form name: steps.1.steps.0
// (a switch's are steps.1.switch.0.steps.0).
var loopBodyRE = regexp.MustCompile(`(^|\.)steps\.(\d+)\.steps(\.|$)`)

// loopScopeRE finds what sees a loop's item in a form name: its inner
// steps, as loopBodyRE, and its collect template (steps.1.collect).
var loopScopeRE = regexp.MustCompile(`(^|\.)steps\.(\d+)\.(steps|collect)(\.|$)`)

// InLoopBody reports whether a form name lies inside a loop's steps.
func InLoopBody(name string) bool { return loopBodyRE.MatchString(name) }

// loopListOf returns the for_each of the loop whose inner steps or
// collect template hold the field name, if any.
func loopListOf(f *flows.Flow, name string) (string, bool) {
	if f == nil {
		return "", false
	}
	loc := loopScopeRE.FindStringSubmatchIndex(name)
	if loc == nil {
		return "", false
	}
	// The loop is the step named by everything before ".steps".
	stepName := name[:loc[5]]
	stepName = strings.TrimPrefix(stepName, ".")
	s := stepByFormName(f, stepName)
	if s == nil || !s.IsLoop() || s.ForEach == "" {
		return "", false
	}
	return s.ForEach, true
}

// stepByFormName finds the step a form name such as steps.1 or
// steps.1.switch.0.steps.2 names.
func stepByFormName(f *flows.Flow, name string) *flows.Step {
	parts := strings.Split(name, ".")
	list := f.Steps
	var s *flows.Step
	for i := 0; i < len(parts); {
		switch {
		case parts[i] == "steps" && i+1 < len(parts):
			n, err := strconv.Atoi(parts[i+1])
			if err != nil || n < 0 || n >= len(list) {
				return nil
			}
			s = &list[n]
			list = s.Steps
			i += 2
		case parts[i] == "switch" && s != nil && i+1 < len(parts):
			m, err := strconv.Atoi(parts[i+1])
			if err != nil || m < 0 || m >= len(s.Switch) {
				return nil
			}
			list = s.Switch[m].Steps
			i += 2
		default:
			return nil
		}
	}
	return s
}

// ListOption is a list of the sample a loop can repeat over.
type ListOption struct{ Path, Label string }

// ListOptions are the lists of the sample (Insert data's fields that
// hold lists, not those inside another list's first element), and the
// loop's current list when it is a plain path the sample lacks.
func ListOptions(refs []Ref, current string) []ListOption {
	var out []ListOption
	seen := map[string]bool{}
	for _, r := range refs {
		n, ok := strings.CutPrefix(r.Preview, "list of ")
		if !ok || strings.Contains(r.Path, "[") || seen[r.Path] {
			continue
		}
		seen[r.Path] = true
		label := r.Path + " (" + n + " items)"
		if n == "1" {
			label = r.Path + " (1 item)"
		}
		out = append(out, ListOption{Path: r.Path, Label: label})
	}
	return out
}

// listChoice is what the list picker shows as chosen: the loop's list
// when the picker offers it, else ListExpression for a list written as
// an expression, else nothing.
func listChoice(opts []ListOption, current string) string {
	current = strings.TrimSpace(current)
	if current == "" {
		return ""
	}
	for _, o := range opts {
		if o.Path == current {
			return current
		}
	}
	return ListExpression
}

// CollectField is how the builder edits a loop's collect template: like
// a JSON field of a step, as named values (rows) by default, so that what
// each item gives the loop's output is picked from Insert data.
var CollectField = connectors.Field{Name: "collect", Label: "Output per item", Type: connectors.TypeJSON, Shape: connectors.ShapeObject,
	Help: "What each item adds to the loop's output. Empty: the output of the last step above, for each item. Or name values, e.g. sku from the item's fields and erp_id from a step's answer."}

// exprValue is what the list expression field holds: the loop's list
// when the picker does not offer it.
func exprValue(choice, current string) string {
	if choice == ListExpression {
		return current
	}
	return ""
}

// FirstItemEnv is env as a loop's inner steps see it for the first
// element of the list the for_each expression gives (item is null when
// the sample has none).
func FirstItemEnv(env flows.Env, list string) flows.Env {
	first, _ := FirstItem(env, list)
	return env.With(flows.VarItem, first).With(flows.VarIndex, 0)
}

// FirstItem is the first element of the list a for_each expression gives
// against env; false when it gives no list or an empty one.
func FirstItem(env flows.Env, list string) (any, bool) {
	v, err := flows.EvalSample(list, flows.KindExpr, env)
	if err != nil {
		return nil, false
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		return l[0], true
	}
	return nil, false
}

// outsideLoops drops the fields only a loop's inner steps can read (item,
// index) from a list of sample fields.
func outsideLoops(refs []Ref) []Ref {
	var out []Ref
	for _, r := range refs {
		if r.Path == flows.VarIndex || r.Path == flows.VarItem || strings.HasPrefix(r.Path, flows.VarItem+".") || strings.HasPrefix(r.Path, flows.VarItem+"[") {
			continue
		}
		out = append(out, r)
	}
	return out
}

// firstLoopPage is the first page of a loop's items in a run (nil for a
// step that is no loop).
func firstLoopPage(run *engine.Run, s engine.StepResult) *engine.LoopPage {
	if !s.IsLoop() {
		return nil
	}
	lp, err := run.LoopPage(s.ID, 1)
	if err != nil {
		return nil
	}
	return lp
}
