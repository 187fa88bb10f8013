package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// runCountCap is where the flows list stops counting a flow's recent runs
// ("1000+"), so a busy flow costs a bounded amount of work.
const runCountCap = 1000

func (s *Server) home(c *fiber.Ctx) error { return redirect(c, "/flows") }

func (s *Server) flowsPage(c *fiber.Ctx) error {
	p := views.FlowsProps{Page: s.pageProps(c, "Flows", "flows")}
	if h, err := s.cachedHistory(c.UserContext()); err == nil {
		p.History = historyNote(h)
	}
	for _, a := range s.eng.Flows() {
		row, err := s.flowRow(c, a)
		if err != nil {
			return err
		}
		p.Rows = append(p.Rows, row)
	}
	return render(c, fiber.StatusOK, views.Flows(p))
}

// flowRow gathers one line of the flows list: the flow, its latest run
// and how many runs it had in the last 24 hours.
func (s *Server) flowRow(c *fiber.Ctx, a *engine.ActiveFlow) (views.FlowRow, error) {
	f := a.Flow()
	row := views.FlowRow{ID: f.ID, Name: f.Name, Trigger: views.TriggerWords(f.Trigger.Type), Enabled: f.Enabled, Version: a.Record.Version, CSRF: session(c).CSRF}
	if f.Trigger.Type == flows.TriggerWebhook {
		row.WebhookURL = s.hooksBaseURL(c) + "/hooks/" + strings.Trim(f.Trigger.Path, "/")
	}
	h := s.eng.FlowHold(f.ID)
	row.Paused, row.Held = h.Paused, h.Held
	ctx := c.UserContext()
	last, err := s.eng.ListRuns(ctx, engine.RunFilter{FlowID: f.ID, Limit: 1})
	if err != nil {
		return row, err
	}
	if len(last.Runs) > 0 {
		r := last.Runs[0]
		row.LastRunID, row.LastStatus, row.LastRunAt = r.ID, string(r.Status), r.CreatedAt
	}
	since := time.Now().Add(-24 * time.Hour)
	row.Runs24h, row.RunsCapped, err = s.countRuns(ctx, f.ID, since)
	if err != nil {
		return row, err
	}
	row.Refused24h, row.RefusedCapped, err = s.eng.CountRefusals(ctx, f.ID, since, engine.RefusalsPerFlow)
	if err != nil {
		return row, err
	}
	// The share is an estimate anyway: a history that cannot be measured
	// right now leaves the cell empty rather than the page failing.
	if h, err := s.cachedHistory(ctx); err == nil && h.Space != nil {
		u := flowHistory(h, f.ID)
		row.HistoryBytes, row.HistoryShare, row.HasHistory = u.Bytes, u.Share, true
	}
	return row, nil
}

// countRuns counts a flow's runs since a time, up to runCountCap; the
// engine reads index headers only, so a busy flow costs a short key walk.
func (s *Server) countRuns(ctx context.Context, flowID string, since time.Time) (int, bool, error) {
	return s.eng.CountRuns(ctx, flowID, since, runCountCap)
}

// saveFlow stores a flow built by the UI as its next version.
func (s *Server) saveFlow(c *fiber.Ctx, f *flows.Flow, create bool, wantID string) (*engine.ActiveFlow, error) {
	raw, err := flows.Encode(f)
	if err != nil {
		return nil, err
	}
	return s.eng.SaveFlow(c.UserContext(), raw, create, wantID)
}

// flowCopy loads the flow named by the route's id with a copy of its
// definition decoded afresh, which the handler may change: the active
// flow's own is shared with the engine.
func (s *Server) flowCopy(c *fiber.Ctx) (*engine.ActiveFlow, *flows.Flow, error) {
	a, err := s.eng.Flow(c.Params("id"))
	if err != nil {
		return nil, nil, err
	}
	f, err := flows.Decode(a.Record.Flow)
	if err != nil {
		return nil, nil, err
	}
	return a, f, nil
}

// toggleFlow flips a flow's enabled switch, saving a new version. htmx
// gets the row back; a plain form goes back to the list.
func (s *Server) toggleFlow(c *fiber.Ctx) error {
	a, f, err := s.flowCopy(c)
	if err != nil {
		return err
	}
	f.Enabled = !f.Enabled
	a, err = s.saveFlow(c, f, false, f.ID)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return redirect(c, "/flows")
	}
	row, err := s.flowRow(c, a)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.FlowRowView(row))
}

// duplicateFlow saves a disabled copy under a new id (and webhook path)
// and opens it in the builder.
func (s *Server) duplicateFlow(c *fiber.Ctx) error {
	_, f, err := s.flowCopy(c)
	if err != nil {
		return err
	}
	base := f.ID
	if len(base) > 50 {
		base = base[:50]
	}
	for i := 1; ; i++ {
		id := base + "-copy"
		if i > 1 {
			id = fmt.Sprintf("%s-copy-%d", base, i)
		}
		if _, err := s.eng.Flow(id); err != nil {
			f.ID = id
			break
		}
	}
	f.Name = "Copy of " + f.Name
	if len(f.Name) > flows.MaxNameLen {
		f.Name = f.Name[:flows.MaxNameLen]
	}
	f.Enabled = false
	if f.Trigger.Type == flows.TriggerWebhook && f.Trigger.Path != "" {
		f.Trigger.Path = strings.Trim(f.Trigger.Path, "/") + "-" + strings.TrimPrefix(f.ID, base+"-")
	}
	if _, err := s.saveFlow(c, f, true, ""); err != nil {
		return err
	}
	return redirect(c, "/flows/"+f.ID+"/edit?flash=copied")
}

func (s *Server) deleteFlowPage(c *fiber.Ctx) error {
	a, err := s.eng.Flow(c.Params("id"))
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.DeleteFlow(views.DeleteFlowProps{Page: s.pageProps(c, "Delete flow", "flows"), ID: a.Flow().ID, Name: a.Flow().Name}))
}

func (s *Server) deleteFlowSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.eng.DeleteFlow(c.UserContext(), id); err != nil {
		return err
	}
	return redirect(c, "/flows?flash=deleted")
}
