package web

import (
	"errors"
	"net/url"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/web/views"
)

// runsFilter is the engine's filter for the runs page's: a period counts
// back from now, resolved "false" is Needs attention.
func runsFilter(fl views.RunsFilter) engine.RunFilter {
	f := engine.RunFilter{FlowID: fl.Flow, Status: engine.RunStatus(fl.Status), Search: fl.Q}
	if d, ok := periods[fl.Period]; ok {
		f.Since = time.Now().Add(-d)
	}
	if fl.Resolved == "true" || fl.Resolved == "false" {
		b := fl.Resolved == "true"
		f.Resolved = &b
	}
	return f
}

// bulkUI answers the runs page's bulk form: first a confirmation that
// says how many runs of which flows the action takes, then (confirm=yes)
// the action itself.
func (s *Server) bulkUI(c *fiber.Ctx) error {
	sel := views.BulkSelection{All: c.FormValue("all") == "1", Filter: views.RunsFilter{
		Flow: c.FormValue("flow"), Status: c.FormValue("status"), Period: c.FormValue("period"),
		Resolved: c.FormValue("resolved"), Q: c.FormValue("q")}}
	for _, v := range c.Request().PostArgs().PeekMulti("run") {
		sel.RunIDs = append(sel.RunIDs, string(v))
	}
	p := views.BulkProps{Page: s.pageProps(c, "Act on several runs", "runs"), Action: c.FormValue("action"), Selection: sel, BackURL: runsURL(sel.Filter)}
	req := engine.BulkRequest{Action: p.Action}
	if sel.All {
		f := runsFilter(sel.Filter)
		req.Filter = &f
	} else {
		req.RunIDs = sel.RunIDs
	}
	if !sel.All && len(sel.RunIDs) == 0 {
		p.Error = "No runs selected: tick the runs to act on, or \"Select all runs that match this filter\"."
		return render(c, fiber.StatusOK, views.BulkConfirm(p))
	}
	plan, err := s.eng.PlanBulk(c.UserContext(), req)
	if errors.Is(err, engine.ErrBadFilter) {
		p.Error = err.Error()
		return render(c, fiber.StatusOK, views.BulkConfirm(p))
	}
	if err != nil {
		return err
	}
	s.describePlan(c, &p, plan)
	if c.FormValue("confirm") == "yes" && plan.Count > 0 {
		if err := s.eng.StartBulk(c.UserContext(), plan); err != nil {
			return err
		}
		p.Started = true
	}
	return render(c, fiber.StatusOK, views.BulkConfirm(p))
}

// describePlan fills the page from a plan: flows by name, why runs were
// skipped, and for a replay the steps that call services again.
func (s *Server) describePlan(c *fiber.Ctx, p *views.BulkProps, plan *engine.BulkPlan) {
	p.Count, p.Skipped = plan.Count, plan.SkippedCount
	for _, sk := range plan.Skipped {
		p.Reasons = append(p.Reasons, sk.RunID+": "+sk.Reason)
	}
	p.External = map[string][]string{}
	first := map[string]string{} // a run of each flow, for its replay plan
	for _, id := range plan.RunIDs {
		if r, err := s.eng.Run(c.UserContext(), id); err == nil && first[r.FlowID] == "" {
			first[r.FlowID] = id
		}
	}
	for id, n := range plan.Flows {
		name := id
		if a, err := s.eng.Flow(id); err == nil && a.Flow().Name != "" {
			name = a.Flow().Name
		}
		p.Flows = append(p.Flows, views.BulkFlow{ID: id, Name: name, Count: n})
		if plan.Action == engine.BulkReplay && first[id] != "" {
			if ext, err := s.eng.ReplayPlan(c.UserContext(), first[id]); err == nil {
				for _, e := range ext {
					p.External[id] = append(p.External[id], e.ID)
				}
			}
		}
	}
	sort.Slice(p.Flows, func(i, j int) bool { return p.Flows[i].Name < p.Flows[j].Name })
}

// runsQuery is the query string of the runs page with a filter.
func runsQuery(fl views.RunsFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"flow": fl.Flow, "status": fl.Status, "period": fl.Period, "resolved": fl.Resolved, "q": fl.Q} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// runsURL is the runs page with a filter.
func runsURL(fl views.RunsFilter) string {
	if enc := runsQuery(fl).Encode(); enc != "" {
		return "/runs?" + enc
	}
	return "/runs"
}
