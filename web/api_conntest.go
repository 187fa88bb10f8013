package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/web/views"
)

// connectionTestRequest is the optional body of
// POST /api/connections/{name}/test.
type connectionTestRequest struct {
	// URL is where a generic connection (bearer, basic, header) is tried.
	URL string `json:"url"`
}

// testConnection answers POST /api/connections/{name}/test with
// {"ok", "message"}: 200 whether or not the connection works, 404 when
// there is no such connection.
func (s *Server) testConnection(c *fiber.Ctx) error {
	var req connectionTestRequest
	if len(c.Body()) > 0 {
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
	}
	res, err := s.eng.TestConnection(c.UserContext(), c.Params("name"), req.URL)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// testConnectionUI is the Test button of the Connections page: the page
// again, with the answer beside the connection (htmx takes only that).
func (s *Server) testConnectionUI(c *fiber.Ctx) error {
	name := c.Params("name")
	res, err := s.eng.TestConnection(c.UserContext(), name, strings.TrimSpace(c.FormValue("url")))
	if err != nil {
		return err
	}
	p, err := s.connectionsProps(c, "")
	if err != nil {
		return err
	}
	p.Tested = &views.ConnectionTested{Name: name, OK: res.OK, Message: res.Message}
	return render(c, fiber.StatusOK, views.Connections(p))
}
