package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/internal/units"
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

// historyCache keeps the history's usage for historyTTL: measuring it
// reads every run's index entry, and the flows list (and each row a
// switch re-renders) shows it.
type historyCache struct {
	mu  sync.Mutex
	at  time.Time
	val engine.History
}

const historyTTL = 15 * time.Second

// cachedHistory is eng.History, at most historyTTL old.
func (s *Server) cachedHistory(ctx context.Context) (engine.History, error) {
	hc := &s.historyUsage
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if !hc.at.IsZero() && time.Since(hc.at) < historyTTL {
		return hc.val, nil
	}
	h, err := s.eng.History(ctx)
	if err != nil {
		return h, err
	}
	hc.val, hc.at = h, time.Now()
	return h, nil
}

// flowHistory is one flow's part of the history.
func flowHistory(h engine.History, flowID string) engine.FlowUsage {
	for _, f := range h.Flows {
		if f.FlowID == flowID {
			return f
		}
	}
	return engine.FlowUsage{FlowID: flowID}
}

// historyNote sums up the history under the flows list.
func historyNote(h engine.History) string {
	if h.Runs == 0 && h.Space == nil {
		return ""
	}
	note := fmt.Sprintf("Run history: %d runs, %s", h.Runs, units.FormatBytes(h.Bytes))
	var limits []string
	if h.Limits.MaxBytes > 0 {
		limits = append(limits, "at most "+units.FormatBytes(h.Limits.MaxBytes))
	}
	if h.Limits.RunsPerFlow > 0 {
		limits = append(limits, fmt.Sprintf("at most %d runs per flow", h.Limits.RunsPerFlow))
	}
	if h.Limits.MaxAgeSeconds > 0 {
		limits = append(limits, fmt.Sprintf("%d days", h.Limits.MaxAgeSeconds/86400))
	}
	for i, l := range limits {
		if i == 0 {
			note += " (kept: "
		} else {
			note += ", "
		}
		note += l
	}
	if len(limits) > 0 {
		note += ", whichever comes first)"
	}
	if h.Space != nil {
		note += fmt.Sprintf(". Database file: %s, %s of it free.", units.FormatBytes(h.Space.FileBytes), units.FormatBytes(h.Space.FreeBytes))
	}
	return note
}
