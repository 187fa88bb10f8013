package web

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// getSettings answers the instance-wide settings.
func (s *Server) getSettings(c *fiber.Ctx) error {
	return c.JSON(s.eng.Settings())
}

// putSettings replaces the settings; problems answer 400 with field paths.
func (s *Server) putSettings(c *fiber.Ctx) error {
	var req engine.Settings
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if err := s.eng.SaveSettings(c.UserContext(), req); err != nil {
		return err
	}
	return c.JSON(s.eng.Settings())
}

// signingSecretRequest is the body of POST /api/signing-secrets.
type signingSecretRequest struct {
	// Name is the connection to create (name_2, … when it is taken).
	Name string `json:"name"`
}

// signingSecretAnswer names the connection holding a new signing secret
// and shows the secret, this once.
type signingSecretAnswer struct {
	Connection string `json:"connection"`
	Secret     string `json:"secret"`
}

// createSigningSecret makes a whsec_ secret for notifications.
func (s *Server) createSigningSecret(c *fiber.Ctx) error {
	var req signingSecretRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.Name == "" {
		req.Name = "notify"
	}
	name, secret, err := s.eng.CreateSigningSecret(c.UserContext(), req.Name)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(signingSecretAnswer{Connection: name, Secret: secret})
}

// settingsProps is the settings page for the current settings; errs and
// secret come from a refused save or a secret just made.
func (s *Server) settingsProps(c *fiber.Ctx, set engine.Settings) (views.SettingsProps, error) {
	p := views.SettingsProps{Page: s.pageProps(c, "Settings", "settings"), Settings: set, Errors: map[string][]string{},
		Flows: s.flowChoices()}
	conns, err := s.eng.Connections(c.UserContext())
	if err != nil {
		return p, err
	}
	p.Connections = conns
	return p, nil
}

func (s *Server) settingsPage(c *fiber.Ctx) error {
	p, err := s.settingsProps(c, s.eng.Settings())
	if err != nil {
		return err
	}
	if c.Query("flash") == "saved" {
		p.Page.Flash = "Settings saved."
	}
	return render(c, fiber.StatusOK, views.SettingsPage(p))
}

// saveSettingsUI saves the settings form, or makes a signing secret
// (_op=signingsecret:notify) and shows it once.
func (s *Server) saveSettingsUI(c *fiber.Ctx) error {
	vals, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return errStatus(fiber.StatusBadRequest, "malformed form: %v", err)
	}
	set := engine.Settings{Notify: readNotify(vals, "notify")}
	if id := strings.TrimSpace(vals.Get("on_failure.flow")); id != "" {
		set.OnFailure = &flows.FailureHandler{Flow: id}
	}
	p, err := s.settingsProps(c, set)
	if err != nil {
		return err
	}
	if strings.HasPrefix(vals.Get("_op"), "signingsecret") {
		name, secret, err := s.eng.CreateSigningSecret(c.UserContext(), "notify")
		if err != nil {
			return err
		}
		if p.Settings.Notify == nil {
			p.Settings.Notify = &flows.Notify{}
		}
		p.Settings.Notify.Secret, p.Secret = name, secret
		if p.Connections, err = s.eng.Connections(c.UserContext()); err != nil {
			return err
		}
		return render(c, fiber.StatusOK, views.SettingsPage(p))
	}
	if err := s.eng.SaveSettings(c.UserContext(), set); err != nil {
		var ve *flows.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for _, d := range ve.Details {
			p.Errors[d.Field] = append(p.Errors[d.Field], d.Message)
		}
		return render(c, fiber.StatusUnprocessableEntity, views.SettingsPage(p))
	}
	return c.Redirect("/settings?flash=saved", fiber.StatusSeeOther)
}
