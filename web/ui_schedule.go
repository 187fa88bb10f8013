package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// refusalsShown is how many refused requests the flow page lists; the
// Refused page (?flow=) pages through the rest.
const refusalsShown = 50

// flowPanels reads what a stored flow's trigger has been doing, for the
// panels under its builder: next fire times and the poll state of timed
// flows, refused requests of webhook flows. A panel that cannot be read
// says so instead of failing the page.
func (s *Server) flowPanels(c *fiber.Ctx, id string) *views.FlowPanelsProps {
	a, err := s.eng.Flow(id)
	if err != nil {
		return nil
	}
	ctx := c.UserContext()
	hold := s.eng.FlowHold(id)
	p := &views.FlowPanelsProps{FlowID: id, CSRF: session(c).CSRF, Hold: &hold}
	switch a.Flow().Trigger.Type {
	case flows.TriggerSchedule, flows.TriggerPoll:
		info, err := s.eng.ScheduleInfo(ctx, id)
		if err != nil {
			p.ScheduleError = "The schedule could not be read: " + err.Error()
		} else {
			p.Schedule = &info
		}
	}
	refusals, err := s.eng.ListRefusals(ctx, engine.RefusalFilter{FlowID: id, Limit: refusalsShown})
	if err == nil {
		p.Refusals, p.MoreRefusals = refusals.Refusals, refusals.NextCursor != ""
	}
	p.ShowRefusals = a.Flow().Trigger.Type == flows.TriggerWebhook || len(p.Refusals) > 0
	if h, err := s.eng.FlowHistory(ctx, id, historyShown); err == nil {
		p.Versions = h.Versions
	}
	return p
}

// pollNowUI polls a flow now: mode "force" runs the unseen items past a
// flood pause, "seed" records them as seen without running them.
func (s *Server) pollNowUI(c *fiber.Ctx) error {
	id := c.Params("id")
	var force, seed bool
	flash := "polled"
	switch c.FormValue("mode") {
	case "":
	case "force":
		force, flash = true, "poll-forced"
	case "seed":
		seed, flash = true, "poll-seeded"
	default:
		return errStatus(fiber.StatusBadRequest, "unknown poll mode %q (use force or seed)", c.FormValue("mode"))
	}
	res, err := s.eng.PollNow(c.UserContext(), id, force, seed)
	switch {
	case err != nil && res.State.LastStatus == "error" && res.State.LastError != "":
		// The source failed; the panel shows the error and the backoff.
		flash = "poll-failed"
	case err != nil:
		return timedError(err)
	case res.Flooded:
		flash = "poll-flooded"
	}
	return redirect(c, "/flows/"+id+"/edit?flash="+flash+"#schedule")
}

// resetSeenUI forgets a poll flow's seen set.
func (s *Server) resetSeenUI(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.eng.ResetPoll(c.UserContext(), id); err != nil {
		return timedError(err)
	}
	return redirect(c, "/flows/"+id+"/edit?flash=seen-reset#schedule")
}
