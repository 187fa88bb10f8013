package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
)

// holdView is a flow's pause state and queue as the API shows it.
type holdView struct {
	FlowID string `json:"flow_id"`
	engine.FlowHold
}

// pauseFlow pauses a flow: its webhooks are still acknowledged, its runs
// wait until it is resumed.
func (s *Server) pauseFlow(c *fiber.Ctx) error {
	h, err := s.eng.PauseFlow(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(holdView{FlowID: c.Params("id"), FlowHold: h})
}

// resumeFlow resumes a paused flow: the runs it held start in order.
func (s *Server) resumeFlow(c *fiber.Ctx) error {
	h, err := s.eng.ResumeFlow(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(holdView{FlowID: c.Params("id"), FlowHold: h})
}

// queryWait reads the optional `wait` parameter (a duration such as 30s)
// of GET /api/runs/{id} and webhooks; longer than engine.MaxRunWait waits
// that long.
func queryWait(c *fiber.Ctx) (time.Duration, error) {
	v := c.Query("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errStatus(fiber.StatusBadRequest, "wait: must be a duration such as 30s (at most %s)", engine.MaxRunWait)
	}
	return min(d, engine.MaxRunWait), nil
}
