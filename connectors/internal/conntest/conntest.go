// Package conntest is what connector tests share: an HTTP client the
// egress guard lets reach httptest servers, a server standing in for a
// remote service that records every request, canned answers, and a way to
// run a registered connector once as the engine would.
package conntest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
)

// Client is an egress-guarded HTTP client that may reach 127.0.0.1, where
// httptest servers listen; the guard refuses loopback otherwise.
var Client = egress.NewClient(egress.MustParseAllow("127.0.0.1/32"))

// Request is one request as a Server received it.
type Request struct {
	Method string
	// Path is the decoded path, EscapedPath the path as sent.
	Path, EscapedPath string
	RawQuery          string
	// RequestURI is the request target as sent: escaped path and query.
	RequestURI string
	Header     http.Header
	Body       string
}

// Server is an httptest server that records every request and answers
// with a handler.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Request
}

// NewServer starts a Server, closed when the test ends. handle answers
// every request; nil answers 200 with no body.
func NewServer(t testing.TB, handle http.HandlerFunc) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{
			Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			RequestURI: r.RequestURI, Header: r.Header.Clone(), Body: string(body),
		})
		s.mu.Unlock()
		if handle != nil {
			handle(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count returns how many requests the server received.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// Only returns the one request the server received, failing the test
// when it received another number.
func (s *Server) Only(t testing.TB) Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(s.reqs))
	}
	return s.reqs[0]
}

// Reply answers with status and body. header holds name, value pairs
// set first; contentType, unless empty, is set after them.
func Reply(status int, contentType, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// Execute looks up the connector registered as id and runs it once with
// in; in.HTTP defaults to Client.
func Execute(t testing.TB, id string, in connectors.Input) (connectors.Result, error) {
	t.Helper()
	c, err := connectors.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	if in.HTTP == nil {
		in.HTTP = Client
	}
	return c.Execute(context.Background(), in)
}

// NoSecret fails the test when secret shows in err or in the JSON of
// res.Output.
func NoSecret(t testing.TB, secret string, res connectors.Result, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("error holds the secret: %v", err)
	}
	b, _ := json.Marshal(res.Output)
	if strings.Contains(string(b), secret) {
		t.Errorf("output holds the secret: %s", b)
	}
}

// StepError returns err as a *connectors.StepError, failing the test when
// it is none.
func StepError(t testing.TB, err error) *connectors.StepError {
	t.Helper()
	var se *connectors.StepError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a StepError", err, err)
	}
	return se
}

// TestConnection runs the registered tester of a connection type once, as
// the engine does, and fails the test when a message or error holds one of
// the secrets.
func TestConnection(t testing.TB, typ string, values map[string]string, url string, secrets ...string) (string, error) {
	t.Helper()
	tester, ok, _ := connectors.LookupTester(typ)
	if !ok {
		t.Fatalf("no tester registered for connection type %q", typ)
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectors.TestTimeout)
	defer cancel()
	msg, err := tester.TestConnection(ctx, connectors.TestInput{Values: values, URL: url, HTTP: Client,
		Dial: egress.MustParseAllow("127.0.0.1/32").Dialer().DialContext})
	text := msg
	if err != nil {
		text = err.Error()
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("connection test of %s shows a secret: %q", typ, text)
		}
	}
	return msg, err
}
