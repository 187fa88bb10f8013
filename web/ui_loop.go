package web

import (
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// stepKindLoop is the palette's and the form's name for a loop step.
const stepKindLoop = "loop"

// loop reads a loop step's fields: the list picked (or, for "another
// list", the expression typed), the item limit, what each item gives the
// output (collect, edited like a step's JSON field), and the inner steps.
func (r *flowForm) loop(sp string, s *flows.Step) {
	s.ForEach = r.trim(sp + ".for_each")
	if s.ForEach == views.ListExpression || s.ForEach == "" {
		s.ForEach = r.trim(sp + ".for_each_expr")
	}
	s.MaxItems = int(r.integer(sp + ".max_items"))
	s.Concurrency = int(r.integer(sp + ".concurrency"))
	if v, ok := r.jsonValue(sp+".collect", views.CollectField); ok {
		s.Collect = v
	}
	s.Steps = r.steps(sp + ".steps")
}

// laterItem reports whether a step result is a loop item's other than the
// first: a sample shows (and checks expressions against) the first item's
// steps only.
func laterItem(st engine.StepResult) bool {
	return st.InLoop() && *st.Iteration != 0
}

// setRefs gives the builder a sample's fields to insert, and after them
// the data the flow's own steps make: each loop's item fields (from the
// first element of its list in the sample), index and output, and each
// switch's branch and result.
func setRefs(p *views.BuilderProps, sm sample) {
	p.Refs, p.SampleEnv = append(sm.refs, flowRefs(p.Flow, sm.env)...), sm.env
}

// flowRefs lists the data a flow's loops and switches add, tried on env.
func flowRefs(f *flows.Flow, env flows.Env) []views.Ref {
	if f == nil {
		return nil
	}
	refs := &refCollector{}
	flows.Walk(f.Steps, func(_ string, s *flows.Step) {
		switch {
		case s.IsLoop():
			if first, ok := views.FirstItem(env, s.ForEach); s.ForEach != "" && ok {
				refs.walk(flows.VarItem, first, 1)
				refs.add(flows.VarIndex, 0)
			}
			if s.Collect != nil {
				refs.add("steps."+s.ID+".output", "each item's “Output per item”, as a list")
			} else {
				refs.add("steps."+s.ID+".output", "each item's last output, as a list")
			}
		case s.IsSwitch():
			refs.add("steps."+s.ID+".output.branch", "which branch ran: 0 is Branch 1, -1 none")
			refs.add("steps."+s.ID+".output.result", "the last output of the branch that ran")
		}
	})
	return refs.out
}
