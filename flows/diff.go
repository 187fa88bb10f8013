package flows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Change is one difference between two versions of a flow.
type Change struct {
	// Path locates it, e.g. "name", "trigger.path" or
	// "steps[to_crm].with.url"; steps are named by id, not position.
	Path string `json:"path"`
	// Kind is "added", "removed" or "changed".
	Kind string `json:"kind"`
	// Old and New are the values as compact JSON ("" when absent).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// Change kinds.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// Diff lists what changed from flow a to flow b (either may be nil), field
// by field, in a stable order. Steps are matched by id, so moving or
// inserting a step does not show every later step as changed; a step
// moved to another position is listed under "order of steps". Enabled is
// not content and is left out.
func Diff(a, b *Flow) []Change {
	var out []Change
	diffValue(&out, "", contentTree(a), contentTree(b))
	return out
}

// SameContent reports whether two flows differ in nothing but Enabled.
func SameContent(a, b *Flow) bool { return len(Diff(a, b)) == 0 }

// contentTree is the flow as generic JSON, without enabled.
func contentTree(f *Flow) any {
	if f == nil {
		return nil
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	delete(m, "enabled")
	return m
}

func diffValue(out *[]Change, path string, a, b any) {
	ma, aObj := a.(map[string]any)
	mb, bObj := b.(map[string]any)
	if aObj && bObj {
		keys := sortedKeys(ma)
		for _, k := range sortedKeys(mb) {
			if _, ok := ma[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			diffValue(out, joinPath(path, k), ma[k], mb[k])
		}
		return
	}
	la, aList := a.([]any)
	lb, bList := b.([]any)
	if aList && bList {
		if stepList(la) && stepList(lb) {
			diffSteps(out, path, la, lb)
			return
		}
		// Other lists (switch cases, methods) position by position.
		for i := range max(len(la), len(lb)) {
			var x, y any
			if i < len(la) {
				x = la[i]
			}
			if i < len(lb) {
				y = lb[i]
			}
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), x, y)
		}
		return
	}
	switch {
	case a == nil && b == nil:
	case a == nil:
		*out = append(*out, Change{Path: path, Kind: ChangeAdded, New: compact(b)})
	case b == nil:
		*out = append(*out, Change{Path: path, Kind: ChangeRemoved, Old: compact(a)})
	default:
		if ca, cb := compact(a), compact(b); ca != cb {
			*out = append(*out, Change{Path: path, Kind: ChangeChanged, Old: ca, New: cb})
		}
	}
}

// stepList reports whether every element is an object with a string id
// (steps, at any depth).
func stepList(l []any) bool {
	for _, v := range l {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["id"].(string); !ok {
			return false
		}
	}
	return true
}

func stepID(v any) string { return v.(map[string]any)["id"].(string) }

// diffSteps matches steps by id: new ids are added, missing ones removed,
// the others compared field by field; a changed order is one change.
func diffSteps(out *[]Change, path string, a, b []any) {
	byID := make(map[string]any, len(a))
	var orderA, orderB []string
	for _, s := range a {
		byID[stepID(s)] = s
		orderA = append(orderA, stepID(s))
	}
	seen := map[string]bool{}
	for _, s := range b {
		id := stepID(s)
		seen[id] = true
		orderB = append(orderB, id)
		p := fmt.Sprintf("%s[%s]", path, id)
		if old, ok := byID[id]; ok {
			diffValue(out, p, old, s)
		} else {
			*out = append(*out, Change{Path: p, Kind: ChangeAdded, New: compact(s)})
		}
	}
	var kept []string
	for _, s := range a {
		if id := stepID(s); !seen[id] {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%s]", path, id), Kind: ChangeRemoved, Old: compact(s)})
		} else {
			kept = append(kept, id)
		}
	}
	var keptB []string
	for _, id := range orderB {
		if slices.Contains(kept, id) {
			keptB = append(keptB, id)
		}
	}
	if !slices.Equal(kept, keptB) {
		*out = append(*out, Change{Path: path, Kind: ChangeChanged, Old: strings.Join(orderA, ", "), New: strings.Join(orderB, ", ")})
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func compact(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}

// SummarizeChanges is a one-line account of changes, such as "added step
// notify; changed step to_crm (with.url); changed trigger.path".
func SummarizeChanges(changes []Change) string {
	if len(changes) == 0 {
		return "no change"
	}
	var parts []string
	stepFields := map[string][]string{}
	var stepOrder []string
	add := func(s string) {
		if !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	for _, c := range changes {
		id, rest, isStep := stepOf(c.Path)
		switch {
		case isStep && rest == "" && c.Kind != ChangeChanged:
			add(c.Kind + " step " + id)
		case isStep:
			if _, ok := stepFields[id]; !ok {
				stepOrder = append(stepOrder, id)
			}
			if rest != "" && !slices.Contains(stepFields[id], rest) {
				stepFields[id] = append(stepFields[id], rest)
			}
		case c.Path == "steps":
			add("reordered steps")
		default:
			add(c.Kind + " " + c.Path)
		}
	}
	for _, id := range stepOrder {
		s := "changed step " + id
		if f := stepFields[id]; len(f) > 0 {
			s += " (" + strings.Join(f, ", ") + ")"
		}
		add(s)
	}
	line := strings.Join(parts, "; ")
	if r := []rune(line); len(r) > 160 {
		line = string(r[:157]) + "…"
	}
	return line
}

// stepOf splits "steps[a].with.url" into "a" and "with.url"; a nested
// step ("steps[s].switch[0].steps[b].with.x") is named by its own id.
func stepOf(path string) (id, rest string, ok bool) {
	i := strings.LastIndex(path, "steps[")
	if i < 0 {
		return "", "", false
	}
	tail := path[i+len("steps["):]
	end := strings.IndexByte(tail, ']')
	if end < 0 {
		return "", "", false
	}
	id, rest = tail[:end], strings.TrimPrefix(tail[end+1:], ".")
	return id, rest, true
}
