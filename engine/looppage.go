package engine

import (
	"fmt"

	"github.com/switchyard/switchyard/flows"
)

// LoopItem is one item of a loop as history shows it: its index, how it
// stands (the worst of its steps: failed, else running, else succeeded)
// and its inner steps' checkpoints in the order they ran.
type LoopItem struct {
	Index  int          `json:"index"`
	Status StepStatus   `json:"status"`
	Steps  []StepResult `json:"steps"`
}

// LoopPage is one page of a loop's items (flows.IterationsPerPage a page).
type LoopPage struct {
	RunID string `json:"run_id"`
	Loop  string `json:"loop"`
	// ItemCount is how many items the loop's list held (0 before the list
	// was read).
	ItemCount int `json:"item_count"`
	// Page counts from 1; Pages is at least 1.
	Page    int        `json:"page"`
	Pages   int        `json:"pages"`
	PerPage int        `json:"per_page"`
	Items   []LoopItem `json:"items"`
}

// LoopPage returns page (from 1) of the items of loop step loop. A step
// that is not a loop of this run is ErrNotFound; a page past the last is
// an empty page.
func (r *Run) LoopPage(loop string, page int) (*LoopPage, error) {
	res := r.result(loop)
	if res == nil || !res.IsLoop() {
		return nil, fmt.Errorf("run %s has no loop step %q: %w", r.ID, loop, ErrNotFound)
	}
	if page < 1 {
		page = 1
	}
	per := flows.IterationsPerPage
	p := &LoopPage{RunID: r.ID, Loop: loop, ItemCount: *res.ItemCount, Page: page, PerPage: per, Items: []LoopItem{}}
	p.Pages = max(1, (p.ItemCount+per-1)/per)
	first, last := (page-1)*per, page*per
	byIndex := map[int]int{}
	for _, s := range r.Steps {
		if s.Loop != loop || s.Iteration == nil || *s.Iteration < first || *s.Iteration >= last {
			continue
		}
		i, ok := byIndex[*s.Iteration]
		if !ok {
			i = len(p.Items)
			byIndex[*s.Iteration] = i
			p.Items = append(p.Items, LoopItem{Index: *s.Iteration, Status: StepSucceeded})
		}
		it := &p.Items[i]
		it.Steps = append(it.Steps, s)
		switch {
		case s.Status == StepFailed && !failedOK(&s):
			it.Status = StepFailed
		case !s.Status.done() && it.Status != StepFailed:
			it.Status = s.Status
		}
	}
	return p, nil
}

// failedOK reports whether a failed step let its item go on (on_error
// continue leaves an output naming the error).
func failedOK(s *StepResult) bool {
	m, ok := s.Output.(map[string]any)
	return ok && m["error"] != nil
}

// WithFirstLoopPages returns the run with only the first page of each
// loop's items, so that a run detail stays small however long its lists
// were; the rest is read a page at a time with LoopPage. r is not changed.
func (r *Run) WithFirstLoopPages() *Run {
	cut := false
	for i := range r.Steps {
		if it := r.Steps[i].Iteration; it != nil && *it >= flows.IterationsPerPage {
			cut = true
			break
		}
	}
	if !cut {
		return r
	}
	out := *r
	out.Steps = make([]StepResult, 0, len(r.Steps))
	for _, s := range r.Steps {
		if s.Iteration == nil || *s.Iteration < flows.IterationsPerPage {
			out.Steps = append(out.Steps, s)
		}
	}
	return &out
}
