package web

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/flows"
)

// Run now: start a flow by hand whatever its trigger. A manual or webhook
// flow runs with the given payload; a schedule flow runs one tick now; a
// poll flow polls now, or, given a payload, runs once with it as the item.

// runNowResult is the answer of POST /api/flows/{id}/run.
type runNowResult struct {
	// RunID is the run started (the first, when a poll started several);
	// null when nothing ran, which Message explains.
	RunID *string `json:"run_id"`
	// RunIDs lists every run started.
	RunIDs []string `json:"run_ids"`
	// Trigger is the flow's trigger type.
	Trigger string `json:"trigger"`
	// Polled is true when the flow's source was polled; Unseen counts the
	// new items it found.
	Polled bool `json:"polled,omitempty"`
	Unseen int  `json:"unseen,omitempty"`
	// Duplicate is true when the payload's dedupe key was seen before:
	// RunID names the first run and nothing new ran.
	Duplicate bool `json:"duplicate,omitempty"`
	// Message says in plain words what happened.
	Message string `json:"message"`
}

func (r *runNowResult) add(id string) {
	if r.RunID == nil {
		r.RunID = &id
	}
	r.RunIDs = append(r.RunIDs, id)
}

// status is 202 when a run started, 200 when nothing did.
func (r *runNowResult) status() int {
	if len(r.RunIDs) > 0 && !r.Duplicate {
		return fiber.StatusAccepted
	}
	return fiber.StatusOK
}

// runFlow answers POST /api/flows/{id}/run. The body is optional.
func (s *Server) runFlow(c *fiber.Ctx) error {
	var req testRequest
	if len(c.Body()) > 0 {
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
	}
	res, err := s.runNow(c.UserContext(), c.Params("id"), req)
	if err != nil {
		return err
	}
	return c.Status(res.status()).JSON(res)
}

// hasPayload reports whether the request carries a payload.
func (req testRequest) hasPayload() bool {
	return len(req.Payload) > 0 && string(req.Payload) != "null"
}

// runNow starts a flow by hand, as its trigger type asks.
func (s *Server) runNow(ctx context.Context, id string, req testRequest) (*runNowResult, error) {
	a, err := s.eng.Flow(id)
	if err != nil {
		return nil, err
	}
	typ := a.Flow().Trigger.Type
	res := &runNowResult{RunIDs: []string{}, Trigger: typ}
	switch {
	case typ == flows.TriggerSchedule && !req.hasPayload():
		acc, err := s.eng.TickNow(ctx, id)
		if err != nil {
			return nil, err
		}
		res.add(acc.RunID)
		res.Message = "Started one tick now."
	case typ == flows.TriggerPoll && !req.hasPayload():
		return s.pollForRun(ctx, id, res)
	default:
		acc, err := s.eng.RunNow(ctx, id, req.event())
		if err != nil {
			return nil, err
		}
		res.add(acc.RunID)
		res.Duplicate = acc.Duplicate
		switch {
		case acc.Duplicate:
			res.Message = "This payload's dedupe key was seen before: nothing new ran; run_id is the first run."
		case req.hasPayload():
			res.Message = "Started a run with the payload."
		default:
			res.Message = "Started a run without a payload."
		}
	}
	return res, nil
}

// pollForRun polls a poll flow now: each new item starts a run, as on a
// scheduled poll. A poll that finds nothing new runs nothing and says so.
func (s *Server) pollForRun(ctx context.Context, id string, res *runNowResult) (*runNowResult, error) {
	pr, err := s.eng.PollNow(ctx, id, false, false)
	if err != nil {
		if pr.State.LastStatus == "error" && pr.State.LastError != "" {
			return nil, errStatus(fiber.StatusBadGateway, "poll failed: %s", pr.State.LastError)
		}
		return nil, timedError(err)
	}
	res.Polled, res.Unseen = true, pr.Unseen
	for _, r := range pr.Runs {
		res.add(r.ID)
	}
	st := pr.State
	switch {
	case pr.Flooded || (st.Paused && len(pr.Runs) == 0):
		res.Message = "The flow is paused: " + st.PauseReason + "."
	case st.LastStatus == "seeded" && len(pr.Runs) == 0:
		res.Message = fmt.Sprintf("First poll: the %d items there were recorded as seen without running (as every first poll does); new items from now on start runs.", pr.Unseen)
	case len(pr.Runs) == 0:
		res.Message = "Polled: no new items since the last poll, so nothing ran."
	case len(pr.Runs) == 1:
		res.Message = "Polled: 1 new item started a run."
	default:
		res.Message = fmt.Sprintf("Polled: %d new items started runs.", len(pr.Runs))
	}
	return res, nil
}
