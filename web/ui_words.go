package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
)

// plainMissing says in plain words what a page that does not exist was
// about ("This flow does not exist") and where to go instead, rather than
// the engine's error text. ok is false for other errors.
func plainMissing(c *fiber.Ctx, status int, err error) (msg, back, backLabel string, ok bool) {
	if status != fiber.StatusNotFound {
		return "", "", "", false
	}
	path := c.Path()
	gone := errors.Is(err, engine.ErrFlowNotFound) || errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrBadID)
	switch {
	case strings.HasPrefix(path, "/flows/") && gone:
		return "This flow does not exist. It may have been deleted, or the link is wrong.", "/flows", "See all flows", true
	case strings.HasPrefix(path, "/runs/") && gone:
		return "This run does not exist. Old runs are removed after a while, or the link is wrong.", "/runs", "See all runs", true
	case strings.HasPrefix(path, "/connections/") && gone:
		return "This connection does not exist. It may have been deleted.", "/connections", "See all connections", true
	case !gone:
		return "There is no page at this address. Check the link, or start from the list of flows.", "/flows", "Go to your flows", true
	}
	return "What you asked for does not exist. It may have been deleted, or the link is wrong.", "/flows", "Go to your flows", true
}
