package web

import (
	"crypto/rand"
	"encoding/hex"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"
)

// Request ids tie an answer to its log lines.
const (
	// HeaderRequestID carries the request id on every answer.
	HeaderRequestID = "X-Request-Id"
	localRequestID  = "switchyard.request_id"
	localPanicked   = "switchyard.panicked"
)

// requestIDs hands out request ids: a random prefix per process (ids stay
// distinct across restarts) and a counter, which costs nothing on the
// webhook hot path. An id a client sends is not taken: it could collide
// with, or pose as, another request in the log.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic("web: no randomness: " + err.Error())
	}
	return &requestIDs{prefix: "req_" + hex.EncodeToString(b) + "_"}
}

func (r *requestIDs) next() string {
	return r.prefix + strconv.FormatUint(r.n.Add(1), 10)
}

// requestID gives the request its id and puts it on the answer first, so
// that every answer carries it, errors and recovered panics included.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := s.ids.next()
	c.Locals(localRequestID, id)
	c.Set(HeaderRequestID, id)
	return c.Next()
}

// requestIDOf returns the id requestID gave c ("" before it ran).
func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// recoverPanics turns a panicking handler into a 500 answer (see
// handleError) instead of a dead process. The stack goes to the log only.
func (s *Server) recoverPanics() fiber.Handler {
	return fiberrecover.New(fiberrecover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, v any) {
			c.Locals(localPanicked, true)
			s.log.Error("handler panicked", "request_id", requestIDOf(c), "method", c.Method(),
				"path", c.Path(), "panic", v, "stack", string(debug.Stack()))
		},
	})
}

// panicked reports whether recoverPanics caught a panic in this request.
func panicked(c *fiber.Ctx) bool {
	p, _ := c.Locals(localPanicked).(bool)
	return p
}

// answersJSON reports whether errors on this path are answered as JSON
// (the API, webhooks and the operational endpoints); every other path is
// a UI page and gets an HTML error page.
func answersJSON(path string) bool {
	switch path {
	case "/api", "/healthz", "/readyz", "/metrics", "/ui/events":
		return true
	}
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/hooks/") || strings.HasPrefix(path, "/static/")
}
