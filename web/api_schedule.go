package web

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
)

// The API of schedule and poll flows: next fire times, the last poll, the
// seen set; poll now (confirming a flood or seeding), reset the seen set.

// getSchedule answers GET /api/flows/:id/schedule.
func (s *Server) getSchedule(c *fiber.Ctx) error {
	info, err := s.eng.ScheduleInfo(c.UserContext(), c.Params("id"))
	if err != nil {
		return timedError(err)
	}
	return c.JSON(info)
}

// pollRequest is the body of POST /api/flows/:id/poll; it may be empty.
type pollRequest struct {
	// Force confirms a flood pause: the unseen items run.
	Force bool `json:"force"`
	// Seed records the unseen items as seen without running them.
	Seed bool `json:"seed"`
}

// pollView is the answer of a poll now.
type pollView struct {
	Unseen  int              `json:"unseen"`
	Flooded bool             `json:"flooded"`
	RunIDs  []string         `json:"run_ids"`
	State   engine.PollState `json:"state"`
}

// pollNow answers POST /api/flows/:id/poll.
func (s *Server) pollNow(c *fiber.Ctx) error {
	var req pollRequest
	if len(c.Body()) > 0 {
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
	}
	if req.Force && req.Seed {
		return errStatus(fiber.StatusBadRequest, "force and seed exclude each other: force runs the new items, seed skips them")
	}
	res, err := s.eng.PollNow(c.UserContext(), c.Params("id"), req.Force, req.Seed)
	if err != nil {
		if res.State.LastStatus == "error" && res.State.LastError != "" {
			// The source failed; the state shows it and the backoff.
			return errStatus(fiber.StatusBadGateway, "poll failed: %s", res.State.LastError)
		}
		return timedError(err)
	}
	out := pollView{Unseen: res.Unseen, Flooded: res.Flooded, RunIDs: []string{}, State: res.State}
	for _, r := range res.Runs {
		out.RunIDs = append(out.RunIDs, r.ID)
	}
	return c.JSON(out)
}

// resetSeen answers POST /api/flows/:id/seen/reset.
func (s *Server) resetSeen(c *fiber.Ctx) error {
	if err := s.eng.ResetPoll(c.UserContext(), c.Params("id")); err != nil {
		return timedError(err)
	}
	return c.JSON(fiber.Map{"reset": true, "at": time.Now().UTC()})
}

// timedError maps the errors of schedule and poll operations that
// handleError does not know.
func timedError(err error) error {
	switch {
	case errors.Is(err, engine.ErrNotPoll), errors.Is(err, engine.ErrNotTimed):
		return errStatus(fiber.StatusBadRequest, "%s", err.Error())
	case errors.Is(err, engine.ErrStaleVersion):
		return errStatus(fiber.StatusConflict, "the flow was saved meanwhile; try again")
	}
	return err
}
