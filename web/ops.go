package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/switchyard/switchyard/engine"
)

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// pinger is a store on a database server, which readiness checks.
type pinger interface {
	Ping(ctx context.Context) error
}

// readyz is 200 once recovery is done and the engine takes work, and 503
// while the database refuses writes (the cause is in the log, not here).
func (s *Server) readyz(c *fiber.Ctx) error {
	if !s.eng.Ready() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "starting"})
	}
	if s.eng.StoreHealth().Stuck {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "degraded",
			"reason": "the database refuses writes; see the server log"})
	}
	if p, ok := s.eng.Store().(pinger); ok {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			s.log.Warn("readiness: the database does not answer", "err", err)
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "degraded", "database": "unreachable",
				"reason": "the database does not answer; see the server log"})
		}
		return c.JSON(fiber.Map{"status": "ready", "database": "ok"})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// events streams run and step updates as Server-Sent Events. Filters:
// ?flow= and ?run=. Every event has an id; a client that reconnects with
// Last-Event-ID (browsers do by themselves) gets what it missed, within
// the engine's window of engine.EventWindow updates. When that is more
// than the window holds, or the server restarted in between, the stream
// starts with an `event: reset`: reload, then follow the stream.
func (s *Server) events(c *fiber.Ctx) error {
	flowID, runID := c.Query("flow"), c.Query("run")
	last := c.Get("Last-Event-ID")
	if last == "" {
		// For clients that cannot set headers on a reconnect of their own.
		last = c.Query("last_event_id")
	}
	stream := s.eng.EventsAfter(last)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	id := requestIDOf(c)
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		defer stream.Close()
		// The stream is written after the handler returned, out of
		// recoverPanics' reach: a bug here ends this stream only.
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("event stream panicked", "request_id", id, "panic", v, "stack", string(debug.Stack()))
			}
		}()
		ping := time.NewTicker(15 * time.Second)
		defer ping.Stop()
		fmt.Fprint(w, "retry: 2000\n: connected\n\n")
		if w.Flush() != nil {
			return
		}
		var buf []engine.Update
		for {
			select {
			case <-s.closing:
				// Shutting down: end the stream so the server need not
				// wait out its grace period for open browser tabs.
				return
			case <-stream.Ready():
				var lost bool
				buf, lost = stream.Read(buf[:0])
				if lost {
					fmt.Fprint(w, "event: reset\ndata: {\"reason\":\"updates were missed; reload the state, then follow the stream\"}\n\n")
				}
				for _, u := range buf {
					if (flowID != "" && u.FlowID != flowID) || (runID != "" && u.RunID != runID) {
						continue
					}
					data, _ := json.Marshal(u)
					fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", u.ID, u.Type, data)
				}
			case <-ping.C:
				fmt.Fprint(w, ": ping\n\n")
			}
			// A failed flush means the client went away.
			if err := w.Flush(); err != nil {
				return
			}
		}
	}))
	return nil
}
