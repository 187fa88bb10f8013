package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// requireToken admits API calls that carry a valid bearer token, or the
// UI's session cookie together with its X-CSRF-Token header.
func (s *Server) requireToken(c *fiber.Ctx) error {
	auth := c.Get(fiber.HeaderAuthorization)
	if auth == "" {
		if cookie := c.Cookies(sessionCookie); cookie != "" {
			return s.sessionAPI(c, cookie)
		}
	}
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="switchyard"`)
		return errStatus(fiber.StatusUnauthorized, "missing bearer token (Authorization: Bearer <token>; create one with `switchyard token create`)")
	}
	rec, ok := s.auth.VerifyToken(c.UserContext(), strings.TrimSpace(tok))
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="switchyard", error="invalid_token"`)
		return errStatus(fiber.StatusUnauthorized, "invalid or revoked token")
	}
	// What the call changes is recorded under the token's name.
	withActor(c, engine.Actor{Kind: "token", Name: rec.Name})
	return c.Next()
}

// contentSecurityPolicy allows scripts, styles and connections only from
// this origin: no inline script or style, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders are sent on every answer; webhook answers get their own
// (hookHeaders).
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	if isHookPath(c.Path()) {
		return s.hookHeaders(c)
	}
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	return c.Next()
}

// apiNotFound answers what no API route took: 405 with Allow when the
// path exists under other methods, else 404.
func (s *Server) apiNotFound(c *fiber.Ctx) error {
	if allow := allowedMethods(s.apiRoutes, c.Path()); len(allow) > 0 {
		c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
		return errStatus(fiber.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", c.Method(), c.Path(), strings.Join(allow, ", "))
	}
	return errStatus(fiber.StatusNotFound, "no such API route: %s %s", c.Method(), c.Path())
}

// jsonBody checks that the request carries JSON and returns a copy of it.
func jsonBody(c *fiber.Ctx) ([]byte, error) {
	ct := c.Get(fiber.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || !engine.IsJSONType(mt) {
		return nil, errStatus(fiber.StatusUnsupportedMediaType, "send application/json (got %q)", ct)
	}
	return bytes.Clone(c.Body()), nil
}

// decodeStrict decodes a JSON request body, refusing unknown fields.
func decodeStrict(c *fiber.Ctx, v any) error {
	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errStatus(fiber.StatusBadRequest, "malformed request body: %v", err)
	}
	if dec.More() {
		return errStatus(fiber.StatusBadRequest, "malformed request body: data after the JSON object")
	}
	return nil
}

// flowView is a flow as the API shows it.
type flowView struct {
	Flow    json.RawMessage `json:"flow"`
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Enabled bool            `json:"enabled"`
	// Paused is set while the flow holds its runs (POST …/pause); Held
	// counts the runs it holds.
	Paused     bool      `json:"paused"`
	Held       int       `json:"held"`
	Trigger    string    `json:"trigger"`
	WebhookURL string    `json:"webhook_url,omitempty"`
	Version    int64     `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Refused24h counts the flow's refused webhook requests of the last
	// 24 hours (at most the 200 kept).
	Refused24h int `json:"refused_24h"`
}

func (s *Server) flowView(c *fiber.Ctx, a *engine.ActiveFlow) flowView {
	f := a.Flow()
	v := flowView{Flow: a.Record.Flow, ID: f.ID, Name: f.Name, Enabled: f.Enabled, Trigger: f.Trigger.Type,
		Version: a.Record.Version, CreatedAt: a.Record.CreatedAt, UpdatedAt: a.Record.UpdatedAt}
	h := s.eng.FlowHold(f.ID)
	v.Paused, v.Held = h.Paused, h.Held
	if f.Trigger.Type == flows.TriggerWebhook {
		v.WebhookURL = s.hooksBaseURL(c) + "/hooks/" + strings.Trim(f.Trigger.Path, "/")
	}
	// A count that cannot be read is left at 0: the flow itself was read.
	v.Refused24h, _, _ = s.eng.CountRefusals(c.UserContext(), f.ID, time.Now().Add(-24*time.Hour), engine.RefusalsPerFlow)
	return v
}

func (s *Server) baseURL(c *fiber.Ctx) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return c.Protocol() + "://" + c.Hostname()
}

func (s *Server) listFlows(c *fiber.Ctx) error {
	out := []flowView{}
	for _, a := range s.eng.Flows() {
		out = append(out, s.flowView(c, a))
	}
	return c.JSON(fiber.Map{"flows": out})
}

func (s *Server) createFlow(c *fiber.Ctx) error {
	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	a, err := s.eng.SaveFlow(c.UserContext(), body, true, "")
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.flowView(c, a))
}

func (s *Server) getFlow(c *fiber.Ctx) error {
	a, err := s.eng.Flow(c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.flowView(c, a))
}

func (s *Server) updateFlow(c *fiber.Ctx) error {
	body, err := jsonBody(c)
	if err != nil {
		return err
	}
	a, err := s.eng.SaveFlow(c.UserContext(), body, false, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.flowView(c, a))
}

func (s *Server) deleteFlow(c *fiber.Ctx) error {
	if err := s.eng.DeleteFlow(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// testRequest is the body of POST /api/flows/{id}/test and /run.
type testRequest struct {
	Payload json.RawMessage   `json:"payload"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Dry     bool              `json:"dry"`
}

func (req testRequest) event() *engine.Event {
	ev := &engine.Event{Source: flows.TriggerManual, Method: "POST", Headers: map[string]string{}, Query: req.Query, ReceivedAt: time.Now().UTC()}
	for k, v := range req.Headers {
		ev.Headers[strings.ToLower(k)] = v
	}
	if len(req.Payload) > 0 && string(req.Payload) != "null" {
		ev.ContentType = "application/json"
		ev.Body = req.Payload
	}
	return ev
}

func (s *Server) testFlow(c *fiber.Ctx) error {
	a, err := s.eng.Flow(c.Params("id"))
	if err != nil {
		return err
	}
	var req testRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	run, err := s.eng.TestRun(c.UserContext(), a.Compiled, req.event(), req.Dry)
	if err != nil && run == nil {
		return err
	}
	return c.JSON(run)
}

func (s *Server) listRuns(c *fiber.Ctx) error {
	q := runQuery{Flow: c.Query("flow"), Status: c.Query("status"), Resolved: c.Query("resolved"),
		Since: c.Query("since"), Until: c.Query("until"), Q: c.Query("q")}
	f, err := q.filter()
	if err != nil {
		return err
	}
	f.Cursor = c.Query("cursor")
	if l := c.Query("limit"); l != "" {
		n, err := parsePositive(l)
		if err != nil {
			return errStatus(fiber.StatusBadRequest, "limit: %v", err)
		}
		f.Limit = n
	}
	page, err := s.eng.ListRuns(c.UserContext(), f)
	if err != nil {
		if errors.Is(err, engine.ErrBadID) {
			return errStatus(fiber.StatusBadRequest, "cursor: malformed")
		}
		return err
	}
	return c.JSON(page)
}

// queryBool reads an optional true/false query parameter.
func queryBool(c *fiber.Ctx, key string) (bool, error) {
	switch c.Query(key) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, errStatus(fiber.StatusBadRequest, "%s: must be true or false", key)
}

func parsePositive(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != s {
		return 0, errors.New("must be a positive integer")
	}
	return n, nil
}

// runView is a run with the event that started it, the runs started
// from it and whether it is resolved.
type runView struct {
	*engine.Run
	engine.RunLinks
	Trigger *triggerView `json:"trigger,omitempty"`
	// WaitingFor says what holds an unfinished run back (the flow paused,
	// its concurrency limit, a connection's rate limit).
	WaitingFor string `json:"waiting_for,omitempty"`
}

type triggerView struct {
	Source     string            `json:"source"`
	Method     string            `json:"method,omitempty"`
	Path       string            `json:"path,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Query      map[string]string `json:"query,omitempty"`
	Body       any               `json:"body"`
	ReceivedAt time.Time         `json:"received_at"`
}

// sensitiveHeaders are hidden when an event is shown.
var sensitiveHeaders = map[string]bool{"authorization": true, "proxy-authorization": true,
	"cookie": true, "set-cookie": true, "x-api-key": true, "x-auth-token": true}

// getRun shows a run; with ?wait=30s it answers once the run is final or
// the wait is over, whichever comes first.
func (s *Server) getRun(c *fiber.Ctx) error {
	wait, err := queryWait(c)
	if err != nil {
		return err
	}
	run, err := s.eng.WaitRun(c.UserContext(), c.Params("id"), wait)
	if err != nil {
		return err
	}
	links, err := s.eng.RunLinks(c.UserContext(), run.ID)
	if err != nil {
		return err
	}
	// A loop's items past its first page are read with getLoopPage.
	v := runView{Run: run.WithFirstLoopPages(), RunLinks: links, WaitingFor: s.eng.WaitingFor(run)}
	if ev, err := s.eng.Event(c.UserContext(), run.EventID); err == nil {
		body, perr := engine.ParseBody(ev.ContentType, ev.Body)
		if perr != nil {
			body = string(ev.Body)
		}
		h := make(map[string]string, len(ev.Headers))
		for k, val := range ev.Headers {
			if sensitiveHeaders[k] {
				val = engine.Redacted
			}
			h[k] = val
		}
		v.Trigger = &triggerView{Source: ev.Source, Method: ev.Method, Path: ev.Path, Headers: h, Query: ev.Query, Body: body, ReceivedAt: ev.ReceivedAt}
	}
	return c.JSON(v)
}

func (s *Server) retryRun(c *fiber.Ctx) error {
	run, err := s.eng.RetryRun(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(run)
}

func (s *Server) replayRun(c *fiber.Ctx) error {
	run, err := s.eng.ReplayRun(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(run)
}

func (s *Server) listConnectors(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"connectors": connectors.Specs(), "connection_types": connectors.ConnectionTypes()})
}

func (s *Server) listConnections(c *fiber.Ctx) error {
	conns, err := s.eng.Connections(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"connections": conns})
}

// connectionRequest is the body of POST /api/connections.
type connectionRequest struct {
	Name   string            `json:"name"`
	Type   string            `json:"type"`
	Values map[string]string `json:"values"`
	// Rate limits the requests of every step that uses the connection.
	Rate *flows.RateLimit `json:"rate,omitempty"`
}

func (s *Server) putConnection(c *fiber.Ctx) error {
	var req connectionRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	info, err := s.eng.PutConnectionRate(c.UserContext(), req.Name, req.Type, req.Values, req.Rate)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(info)
}

// deleteConnection removes a connection; one that flows use answers 409
// with their ids unless ?force=true.
func (s *Server) deleteConnection(c *fiber.Ctx) error {
	force, err := queryBool(c, "force")
	if err != nil {
		return err
	}
	if err := s.eng.DeleteConnection(c.UserContext(), c.Params("name"), force); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) flowSchema(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/schema+json")
	return c.Send(flows.JSONSchema())
}
