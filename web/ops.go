package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
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
	return c.JSON(fiber.Map{"status": "ready"})
}

// metrics writes Prometheus text exposition.
func (s *Server) metrics(c *fiber.Ctx) error {
	st := s.eng.Stats()
	var b strings.Builder
	metric := func(name, typ, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, v)
	}
	metric("switchyard_events_accepted_total", "counter", "Events stored durably and queued as runs.", st.Accepted)
	metric("switchyard_events_duplicate_total", "counter", "Deliveries answered as duplicates.", st.Duplicates)
	metric("switchyard_events_refused_saturated_total", "counter", "Deliveries refused with 429 because the queue was full.", st.Saturated)
	metric("switchyard_webhooks_refused_total", "counter", "Webhook requests refused (signature, address, rate limit).", st.Refused)
	metric("switchyard_refusals_unrecorded_total", "counter", "Refusals not kept in a flow's log because a flood outran it.", st.RefusalsDropped)
	metric("switchyard_store_apply_errors_total", "counter", "Failed attempts to move acknowledged writes from the write-ahead log into the database (the disk needs attention).", st.StoreApplyErrors)
	metric("switchyard_store_stuck", "gauge", "1 while the database refuses writes that were acknowledged (they wait in the write-ahead log).", st.StoreStuck)
	metric("switchyard_store_backlog", "gauge", "Acknowledged writes waiting in the write-ahead log for the database.", st.StoreBacklog)
	metric("switchyard_runs_succeeded_total", "counter", "Runs that finished successfully.", st.Succeeded)
	metric("switchyard_runs_failed_total", "counter", "Runs that failed.", st.Failed)
	metric("switchyard_step_checkpoints_total", "counter", "Step checkpoints written.", st.Steps)
	metric("switchyard_runs_pending", "gauge", "Runs queued, running or waiting.", st.Pending)
	metric("switchyard_workers", "gauge", "Worker pool size.", int64(st.Workers))
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	return c.SendString(b.String())
}

// events streams run and step updates as Server-Sent Events. Filters:
// ?flow= and ?run=.
func (s *Server) events(c *fiber.Ctx) error {
	flowID, runID := c.Query("flow"), c.Query("run")
	updates, cancel := s.eng.Subscribe()
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	id := requestIDOf(c)
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		defer cancel()
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
		for {
			select {
			case <-s.closing:
				// Shutting down: end the stream so the server need not
				// wait out its grace period for open browser tabs.
				return
			case u := <-updates:
				if (flowID != "" && u.FlowID != flowID) || (runID != "" && u.RunID != runID) {
					continue
				}
				data, _ := json.Marshal(u)
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", u.Type, data)
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
