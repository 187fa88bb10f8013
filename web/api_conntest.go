package web

import (
	"github.com/gofiber/fiber/v2"
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
