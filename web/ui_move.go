package web

import (
	"slices"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// Moving steps: the builder's "Move to…" menu and drag and drop both post
// _op=move:STEP:PLACE, where STEP is the form name of the step moved
// (steps.2) and PLACE says where it goes: a list (steps, or
// steps.1.switch.0.steps) to append to, or "before:" or "after:" and a
// step's form name. Paths are read against the flow as posted, before anything moves.

// moveMark stands in for the moved step while it travels; no real step id
// can hold a NUL.
const moveMark = "\x00moving"

// moveStep moves one step; an impossible move (into its own branches, a
// path that names nothing) changes nothing.
func moveStep(f *flows.Flow, arg string) {
	from, place, ok := strings.Cut(arg, ":")
	if !ok {
		return
	}
	after, isAfter := strings.CutPrefix(place, "after:")
	before, isBefore := strings.CutPrefix(place, "before:")
	if isAfter {
		before, isBefore = after, true
	}
	destList := place
	if isBefore {
		cut := strings.LastIndex(before, ".")
		if cut < 0 || before == from {
			return
		}
		destList = before[:cut]
	}
	if destList == from || strings.HasPrefix(destList, from+".") {
		return
	}
	srcList, i := stepAt(f, from)
	if srcList == nil || stepListAt(f, destList) == nil {
		return
	}
	at := -1
	if isBefore {
		l, j := stepAt(f, before)
		if l == nil {
			return
		}
		at = j
		if isAfter {
			at++
		}
	}
	// Leave a mark where the step was, so no path shifts until the step
	// is in its new place; then drop the mark, wherever it ended up.
	s := (*srcList)[i]
	(*srcList)[i] = flows.Step{ID: moveMark}
	dst := stepListAt(f, destList)
	if at < 0 {
		at = len(*dst)
	}
	*dst = slices.Insert(*dst, at, s)
	dropMark(&f.Steps)
}

// dropMark removes the moved step's mark from the lists.
func dropMark(list *[]flows.Step) bool {
	for k := range *list {
		if (*list)[k].ID == moveMark {
			*list = slices.Delete(*list, k, k+1)
			return true
		}
		for c := range (*list)[k].Switch {
			if dropMark(&(*list)[k].Switch[c].Steps) {
				return true
			}
		}
		if dropMark(&(*list)[k].Steps) {
			return true
		}
	}
	return false
}
