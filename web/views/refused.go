package views

import (
	"net/url"
	"sort"
	"strconv"

	"github.com/switchyard/switchyard/engine"
)

// RefusedProps is the list of refused webhook requests: every one, or
// one flow's (FlowID).
type RefusedProps struct {
	Page     PageProps
	FlowID   string
	Refusals []engine.Refusal
	// NextCursor continues the list (empty: this is its end).
	NextCursor string
	// Unrecorded counts refusals a flood kept out of the list since start.
	Unrecorded int64
}

// refusalKindWords says a refusal's kind in words.
var refusalKindWords = map[string]string{
	"malformed_body": "Malformed body", "media_type": "Unsupported media type", "too_large": "Body too large",
	"too_deep": "JSON nested too deep", "signature": "Signature or token failed", "address": "Address not allowed",
	"rate_limit": "Over the rate limit", "queue_full": "Queue full", "storage_unavailable": "Storage unavailable",
	"flow_disabled": "Flow disabled", "no_flow": "No flow on this path", "method": "Method not allowed",
	"bad_request": "Bad request", "other": "Server error",
}

func refusalKind(r engine.Refusal) string {
	if w, ok := refusalKindWords[r.Kind]; ok {
		return w
	}
	return orDash(r.Kind)
}

// byteSize shows a size in bytes, KiB or MiB.
func byteSize(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1024*1024:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KiB"
	}
	return strconv.FormatFloat(float64(n)/(1024*1024), 'f', 1, 64) + " MiB"
}

// headerLines are a refusal's headers sorted by name, one "name: value"
// a line.
func headerLines(h map[string]string) []string {
	out := make([]string, 0, len(h))
	for k, v := range h {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return out
}

// refusedNext is the Refused page from cursor on, of one flow or all.
func refusedNext(cursor, flowID string) string {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if flowID != "" {
		q.Set("flow", flowID)
	}
	return "/refused?" + q.Encode()
}

// refusedCount is a flow's refused requests of the last 24 hours, as the
// flows list shows them beside its runs.
func refusedCount(r FlowRow) string {
	n := strconv.Itoa(r.Refused24h)
	if r.RefusedCapped {
		n += "+"
	}
	return n + " refused"
}
