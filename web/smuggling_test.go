package web

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// listen serves srv on a loopback port, as `serve` does, until the test
// ends.
func listen(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(time.Second) })
	return ln.Addr().String()
}

// rawExchange writes raw bytes on a fresh connection and reads every
// answer the server gives until it closes the connection. closed is false
// when the server kept the connection open (the read timed out).
func rawExchange(t *testing.T, addr, raw string) (answers []*http.Response, bodies []string, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			return answers, bodies, !(errors.As(err, &ne) && ne.Timeout())
		}
		b, _ := io.ReadAll(resp.Body)
		answers, bodies = append(answers, resp), append(bodies, string(b))
	}
}

// Ambiguous framing is refused with 400 and the connection closed, so a
// request hidden in the body is never answered (RFC 9112 §6.3), and the
// answer to a request the server cannot parse repeats none of it.
func TestRequestSmugglingRefused(t *testing.T) {
	f := newFixture(t, engine.Config{})
	createFlow(t, f, `{"id": "s", "name": "s", "enabled": true, "trigger": {"type": "webhook", "path": "s"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)
	addr := listen(t, f.srv)
	const hidden = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
	const creds = "Authorization: Bearer tok-SECRET-1\r\nCookie: switchyard_session=sess-SECRET-2\r\n"
	for _, tc := range []struct{ name, raw string }{
		{"content-length and chunked", "POST /hooks/s HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"chunked and content-length", "POST /hooks/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n0\r\n\r\n" + hidden},
		{"two content-lengths", "POST /hooks/s HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}" + hidden},
		{"signed content-length", "POST /hooks/s HTTP/1.1\r\nHost: a\r\n" + creds + "Content-Type: application/json\r\nContent-Length: +2\r\n\r\n{}" + hidden},
		{"hex content-length", "POST /hooks/s HTTP/1.1\r\nHost: a\r\n" + creds + "Content-Length: 0x2\r\n\r\n{}" + hidden},
		{"list content-length", "POST /hooks/s HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\n{}" + hidden},
		{"chunked not last", "POST /hooks/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + hidden},
		{"unknown coding", "POST /hooks/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n" + hidden},
		{"two transfer-encodings", "POST /hooks/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"chunked in HTTP/1.0", "POST /hooks/s HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"malformed header with credentials", "GET /api/flows HTTP/1.1\r\nHost: a\r\n" + creds + "Bad Header\r\n\r\n" + hidden},
		{"UI route", "POST /login HTTP/1.1\r\nHost: a\r\n" + creds + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers, bodies, closed := rawExchange(t, addr, tc.raw)
			if len(answers) != 1 || !closed {
				t.Fatalf("want one answer and a closed connection; got %d answers, closed %v: %q", len(answers), closed, bodies)
			}
			r, body := answers[0], bodies[0]
			if r.StatusCode != 400 || !r.Close {
				t.Errorf("status %d, Connection: close %v; want 400 and close: %s", r.StatusCode, r.Close, body)
			}
			if r.Header.Get(HeaderRequestID) == "" {
				t.Error("no request id")
			}
			for _, leak := range []string{"SECRET", "Authorization", "Cookie", "Host:", "POST /", "GET /"} {
				if strings.Contains(body, leak) {
					t.Errorf("the answer echoes the request (%s): %s", leak, body)
				}
			}
		})
	}
	// Nothing above started a run, and a well-formed request on a kept
	// connection is still answered normally.
	if n := len(runsOf(t, f, "s")); n != 0 {
		t.Fatalf("%d runs started by refused requests", n)
	}
	answers, _, _ := rawExchange(t, addr, "POST /hooks/s HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"+hidden)
	if len(answers) != 2 || answers[0].StatusCode != 202 || answers[1].StatusCode != 200 {
		t.Fatalf("pipelined well-formed requests: %d answers", len(answers))
	}
}

func runsOf(t *testing.T, f *fixture, flow string) []engine.RunSummary {
	t.Helper()
	page, err := f.eng.ListRuns(t.Context(), engine.RunFilter{FlowID: flow, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Runs
}
