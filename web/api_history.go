package web

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
)

// history answers GET /api/history: what the run history takes, in all
// and per flow (each flow's share), the retention limits in force, and the
// database file's size and free part.
func (s *Server) history(c *fiber.Ctx) error {
	h, err := s.eng.History(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(h)
}

// compactAnswer is what POST /api/compact did.
type compactAnswer struct {
	BeforeBytes int64 `json:"before_bytes"`
	AfterBytes  int64 `json:"after_bytes"`
	// TookMS is how long writes that need the database's answer and
	// reads of runs waited; webhooks were acknowledged meanwhile.
	TookMS float64 `json:"took_ms"`
}

// compact compacts the database now: POST /api/compact.
func (s *Server) compact(c *fiber.Ctx) error {
	rep, err := s.eng.Compact(c.UserContext())
	if errors.Is(err, engine.ErrNoCompaction) {
		return errStatus(fiber.StatusNotImplemented, "this server's store cannot be compacted")
	}
	if err != nil {
		return err
	}
	return c.JSON(compactAnswer{BeforeBytes: rep.BeforeBytes, AfterBytes: rep.AfterBytes, TookMS: float64(rep.Took) / float64(time.Millisecond)})
}
