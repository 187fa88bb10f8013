package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
)

// runQuery is a run filter as the API and the UI take it: from query
// parameters of GET /api/runs and /runs, or the "filter" of POST
// /api/runs/bulk. Its JSON names are the query parameters'.
type runQuery struct {
	Flow     string `json:"flow,omitempty"`
	Status   string `json:"status,omitempty"`
	Resolved string `json:"resolved,omitempty"`
	Since    string `json:"since,omitempty"`
	Until    string `json:"until,omitempty"`
	Q        string `json:"q,omitempty"`
}

// filter checks the query and turns it into the engine's filter; a bad
// part is a 400 naming it.
func (q runQuery) filter() (engine.RunFilter, error) {
	f := engine.RunFilter{FlowID: q.Flow, Status: engine.RunStatus(q.Status), Search: q.Q}
	if f.Status != "" && !f.Status.Valid() {
		return f, errStatus(fiber.StatusBadRequest, "status: must be one of queued, running, waiting, succeeded, failed")
	}
	switch q.Resolved {
	case "":
	case "true", "false":
		b := q.Resolved == "true"
		f.Resolved = &b
	default:
		return f, errStatus(fiber.StatusBadRequest, "resolved: must be true or false")
	}
	for _, b := range []struct {
		key, val string
		dst      *time.Time
	}{{"since", q.Since, &f.Since}, {"until", q.Until, &f.Until}} {
		if b.val != "" {
			t, err := time.Parse(time.RFC3339, b.val)
			if err != nil {
				return f, errStatus(fiber.StatusBadRequest, "%s: must be an RFC 3339 time", b.key)
			}
			*b.dst = t
		}
	}
	if f.Search != "" {
		if _, err := engine.ParseSearch(f.Search); err != nil {
			return f, errStatus(fiber.StatusBadRequest, "q: %v", err)
		}
	}
	return f, nil
}
