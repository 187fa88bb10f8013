package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/valyala/fasthttp"
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
	c.SetUserContext(context.WithValue(c.UserContext(), requestIDKey{}, id))
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
	return strings.HasPrefix(path, "/api/") || isHookPath(path) || strings.HasPrefix(path, "/static/")
}

// framingGuard refuses a request that carries both Content-Length and
// Transfer-Encoding (RFC 9112 §6.3): front ends and back ends may frame
// it differently, which is how a second request is smuggled inside the
// body of the first. The HTTP server closes such a connection after its
// answer but still serves the request; it is refused here before any
// route sees it, and the connection is closed after the 400.
func (s *Server) framingGuard(c *fiber.Ctx) error {
	h := &c.Request().Header
	if len(h.Peek(fiber.HeaderTransferEncoding)) == 0 || !hasRawHeader(h.RawHeaders(), fiber.HeaderContentLength) {
		return c.Next()
	}
	c.Context().SetConnectionClose()
	err := errStatus(fiber.StatusBadRequest, "malformed request: both Content-Length and Transfer-Encoding are set")
	if !strings.HasPrefix(c.Path(), "/hooks/") {
		return err
	}
	// No route runs for it, so it is recorded as a refusal here.
	if herr := s.handleError(c, err); herr != nil {
		return herr
	}
	if owner := s.eng.WebhookPathOwner(strings.Trim(strings.TrimPrefix(c.Path(), "/hooks/"), "/")); owner != "" {
		c.Locals(localRefusalFlow, owner)
	}
	noteRefusal(c, "bad_request", "")
	s.recordRefusal(c, err)
	return nil
}

// hasRawHeader reports whether raw, a request's header lines as received,
// holds a field called name.
func hasRawHeader(raw []byte, name string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if k, _, ok := bytes.Cut(line, []byte{':'}); ok && strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			return true
		}
	}
	return false
}

// malformedRequest answers a request the HTTP server could not parse (the
// server's own error handler, which runs before any route). The answer
// names the request id and a short reason but never repeats the request:
// the parser's message quotes the raw head, Authorization and Cookie
// included. The server closes the connection after it.
func (s *Server) malformedRequest(ctx *fasthttp.RequestCtx, err error) {
	id := s.ids.next()
	status, reason := fiber.StatusBadRequest, parseFailure(err)
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &small):
		status, reason = fiber.StatusRequestHeaderFieldsTooLarge, "request headers too large"
	case errors.As(err, &netErr) && netErr.Timeout(), strings.Contains(err.Error(), "timeout"):
		status, reason = fiber.StatusRequestTimeout, "request not received in time"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, reason = fiber.StatusRequestEntityTooLarge, "request body too large"
	}
	s.log.Warn("malformed request", "request_id", id, "remote", ctx.RemoteAddr().String(), "status", status, "reason", reason)
	body, _ := json.Marshal(problem(status, errorBody{Error: "malformed request: " + reason, RequestID: id}))
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.Response.Header.Set(HeaderRequestID, id)
	ctx.SetContentType(ProblemContentType)
	ctx.SetBody(body)
	ctx.SetConnectionClose()
}

// parseFailure shortens a parser error to its reason: the parser quotes
// the bytes it read (the whole request head) after the reason.
func parseFailure(err error) string {
	msg := strings.TrimPrefix(err.Error(), "error when reading request headers: ")
	for _, cut := range []string{"\"", "buffer size=", "Buffer size="} {
		if i := strings.Index(msg, cut); i >= 0 {
			msg = msg[:i]
		}
	}
	msg = strings.TrimRight(msg, " .:,;")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	if msg == "" || !utf8.ValidString(msg) {
		return "unreadable request"
	}
	return msg
}

// requestIDKey keys the request id in a request's context (UserContext),
// where RequestIDLogs finds it.
type requestIDKey struct{}

// RequestIDLogs wraps a log handler so that every record logged with a
// request's context (the engine's, through c.UserContext()) carries that
// request's request_id, the id its answer names in X-Request-Id.
func RequestIDLogs(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
