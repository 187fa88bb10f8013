package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
)

// bulkRequest is the body of POST /api/runs/bulk: an action and either a
// filter (the query parameters of GET /api/runs) or run ids.
type bulkRequest struct {
	Action string    `json:"action"`
	Filter *runQuery `json:"filter,omitempty"`
	RunIDs []string  `json:"run_ids,omitempty"`
	// DryRun only plans: how many runs of which flows the action would take.
	DryRun bool `json:"dry_run,omitempty"`
}

// bulkResult is the answer: the plan, and whether it was only planned.
type bulkResult struct {
	*engine.BulkPlan
	DryRun bool `json:"dry_run"`
}

// bulkRuns answers POST /api/runs/bulk: 200 with the plan for a dry run,
// 202 once the action is queued (its runs are started in the background
// at a bounded pace).
func (s *Server) bulkRuns(c *fiber.Ctx) error {
	var req bulkRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	plan, err := s.planBulk(c, req)
	if err != nil {
		return err
	}
	if req.DryRun {
		return c.JSON(bulkResult{BulkPlan: plan, DryRun: true})
	}
	if err := s.eng.StartBulk(c.UserContext(), plan); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(bulkResult{BulkPlan: plan})
}

// planBulk turns a bulk request into the engine's plan.
func (s *Server) planBulk(c *fiber.Ctx, req bulkRequest) (*engine.BulkPlan, error) {
	er := engine.BulkRequest{Action: req.Action, RunIDs: req.RunIDs}
	if req.Filter != nil {
		f, err := req.Filter.filter()
		if err != nil {
			return nil, err
		}
		er.Filter = &f
	}
	return s.eng.PlanBulk(c.UserContext(), er)
}
