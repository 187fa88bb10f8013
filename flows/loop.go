package flows

import (
	"fmt"
	"reflect"
)

// loop validates and compiles a for_each step: its list expression, its
// limits, its inner steps (compiled with `item` and `index` in scope) and
// its collect template.
func (v *validator) loop(p string, s *Step, cs *CompiledStep, visible map[string]bool) {
	if v.shape == shapeLoop {
		// One level keeps a run's history and its resume point simple to
		// read: a nested list is better split with a sub-flow.
		v.errs.add(p+".for_each", "a loop inside a loop is not supported: repeat over a flattened list instead")
		return
	}
	if s.Use != "" {
		v.errs.add(p+".use", "not allowed together with for_each: a loop runs its own steps")
	}
	if s.Switch != nil {
		v.errs.add(p+".switch", "not allowed together with for_each: put the switch inside the loop's steps")
	}
	if len(s.With) > 0 {
		v.errs.add(p+".with", "not allowed on a loop step")
	}
	if s.Retry != nil {
		v.errs.add(p+".retry", "not allowed on a loop step: set retry on its inner steps")
	}
	if s.ForEach == "" {
		v.errs.add(p+".for_each", "required: an expression giving the list to repeat over, such as trigger.body.items")
	} else if e := v.expr(p+".for_each", s.ForEach, shapeBase, visible, false); e != nil {
		cs.ForEach = e
		if t := e.resultType(); t != nil && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			v.errs.add(p+".for_each", fmt.Sprintf("must yield a list, but yields %s", t))
		}
	}
	if s.Concurrency < 0 || s.Concurrency > MaxLoopConcurrency {
		v.errs.add(p+".concurrency", fmt.Sprintf("must be between 1 and %d, got %d", MaxLoopConcurrency, s.Concurrency))
	}
	if s.MaxItems < 0 || s.MaxItems > MaxMaxItems {
		v.errs.add(p+".max_items", fmt.Sprintf("must be between 1 and %d, got %d", MaxMaxItems, s.MaxItems))
	}
	if len(s.Steps) == 0 {
		v.errs.add(p+".steps", "at least one step is required")
	}
	outer := v.shape
	v.shape = shapeLoop
	defer func() { v.shape = outer }()
	cs.Body = v.steps(p+".steps", s.Steps, visible)
	if s.Collect != nil {
		seen := make(map[string]bool, len(visible)+len(s.Steps))
		for id := range visible {
			seen[id] = true
		}
		for i := range s.Steps {
			markRun(&s.Steps[i], seen)
		}
		cs.Collect = v.template(seen).compileValue(p+".collect", s.Collect)
		if cs.Collect.UsesSecrets {
			// The loop's output is history: it never holds a secret.
			v.errs.add(p+".collect", "secrets are only available inside a step's with")
		}
	}
}

// notLoopFields reports the loop settings on a step that is no loop.
func (v *validator) notLoopFields(p string, s *Step) {
	if s.Concurrency != 0 {
		v.errs.add(p+".concurrency", "only allowed with for_each")
	}
	if s.MaxItems != 0 {
		v.errs.add(p+".max_items", "only allowed with for_each")
	}
	if s.Collect != nil {
		v.errs.add(p+".collect", "only allowed with for_each")
	}
}
