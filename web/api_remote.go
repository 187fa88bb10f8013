package web

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// The routes the command line uses against a running server (`--server`):
// flows import, run of a flow file, token create. docs/api.md, "The
// command line against a server".

// importAnswer is the answer of POST /api/flows/import.
type importAnswer struct {
	Flow flowView `json:"flow"`
	// Changed is false when the flow was current as given: no new version.
	Changed bool `json:"changed"`
	// Warnings name connections the flow uses that do not exist yet; its
	// runs fail on them until they are added.
	Warnings []flows.FieldError `json:"warnings"`
}

// importFlow saves a flow file as the CLI's `flows import` does: created
// or a new version (201), or unchanged (200, no new version); connections
// that do not exist yet are warnings, not errors.
func (s *Server) importFlow(c *fiber.Ctx) error {
	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	res, err := s.eng.ImportFlow(c.UserContext(), body)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if res.Changed {
		status = fiber.StatusCreated
	}
	warnings := res.Warnings
	if warnings == nil {
		warnings = []flows.FieldError{}
	}
	return c.Status(status).JSON(importAnswer{Flow: s.flowView(c, res.Flow), Changed: res.Changed, Warnings: warnings})
}

// testFileRequest is the body of POST /api/flows/test: a flow that need
// not be saved, and what POST /api/flows/{id}/test takes.
type testFileRequest struct {
	Flow    json.RawMessage   `json:"flow"`
	Payload json.RawMessage   `json:"payload,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Query   map[string]string `json:"query,omitempty"`
	Dry     bool              `json:"dry,omitempty"`
}

// testFlowFile runs a flow given in the request once, storing nothing,
// with the server's connections: `switchyard run FILE --server`.
func (s *Server) testFlowFile(c *fiber.Ctx) error {
	var req testFileRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if len(req.Flow) == 0 || string(req.Flow) == "null" {
		return &apiError{status: fiber.StatusBadRequest, msg: "flow: required",
			details: []flows.FieldError{{Field: "flow", Message: "required"}}}
	}
	f, err := flows.Decode(req.Flow)
	if err != nil {
		return err
	}
	cf, err := engine.CompileFlow(f)
	if err != nil {
		return err
	}
	ev := testRequest{Payload: req.Payload, Headers: req.Headers, Query: req.Query}.event()
	ev.Path = f.Trigger.Path
	run, err := s.eng.TestRun(c.UserContext(), cf, ev, req.Dry)
	if err != nil && run == nil {
		return err
	}
	return c.JSON(run)
}

// tokenRequest is the body of POST /api/tokens.
type tokenRequest struct {
	Name string `json:"name"`
}

// tokenAnswer is a new API token, shown this once.
type tokenAnswer struct {
	Token     string    `json:"token"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
}

// createToken makes an API token for a caller who may already use the
// API: a signed-in owner (session cookie and CSRF header) or a bearer
// token. Every token has the owner's rights, so a token may make another.
func (s *Server) createToken(c *fiber.Ctx) error {
	var req tokenRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return &apiError{status: fiber.StatusBadRequest, msg: "name: required (what the token is for)",
			details: []flows.FieldError{{Field: "name", Message: "required"}}}
	}
	tok, rec, err := s.auth.CreateToken(c.UserContext(), req.Name)
	if err != nil {
		return err
	}
	s.log.InfoContext(c.UserContext(), "api token created", "token_id", rec.ID, "name", rec.Name)
	return c.Status(fiber.StatusCreated).JSON(tokenAnswer{Token: tok, ID: rec.ID, Name: rec.Name, Prefix: rec.Prefix, CreatedAt: rec.CreatedAt})
}
