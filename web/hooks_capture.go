package web

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// The builder's "Listen for test event": while a user listens, the next
// request to /hooks-test/{path} is captured and shown as the flow's
// sample. The test URL works for a flow not saved yet (the path comes
// from the builder's form), it is read exactly like a real webhook
// (readHookBody: size limit, encodings, media type, JSON depth), and it
// never starts a run nor stores an event: a capture lives in memory only.
const (
	// listenFor is how long one "Listen for test event" waits.
	listenFor = 2 * time.Minute
	// waitSlice bounds one long-poll of the builder (it asks again).
	waitSlice = 20 * time.Second
	// keepCaptured is how long a capture stays readable after it ended,
	// so a builder swapped meanwhile still finds it.
	keepCaptured = time.Minute
	// maxCaptures bounds the listens held at once across all users.
	maxCaptures = 64
)

// capture is one "Listen for test event".
type capture struct {
	ID       string
	Path     string
	Methods  []string
	MaxBody  int64
	Deadline time.Time
	// done is closed when the capture ends: an event arrived or the user
	// canceled. Event and canceled are read under the hub's lock.
	done     chan struct{}
	event    *engine.Event
	canceled bool
}

// captureHub holds the listens in progress.
type captureHub struct {
	mu sync.Mutex
	m  map[string]*capture
}

// captureState is what a listen has come to.
type captureState int

const (
	captureListening captureState = iota
	captureReceived
	captureCanceled
	captureExpired
)

// listen starts waiting for the next test request to path; it fails when
// too many listens are open.
func (h *captureHub) listen(path string, methods []string, maxBody int64, now time.Time) (*capture, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]*capture{}
	}
	for id, c := range h.m {
		if now.After(c.Deadline.Add(keepCaptured)) {
			delete(h.m, id)
		}
	}
	if len(h.m) >= maxCaptures {
		return nil, errStatus(fiber.StatusTooManyRequests, "too many people are listening for test events right now; try again in a minute")
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	c := &capture{ID: hex.EncodeToString(b[:]), Path: path, Methods: methods, MaxBody: maxBody,
		Deadline: now.Add(listenFor), done: make(chan struct{})}
	h.m[c.ID] = c
	return c, nil
}

// get finds a listen by id (nil: unknown or long gone).
func (h *captureHub) get(id string) *capture {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[id]
}

// state reports what a listen has come to and, once received, the event.
func (h *captureHub) state(c *capture, now time.Time) (captureState, *engine.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case c.event != nil:
		return captureReceived, c.event
	case c.canceled:
		return captureCanceled, nil
	case now.After(c.Deadline):
		return captureExpired, nil
	}
	return captureListening, nil
}

// cancel ends a listen without an event.
func (h *captureHub) cancel(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.m[id]; c != nil && c.event == nil && !c.canceled {
		c.canceled = true
		close(c.done)
	}
}

// listening lists the open listens on path.
func (h *captureHub) listening(path string, now time.Time) []*capture {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*capture
	for _, c := range h.m {
		if c.Path == path && c.event == nil && !c.canceled && !now.After(c.Deadline) {
			out = append(out, c)
		}
	}
	return out
}

// deliver hands ev to the given listens still open; it reports how many
// took it.
func (h *captureHub) deliver(caps []*capture, ev *engine.Event, now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range caps {
		if c.event == nil && !c.canceled && !now.After(c.Deadline) {
			c.event = ev
			close(c.done)
			n++
		}
	}
	return n
}

// hookTest is the test URL /hooks-test/{path}: a request is read like a
// webhook and handed to the builders listening on that path; it starts no
// run and is not stored. Signatures are not checked (the flow and its
// secret may not be saved yet); the answer says the request was captured.
func (s *Server) hookTest(c *fiber.Ctx) error {
	path := strings.Trim(c.Params("*"), "/")
	now := time.Now()
	caps := s.captures.listening(path, now)
	if len(caps) == 0 {
		return errStatus(fiber.StatusNotFound, "nobody is listening for a test event on /hooks-test/%s: press \"Listen for test event\" in the flow's builder first", path)
	}
	var methods []string
	limit := int64(0)
	for _, cp := range caps {
		methods = append(methods, cp.Methods...)
		limit = max(limit, cp.MaxBody)
	}
	if len(methods) > 0 && !slices.ContainsFunc(methods, func(m string) bool { return strings.EqualFold(m, c.Method()) }) {
		c.Set(fiber.HeaderAllow, strings.Join(methods, ", "))
		return errStatus(fiber.StatusMethodNotAllowed, "method %s not allowed on /hooks-test/%s", c.Method(), path)
	}
	body, contentType, err := readHookBody(c, limit)
	if err != nil {
		return err
	}
	ev := &engine.Event{
		Source:      flows.TriggerWebhook,
		Method:      c.Method(),
		Path:        path,
		Headers:     requestHeaders(c, nil),
		Query:       requestQuery(c, nil),
		RemoteAddr:  c.IP(),
		ContentType: contentType,
		Body:        body,
		ReceivedAt:  now.UTC(),
	}
	if s.captures.deliver(caps, ev, now) == 0 {
		return errStatus(fiber.StatusNotFound, "the listen on /hooks-test/%s ended before the request arrived", path)
	}
	s.log.Info("test event captured", "path", path, "request_id", requestIDOf(c))
	return c.Status(fiber.StatusOK).JSON(fiber.Map{"captured": true,
		"message": "Test event received: the builder shows it as the flow's sample. No run was started."})
}

// isHookPath reports whether a path is webhook ingress, real or test:
// such requests get the webhook's headers, body limit and JSON errors.
func isHookPath(path string) bool {
	return strings.HasPrefix(path, "/hooks/") || strings.HasPrefix(path, "/hooks-test/")
}
