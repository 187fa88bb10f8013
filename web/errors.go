package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// apiError is an error with the HTTP status it should answer with.
type apiError struct {
	status  int
	msg     string
	details []flows.FieldError
}

func (e *apiError) Error() string { return e.msg }

func errStatus(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape of every error answer: an RFC 9457 problem
// (type, title, status, detail, the field errors in details) that keeps
// the `error` member clients of earlier versions read. Build it with
// problem, which fills the RFC's members from the status and message.
type errorBody struct {
	Error  string `json:"error"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Details are the field errors of an invalid request.
	Details []flows.FieldError `json:"details,omitempty"`
	RunID   string             `json:"run_id,omitempty"`
	// Flows names the flows that use a connection that was not deleted.
	Flows []string `json:"flows,omitempty"`
	// Settings: the settings' run notifications use that connection too.
	Settings bool `json:"settings,omitempty"`
	// RequestID names the log lines of a failure on our side.
	RequestID string `json:"request_id,omitempty"`
}

// problem completes an error answer: the RFC 9457 members come from the
// status and from the message in b.Error.
func problem(status int, b errorBody) errorBody {
	b.Type = "about:blank"
	b.Title = utils.StatusMessage(status)
	b.Status = status
	b.Detail = b.Error
	return b
}

// sendProblem writes an error answer as application/problem+json.
func sendProblem(c *fiber.Ctx, status int, b errorBody) error {
	data, err := json.Marshal(problem(status, b))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ProblemContentType)
	return c.Status(status).Send(data)
}

// handleError turns any error a handler returns, or a panic recoverPanics
// caught, into an answer: JSON on the API and webhooks, an HTML page on
// the UI. It is the one place where errors become responses.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	if panicked(c) {
		// Whatever the handler wrote before it panicked is not the answer.
		c.Response().ResetBody()
	}
	if c.App() == s.app && !answersJSON(c.Path()) {
		return s.uiError(c, err)
	}
	status, body := s.classify(c, err)
	if status == fiber.StatusTooManyRequests && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if status == fiber.StatusServiceUnavailable && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	return sendProblem(c, status, body)
}

// classify maps an error to its status and answer. Anything unexpected is
// logged with the request id and answered with a generic message that
// names it, never with the error's own text.
func (s *Server) classify(c *fiber.Ctx, err error) (int, errorBody) {
	var ae *apiError
	var ve *flows.ValidationError
	var fe *fiber.Error
	var inUse *engine.ConnectionInUseError
	var flowInUse *engine.FlowInUseError
	if status, body, ok := kvProblem(err); ok && !panicked(c) {
		return status, body
	}
	switch {
	case panicked(c):
		// A panic is our bug whatever value it carries; recoverPanics has
		// logged it with its stack.
	case errors.As(err, &ae):
		return ae.status, errorBody{Error: ae.msg, Details: ae.details}
	case errors.As(err, &ve):
		return fiber.StatusBadRequest, errorBody{Error: "invalid: " + summarize(ve), Details: ve.Details}
	case errors.As(err, &inUse):
		users := fmt.Sprintf("%d flow(s)", len(inUse.Flows))
		if inUse.Settings {
			users += " and the settings' run notifications"
		}
		return fiber.StatusConflict, errorBody{Error: fmt.Sprintf("connection %q is used by %s; delete it with ?force=true to remove it anyway", inUse.Name, users), Flows: inUse.Flows, Settings: inUse.Settings}
	case errors.As(err, &flowInUse):
		return fiber.StatusConflict, errorBody{Error: fmt.Sprintf("flow %q is still used by %s; change those first", flowInUse.ID, strings.Join(flowInUse.By, ", ")), Flows: flowInUse.By}
	case errors.As(err, &fe):
		if fe.Code == fiber.StatusRequestEntityTooLarge {
			return fe.Code, errorBody{Error: "request body too large"}
		}
		return fe.Code, errorBody{Error: fe.Message}
	case errors.Is(err, engine.ErrFlowNotFound), errors.Is(err, engine.ErrNotFound), errors.Is(err, auth.ErrNotFound), errors.Is(err, engine.ErrBadID):
		return fiber.StatusNotFound, errorBody{Error: err.Error()}
	case errors.Is(err, engine.ErrFlowExists), errors.Is(err, engine.ErrNotFailed), errors.Is(err, engine.ErrRunFinal),
		errors.Is(err, engine.ErrResolved), errors.Is(err, engine.ErrNotFinal):
		return fiber.StatusConflict, errorBody{Error: err.Error()}
	case errors.Is(err, engine.ErrBadFilter), errors.Is(err, engine.ErrNoSearch):
		return fiber.StatusBadRequest, errorBody{Error: err.Error()}
	case errors.Is(err, engine.ErrBulkBusy):
		return fiber.StatusTooManyRequests, errorBody{Error: err.Error() + ", try again later"}
	case errors.Is(err, engine.ErrSaturated):
		return fiber.StatusTooManyRequests, errorBody{Error: "engine saturated, try again later"}
	case errors.Is(err, engine.ErrStoreUnavailable):
		// The store logs the cause (paths, system errors), rate-limited;
		// the caller only learns to come back.
		return fiber.StatusServiceUnavailable, errorBody{Error: "storage unavailable: the database is not taking writes right now, try again later"}
	}
	id := requestIDOf(c)
	if !panicked(c) {
		s.log.Error("request failed", "request_id", id, "method", c.Method(), "path", c.Path(), "err", err)
	}
	return fiber.StatusInternalServerError, errorBody{Error: "internal error (see the log, request id " + id + ")", RequestID: id}
}

func summarize(ve *flows.ValidationError) string {
	if len(ve.Details) == 0 {
		return "flow is invalid"
	}
	d := ve.Details[0]
	msg := d.Field + ": " + d.Message
	if n := len(ve.Details) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}
