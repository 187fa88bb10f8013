package web

import (
	"github.com/gofiber/fiber/v2"
)

// getOnly answers any method but GET and HEAD on a read-only operations
// route (/healthz, /readyz, /metrics) with 405 and Allow, as the API's
// routes do, instead of the UI's 404 page: a probe configured with the
// wrong method learns why.
func getOnly(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAllow, "GET, HEAD")
	return errStatus(fiber.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: GET, HEAD)", c.Method(), c.Path())
}
