package web

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/flows"
)

// shape writes a flow's steps as ids, branches in brackets:
// "a b route[x|y] c".
func shape(steps []flows.Step) string {
	var parts []string
	for _, s := range steps {
		p := s.ID
		if s.IsSwitch() || len(s.Switch) > 0 {
			var cs []string
			for _, c := range s.Switch {
				cs = append(cs, shape(c.Steps))
			}
			p += "[" + strings.Join(cs, "|") + "]"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func TestMoveStep(t *testing.T) {
	base := func() *flows.Flow {
		return &flows.Flow{Steps: []flows.Step{
			{ID: "a"}, {ID: "b"},
			{ID: "route", Switch: []flows.Case{{Steps: []flows.Step{{ID: "x"}}}, {Default: true, Steps: []flows.Step{{ID: "y"}}}}},
			{ID: "c"},
		}}
	}
	for _, tc := range []struct{ op, want string }{
		{"steps.0:steps.2.switch.0.steps", "b route[x a|y] c"},
		{"steps.2.switch.0.steps.0:before:steps.0", "x a b route[|y] c"},
		{"steps.2.switch.1.steps.0:steps", "a b route[x|] c y"},
		{"steps.3:before:steps.1", "a c b route[x|y]"},
		{"steps.0:before:steps.2", "b a route[x|y] c"},
		{"steps.0:after:steps.3", "b route[x|y] c a"},
		{"steps.3:after:steps.2.switch.0.steps.0", "a b route[x c|y]"},
		{"steps.3:before:steps.2.switch.1.steps.0", "a b route[x|c y]"},
		// Impossible moves change nothing.
		{"steps.2:steps.2.switch.0.steps", "a b route[x|y] c"},
		{"steps.2:before:steps.2.switch.1.steps.0", "a b route[x|y] c"},
		{"steps.1:before:steps.1", "a b route[x|y] c"},
		{"steps.9:steps", "a b route[x|y] c"},
		{"steps.0:steps.7.switch.0.steps", "a b route[x|y] c"},
		{"steps.0", "a b route[x|y] c"},
	} {
		f := base()
		moveStep(f, tc.op)
		if got := shape(f.Steps); got != tc.want {
			t.Errorf("move %s: %s, want %s", tc.op, got, tc.want)
		}
	}
}
