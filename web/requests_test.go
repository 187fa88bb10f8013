package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/internal/testlog"
)

// panicky is a handler with a bug: it starts an answer, then panics with
// a detail that must stay in the log.
func panicky(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlain)
	_, _ = c.WriteString("half an answer")
	panic("kaboom: internal detail")
}

func TestHandlerPanicIsA500WithRequestID(t *testing.T) {
	f := newFixture(t, engine.Config{})
	logs := &testlog.Buffer{}
	srv := New(f.eng, f.acc, Config{Logger: slog.New(slog.NewJSONHandler(logs, nil)), testRoutes: func(s *Server) {
		s.app.Get("/api/panic", s.requireToken, panicky)
		s.app.Post("/hooks/panic", panicky)
		// A UI page (its session guard left out: a password check costs
		// seconds under -race, and the session plays no part here).
		s.app.Get("/flows/panic", s.page(panicky))
	}})
	f.srv = srv
	b := newBrowser(t, srv)

	seen := map[string]bool{}
	for _, tc := range []struct {
		method, path string
		json         bool
	}{
		{"GET", "/api/panic", true},
		{"POST", "/hooks/panic", true},
		{"GET", "/flows/panic", false},
	} {
		var resp *http.Response
		var body string
		if tc.json {
			resp, body = f.do(t, tc.method, tc.path, "application/json", "{}")
		} else {
			resp, body = b.do(tc.method, tc.path, nil)
		}
		id := resp.Header.Get(HeaderRequestID)
		if resp.StatusCode != 500 || id == "" || seen[id] {
			t.Fatalf("%s %s: %d, request id %q (seen before: %v)", tc.method, tc.path, resp.StatusCode, id, seen[id])
		}
		seen[id] = true
		if strings.Contains(body, "kaboom") || strings.Contains(body, "goroutine") || strings.Contains(body, "half an answer") {
			t.Errorf("%s: the answer shows the panic or the partial answer: %s", tc.path, body)
		}
		if !strings.Contains(body, id) {
			t.Errorf("%s: the answer does not name the request id %s: %s", tc.path, id, body)
		}
		if tc.json {
			var eb errorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.RequestID != id || !strings.HasPrefix(eb.Error, "internal error") {
				t.Errorf("%s: want JSON {error, request_id}: %s (%v)", tc.path, body, err)
			}
		} else if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Something went wrong") {
			t.Errorf("%s: want an HTML page: %q %s", tc.path, resp.Header.Get("Content-Type"), body)
		}
		// The log has the detail and the stack, under the same id.
		var found bool
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"request_id":"`+id+`"`) && strings.Contains(line, "kaboom: internal detail") &&
				strings.Contains(line, "requests_test.go") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no log line with the panic, its stack and request id %s:\n%s", tc.path, id, logs.String())
		}
	}
	// The server lives on.
	if r, _ := f.do(t, "GET", "/healthz", "", ""); r.StatusCode != 200 {
		t.Fatalf("after the panics: healthz %d", r.StatusCode)
	}
}

func TestEveryAnswerCarriesARequestID(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := newBrowser(t, f.srv)
	ids := map[string]bool{}
	for _, path := range []string{"/healthz", "/api/flows", "/api/nope", "/hooks/nope", "/flows", "/nope", "/static/app.js", "/setup", "/login"} {
		r, _ := b.do("GET", path, nil)
		id := r.Header.Get(HeaderRequestID)
		if id == "" || ids[id] {
			t.Errorf("GET %s (%d): request id %q", path, r.StatusCode, id)
		}
		ids[id] = true
	}
}
