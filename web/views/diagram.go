package views

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/diagram"
)

// The flow diagram on top of the builder and of a run page: the tree of
// boxes comes from the flow (and the run), web/diagram lays it out.

// BuilderDiagram is the picture of the flow the builder holds; each box
// links to its form.
func BuilderDiagram(f *flows.Flow, specs map[string]connectors.Spec) templ.Component {
	d := diagramOf(f, specs, nil, "")
	return templ.Raw(d.SVG("flow-diagram"))
}

// RunDiagram is the picture of the flow a run ran, every box with how far
// the run got; boxes link to their step's result on the page.
func RunDiagram(f *flows.Flow, run *engine.Run) templ.Component {
	d := diagramOf(f, allSpecs(), run, "step-")
	return templ.Raw(d.SVG("run-diagram"))
}

// TestDiagram is the picture of a builder test run (dry, not stored):
// boxes link to the step results under it, or to the step's form.
func TestDiagram(f *flows.Flow, run *engine.Run) templ.Component {
	d := diagramOf(f, allSpecs(), run, "test-step-")
	return templ.Raw(d.SVG("test-diagram"))
}

func allSpecs() map[string]connectors.Spec {
	specs := map[string]connectors.Spec{}
	for _, sp := range connectors.Specs() {
		specs[sp.ID] = sp
	}
	return specs
}

// diagramOf builds and lays out the picture; run is nil on the builder.
// resultPrefix is the id prefix of the run's step results on the page.
func diagramOf(f *flows.Flow, specs map[string]connectors.Spec, run *engine.Run, resultPrefix string) *diagram.Picture {
	b := diagramBuilder{specs: specs, run: run, resultPrefix: resultPrefix}
	if run != nil {
		b.results = make(map[string]engine.StepResult, len(run.Steps))
		for _, s := range run.Steps {
			if s.InLoop() {
				// A loop's inner step has one result per item: its box
				// shows the worst of them.
				if prev, ok := b.results[s.ID]; ok && statusRank(prev.Status) >= statusRank(s.Status) {
					continue
				}
			}
			b.results[s.ID] = s
		}
	}
	trigger := b.trigger(&f.Trigger)
	steps := b.steps("steps", f.Steps)
	title := "Diagram of the flow"
	if f.Name != "" {
		title += " " + f.Name
	}
	if run != nil {
		title = "Diagram of run " + run.ID + ": what ran, what was skipped, which branch was taken"
	}
	return diagram.Layout(title, trigger, steps, run != nil)
}

type diagramBuilder struct {
	specs        map[string]connectors.Spec
	run          *engine.Run
	results      map[string]engine.StepResult
	resultPrefix string
}

func (b *diagramBuilder) trigger(t *flows.Trigger) diagram.Node {
	n := diagram.Node{Href: "#trigger"}
	switch t.Type {
	case flows.TriggerWebhook:
		n.Title, n.Detail = "When a webhook arrives", "/hooks/"+t.Path
	case flows.TriggerSchedule:
		n.Title, n.Detail = "On a schedule", ScheduleWords(t.Cron, t.Timezone)
	case flows.TriggerPoll:
		n.Title = "When polling finds new items"
		if t.Request != nil {
			if u, err := url.Parse(t.Request.URL); err == nil && u.Host != "" {
				n.Detail = "from " + u.Host
			}
		}
	case flows.TriggerCall:
		n.Title, n.Detail = "When another flow calls it", "a Call another flow step"
	default:
		n.Title, n.Detail = "Started by hand", "Run now, or the API"
	}
	if b.run != nil {
		n.Status = diagram.Succeeded
		if b.resultPrefix == "step-" {
			n.Href = "#run-trigger"
		}
	}
	return n
}

