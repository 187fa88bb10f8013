package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// pauseFlowUI pauses a flow from the flows list (htmx swaps the row) or
// the flow's page (back=edit comes back to it).
func (s *Server) pauseFlowUI(c *fiber.Ctx) error { return s.setPauseUI(c, true) }

// resumeFlowUI resumes a paused flow; its held runs start in order.
func (s *Server) resumeFlowUI(c *fiber.Ctx) error { return s.setPauseUI(c, false) }

func (s *Server) setPauseUI(c *fiber.Ctx, pause bool) error {
	id := c.Params("id")
	var err error
	if pause {
		_, err = s.eng.PauseFlow(c.UserContext(), id)
	} else {
		_, err = s.eng.ResumeFlow(c.UserContext(), id)
	}
	if err != nil {
		return err
	}
	if isHTMX(c) {
		a, err := s.eng.Flow(id)
		if err != nil {
			return err
		}
		row, err := s.flowRow(c, a)
		if err != nil {
			return err
		}
		return render(c, fiber.StatusOK, views.FlowRowView(row))
	}
	if c.FormValue("back") == "edit" {
		return redirect(c, "/flows/"+id+"/edit")
	}
	return redirect(c, "/flows")
}

// formRate reads a connection form's rate limit: nil when no number of
// requests was given. What is out of bounds is left to the engine's
// check, which names the field.
func formRate(c *fiber.Ctx) *flows.RateLimit {
	reqs := strings.TrimSpace(c.FormValue("rate.requests"))
	if reqs == "" {
		return nil
	}
	n, err := strconv.Atoi(reqs)
	if err != nil {
		n = 0
	}
	per, err := time.ParseDuration(c.FormValue("rate.per"))
	if err != nil {
		per = 0
	}
	return &flows.RateLimit{Requests: n, Per: flows.Duration(per)}
}
