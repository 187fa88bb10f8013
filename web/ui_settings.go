package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// connectionsProps lists connections; typ selects the create form.
func (s *Server) connectionsProps(c *fiber.Ctx, typ string) (views.ConnectionsProps, error) {
	p := views.ConnectionsProps{Page: s.pageProps(c, "Connections", "connections"), Types: connectors.ConnectionTypes(), Errors: map[string][]string{}}
	conns, err := s.eng.Connections(c.UserContext())
	if err != nil {
		return p, err
	}
	p.Connections = conns
	p.UsedBy = s.eng.ConnectionUsers()
	if typ != "" {
		if ct, err := connectors.LookupConnectionType(typ); err == nil {
			p.Type = &ct
		}
	}
	return p, nil
}

func (s *Server) connectionsPage(c *fiber.Ctx) error {
	p, err := s.connectionsProps(c, c.Query("type"))
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Connections(p))
}

// createConnectionUI stores a connection from the form of its type. The
// values are never sent back, not even when the form is shown again with
// errors.
func (s *Server) createConnectionUI(c *fiber.Ctx) error {
	typ, label := c.FormValue("type"), strings.TrimSpace(c.FormValue("name"))
	name, err := s.connectionName(c.UserContext(), label)
	if err != nil {
		return err
	}
	values := map[string]string{}
	if ct, err := connectors.LookupConnectionType(typ); err == nil {
		for _, f := range ct.Fields {
			if v := c.FormValue("values." + f.Name); v != "" {
				values[f.Name] = v
			}
		}
	}
	rate := formRate(c)
	_, err = s.eng.PutConnectionRate(c.UserContext(), name, typ, values, rate)
	if err == nil {
		return redirect(c, "/connections?flash=connection-saved")
	}
	var ve *flows.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	p, perr := s.connectionsProps(c, typ)
	if perr != nil {
		return perr
	}
	p.Name = label
	p.RateRequests, p.RatePer = c.FormValue("rate.requests"), c.FormValue("rate.per")
	p.Values = map[string]string{}
	if ct, err := connectors.LookupConnectionType(typ); err == nil {
		for _, f := range ct.Fields {
			if f.Type != connectors.TypeSecret {
				p.Values[f.Name] = values[f.Name]
			}
		}
	}
	for _, d := range ve.Details {
		p.Errors[d.Field] = append(p.Errors[d.Field], d.Message)
	}
	return render(c, fiber.StatusUnprocessableEntity, views.Connections(p))
}

// deleteConnectionUI deletes a connection; one that flows use is kept
// and a page naming them asks first (its form sends force).
func (s *Server) deleteConnectionUI(c *fiber.Ctx) error {
	name := c.Params("name")
	err := s.eng.DeleteConnection(c.UserContext(), name, c.FormValue("force") == "true")
	var inUse *engine.ConnectionInUseError
	if errors.As(err, &inUse) {
		return render(c, fiber.StatusConflict, views.DeleteConnection(views.DeleteConnectionProps{
			Page: s.pageProps(c, "Delete connection", "connections"), Name: name, Flows: inUse.Flows}))
	}
	if err != nil {
		return err
	}
	return redirect(c, "/connections?flash=connection-deleted")
}

func (s *Server) tokensProps(c *fiber.Ctx) (views.TokensProps, error) {
	p := views.TokensProps{Page: s.pageProps(c, "API tokens", "tokens")}
	toks, err := s.auth.Tokens(c.UserContext())
	p.Tokens = toks
	return p, err
}

func (s *Server) tokensPage(c *fiber.Ctx) error {
	p, err := s.tokensProps(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Tokens(p))
}

// createTokenUI makes a token and shows it once, on this answer only.
func (s *Server) createTokenUI(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" {
		p, err := s.tokensProps(c)
		if err != nil {
			return err
		}
		p.Error = "Give the token a name, e.g. the script that will use it."
		return render(c, fiber.StatusUnprocessableEntity, views.Tokens(p))
	}
	tok, rec, err := s.auth.CreateToken(c.UserContext(), name)
	if err != nil {
		return err
	}
	s.audit(c, engine.AuditTokenCreate, rec.Name, "")
	p, err := s.tokensProps(c)
	if err != nil {
		return err
	}
	p.NewToken, p.NewName = tok, rec.Name
	return render(c, fiber.StatusOK, views.Tokens(p))
}

func (s *Server) revokeTokenUI(c *fiber.Ctx) error {
	id, name := c.Params("id"), c.Params("id")
	if toks, err := s.auth.Tokens(c.UserContext()); err == nil {
		for _, t := range toks {
			if t.ID == id {
				name = t.Name
			}
		}
	}
	if err := s.auth.RevokeToken(c.UserContext(), id); err != nil {
		return err
	}
	s.audit(c, engine.AuditTokenRevoke, name, "id "+id)
	return redirect(c, "/tokens?flash=token-revoked")
}