// steps turns a step list into nodes; prefix is the list's form name
// (steps, steps.1.switch.0.steps), which also names the builder's step
// card.
func (b *diagramBuilder) steps(prefix string, steps []flows.Step) []diagram.Node {
	out := make([]diagram.Node, 0, len(steps))
	for i := range steps {
		s := &steps[i]
		sp := prefix + "." + strconv.Itoa(i)
		n := diagram.Node{Href: "#" + ID(sp)}
		n.Title, n.Detail = b.describe(s)
		if s.If != "" {
			n.Detail = strings.TrimPrefix(n.Detail+" · only if…", " · ")
		}
		var res *engine.StepResult
		if b.run != nil {
			n.Status = diagram.NotReached
			if b.resultPrefix == "step-" {
				// A run page: the step's form is in the builder.
				n.Href = "/flows/" + url.PathEscape(b.run.FlowID) + "/edit#" + ID(sp)
			}
			if r, ok := b.results[s.ID]; ok {
				res = &r
				n.Status = stepStatus(r.Status)
				n.Href = "#" + b.resultPrefix + ID(s.ID)
				if r.InLoop() {
					n.Href = "#" + b.resultPrefix + ID(r.Loop) + "-items"
				}
			}
		}
		if s.IsSwitch() {
			n.Branches = b.branches(sp, s, res)
		}
		if s.IsLoop() {
			// A loop is drawn as one branch holding its inner steps, the
			// edge saying what it repeats over.
			br := diagram.Branch{Label: "↻ each item", Hint: "for each item of " + s.ForEach,
				Steps: b.steps(sp+".steps", s.Steps)}
			if res != nil && res.ItemCount != nil {
				br.Label = "↻ " + strconv.Itoa(*res.ItemCount) + " items"
				br.Taken, br.NotTaken = *res.ItemCount > 0, *res.ItemCount == 0
			}
			n.Branches = []diagram.Branch{br}
		}
		out = append(out, n)
	}
	return out
}

// describe is a step's two lines: its label and what it does.
func (b *diagramBuilder) describe(s *flows.Step) (string, string) {
	if s.IsLoop() {
		detail := "over " + ListWords(s.ForEach)
		if s.Name != "" {
			return s.Name, LoopLabel + " · " + detail
		}
		return LoopLabel, detail
	}
	if s.IsSwitch() || s.Use == "" {
		detail := strconv.Itoa(len(s.Switch)) + " branches"
		if len(s.Switch) == 1 {
			detail = "1 branch"
		}
		if s.Name != "" {
			return s.Name, "Choose a branch · " + detail
		}
		return "Choose a branch", detail
	}
	kind := s.Use
	if sp, ok := b.specs[s.Use]; ok {
		kind = sp.Label
	}
	if s.Name != "" {
		return s.Name, kind
	}
	return kind, ""
}

// branches are a switch's cases as the UI names them (CaseLabel), plus the
// way on when no case matches and there is no "otherwise".
func (b *diagramBuilder) branches(sp string, s *flows.Step, res *engine.StepResult) []diagram.Branch {
	taken := -2 // not run
	if res != nil && res.Branch != nil {
		taken = *res.Branch
	}
	var out []diagram.Branch
	for j, c := range s.Switch {
		br := diagram.Branch{Label: caseLabel(c, j), Hint: c.When,
			Steps: b.steps(sp+".switch."+strconv.Itoa(j)+".steps", c.Steps)}
		if taken != -2 {
			br.Taken, br.NotTaken = taken == j, taken != j
		}
		out = append(out, br)
	}
	if !hasDefault(*s) {
		br := diagram.Branch{Label: "No match", Hint: "no branch's condition holds: go on after the switch"}
		if taken != -2 {
			br.Taken, br.NotTaken = taken < 0, taken >= 0
		}
		out = append(out, br)
	}
	return out
}

// statusRank orders step statuses from best to worst, for the box of a
// loop's inner step.
func statusRank(s engine.StepStatus) int {
	switch s {
	case engine.StepSkipped:
		return 0
	case engine.StepSucceeded:
		return 1
	case engine.StepFailed:
		return 3
	default:
		return 2
	}
}

func stepStatus(s engine.StepStatus) diagram.Status {
	switch s {
	case engine.StepSucceeded:
		return diagram.Succeeded
	case engine.StepFailed:
		return diagram.Failed
	case engine.StepSkipped:
		return diagram.Skipped
	default:
		return diagram.Running
	}
}

// ListWords names a for_each list for people: trigger.body.line_items
// reads "line_items", anything not a plain path stays as written.
func ListWords(expr string) string {
	e := strings.TrimSpace(expr)
	for _, c := range e {
		if !(c == '.' || c == '_' || c == '?' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return e
		}
	}
	if i := strings.LastIndex(e, "."); i >= 0 {
		return e[i+1:]
	}
	return e
}
