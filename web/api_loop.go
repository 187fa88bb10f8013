package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// getLoopPage answers one page of a loop's items with their steps.
func (s *Server) getLoopPage(c *fiber.Ctx) error {
	page, err := pageParam(c.Query("page"))
	if err != nil {
		return err
	}
	run, err := s.eng.Run(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	p, err := run.LoopPage(c.Params("step"), page)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// pageParam reads a page number from a query value; empty is page 1.
func pageParam(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, errStatus(fiber.StatusBadRequest, "page: must be a whole number from 1, got %q", s)
	}
	return n, nil
}
