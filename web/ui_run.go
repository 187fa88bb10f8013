package web

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// runNowUI is the Run now button of the builder and the flows list. A
// manual or webhook flow runs with the builder's Test payload, or, from
// the flows list (which sends none), with the flow's latest event as the
// sample; a schedule flow runs one tick, a poll flow polls. htmx gets the
// result as a fragment; a plain form post goes to the new run's page.
func (s *Server) runNowUI(c *fiber.Ctx) error {
	id := c.Params("id")
	a, err := s.eng.Flow(id)
	if err != nil {
		return err
	}
	var req testRequest
	switch a.Flow().Trigger.Type {
	case flows.TriggerManual, flows.TriggerWebhook, flows.TriggerCall:
		if c.Request().PostArgs().Has("_test_payload") {
			text := strings.TrimSpace(c.FormValue("_test_payload"))
			if text != "" && !json.Valid([]byte(text)) {
				return s.runNowAnswer(c, id, nil, fiber.StatusBadRequest, "The payload is not valid JSON: fix it in the Test panel, or empty it to run without one.")
			}
			req.Payload = json.RawMessage(text)
		} else if sm, ok := s.latestSample(c.UserContext(), id); ok && sm.body != nil {
			raw, err := json.Marshal(sm.body)
			if err == nil {
				req.Payload = raw
			}
		}
	}
	res, err := s.runNow(c.UserContext(), id, req)
	if err != nil {
		status, body := s.classify(c, err)
		if status >= 500 && status != fiber.StatusBadGateway {
			return err
		}
		return s.runNowAnswer(c, id, nil, status, body.Error)
	}
	return s.runNowAnswer(c, id, res, 0, "")
}

// runNowAnswer shows what Run now did: a fragment for htmx, else a
// redirect to the run (or back to the flow when nothing ran), or the
// problem as an error page with its status.
func (s *Server) runNowAnswer(c *fiber.Ctx, id string, res *runNowResult, status int, problem string) error {
	p := views.RunNowResultProps{FlowID: id, Error: problem}
	if res != nil {
		p.Message, p.RunIDs = res.Message, res.RunIDs
	}
	if isHTMX(c) {
		return render(c, fiber.StatusOK, views.RunNowResult(p))
	}
	switch {
	case problem != "":
		return errStatus(status, "%s", problem)
	case len(p.RunIDs) > 0:
		return redirect(c, "/runs/"+p.RunIDs[0]+"?flash=run-started")
	}
	return redirect(c, "/flows/"+id+"/edit?flash=run-none")
}
