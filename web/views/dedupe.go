package views

import (
	"slices"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// DedupeNone is the dedupe picker's choice for no dedupe expression of
// the flow's own: a verified provider's delivery id applies, if any
// (flows.DedupePresets), else nothing is deduplicated.
const DedupeNone = "__none"

// DedupeOptions are the sample's single values a webhook may be
// deduplicated by: ValueOptions of its body, query and headers.
func DedupeOptions(refs []Ref) []ListOption {
	var trigger []Ref
	for _, r := range refs {
		if strings.HasPrefix(r.Path, "trigger.") {
			trigger = append(trigger, r)
		}
	}
	return ValueOptions(trigger)
}

// ValueOptions are the single values among refs (no list or object, and
// nothing inside a list), each with its example, those named like an id
// or a delivery first: what may tell one event or item from another.
func ValueOptions(refs []Ref) []ListOption {
	var ids, others []ListOption
	for _, r := range refs {
		if strings.Contains(r.Path, "[0]") || strings.HasPrefix(r.Preview, "list of ") || r.Preview == "{…}" || r.Preview == "" {
			continue
		}
		o := ListOption{Path: r.Path, Label: r.Path + " (e.g. " + r.Preview + ")"}
		if idLike(r.Path) {
			ids = append(ids, o)
		} else {
			others = append(others, o)
		}
	}
	return slices.Concat(ids, others)
}

// idLike reports whether a field's name reads as an id: id, event_id,
// X-GitHub-Delivery, Webhook-Id, Idempotency-Key.
func idLike(path string) bool {
	name := strings.ToLower(path[strings.LastIndexAny(path, ".[")+1:])
	name = strings.Trim(name, `"]`)
	return name == "id" || strings.HasSuffix(name, "_id") || strings.HasSuffix(name, "-id") ||
		strings.Contains(name, "delivery") || strings.Contains(name, "idempotency")
}

// dedupeChoice is what the dedupe picker shows as chosen.
func dedupeChoice(opts []ListOption, current string) string {
	if strings.TrimSpace(current) == "" {
		return DedupeNone
	}
	return listChoice(opts, current)
}

// DedupeNoneLabelFor names the picker's "none" choice: with a provider's
// signature check that has a delivery id, that id is what applies.
func DedupeNoneLabelFor(t flows.Trigger) string {
	if dedupePreset(t) {
		return "The provider's delivery id (the default with its signature check)"
	}
	return "Don't deduplicate"
}

// dedupePreset reports whether the trigger's signature check brings a
// delivery id to deduplicate by when it sets none of its own.
func dedupePreset(t flows.Trigger) bool {
	_, ok := flows.DedupePresets[verifyScheme(t)]
	return ok
}
