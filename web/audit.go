package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/web/views"
)

// withActor makes what the request does recorded under actor and the
// client's address (versions, the audit trail).
func withActor(c *fiber.Ctx, a engine.Actor) {
	c.SetUserContext(engine.WithAddress(engine.WithActor(c.UserContext(), a), c.IP()))
}

// audit records what the request did; who and from where come from its
// context (withActor).
func (s *Server) audit(c *fiber.Ctx, action, target, detail string) {
	s.eng.Audit(c.UserContext(), engine.AuditEntry{Action: action, Target: target, Detail: detail})
}

// auditLogin records a sign-in (ok) or a failed one under the name
// tried; there is no session yet, so who and from where are passed.
func (s *Server) auditLogin(c *fiber.Ctx, name string, ok bool, detail string) {
	action := engine.AuditLoginFailed
	if ok {
		action = engine.AuditLogin
	}
	s.eng.Audit(c.UserContext(), engine.AuditEntry{Action: action, Actor: engine.Actor{Kind: "user", Name: name}, Address: c.IP(), Detail: detail})
}

// auditFilter reads action, target, limit and cursor of an audit listing.
func auditFilter(c *fiber.Ctx) (engine.AuditFilter, error) {
	f := engine.AuditFilter{Action: strings.TrimSpace(c.Query("action")), Target: strings.TrimSpace(c.Query("target"))}
	var err error
	f.Limit, f.Cursor, err = pageQuery(c)
	return f, err
}

// listAudit lists the audit trail, newest first.
func (s *Server) listAudit(c *fiber.Ctx) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	p, err := s.eng.ListAudit(c.UserContext(), f)
	if err != nil {
		return cursorError(err)
	}
	return c.JSON(p)
}

// auditPage is the settings page of the audit trail.
func (s *Server) auditPage(c *fiber.Ctx) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	f.Limit = 100
	p, err := s.eng.ListAudit(c.UserContext(), f)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Audit(views.AuditProps{Page: s.pageProps(c, "Audit trail", "audit"),
		Entries: p.Entries, NextCursor: p.NextCursor, Action: f.Action, Target: f.Target}))
}
