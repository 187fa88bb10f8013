package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

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

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error   string             `json:"error"`
	Details []flows.FieldError `json:"details,omitempty"`
	RunID   string             `json:"run_id,omitempty"`
}

// handleError turns any error a handler returns into a JSON answer: the one
// place where errors become responses.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, body := s.classify(err)
	if status == fiber.StatusTooManyRequests && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if status == fiber.StatusServiceUnavailable && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	return c.Status(status).JSON(body)
}

func (s *Server) classify(err error) (int, errorBody) {
	var ae *apiError
	var ve *flows.ValidationError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
		return ae.status, errorBody{Error: ae.msg, Details: ae.details}
	case errors.As(err, &ve):
		return fiber.StatusBadRequest, errorBody{Error: "invalid: " + summarize(ve), Details: ve.Details}
	case errors.As(err, &fe):
		if fe.Code == fiber.StatusRequestEntityTooLarge {
			return fe.Code, errorBody{Error: "request body too large"}
		}
		return fe.Code, errorBody{Error: fe.Message}
	case errors.Is(err, engine.ErrFlowNotFound), errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrBadID):
		return fiber.StatusNotFound, errorBody{Error: err.Error()}
	case errors.Is(err, engine.ErrFlowExists), errors.Is(err, engine.ErrNotFailed), errors.Is(err, engine.ErrRunFinal):
		return fiber.StatusConflict, errorBody{Error: err.Error()}
	case errors.Is(err, engine.ErrSaturated):
		return fiber.StatusTooManyRequests, errorBody{Error: "engine saturated, try again later"}
	case errors.Is(err, engine.ErrStoreUnavailable):
		// The store logs the cause (paths, system errors), rate-limited;
		// the caller only learns to come back.
		return fiber.StatusServiceUnavailable, errorBody{Error: "storage unavailable: the database is not taking writes right now, try again later"}
	}
	s.log.Error("request failed", "err", err)
	return fiber.StatusInternalServerError, errorBody{Error: "internal error"}
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
