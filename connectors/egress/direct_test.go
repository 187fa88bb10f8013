package egress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seen is what a test server received of one request.
type seen struct {
	Method, URI, Host, Body string
	Header                  http.Header
}

// recorder is an httptest server that records every request it answers.
type recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []seen
}

// newRecorder starts a recorder that answers with answer (nil: 202 and a
// short body) and closes connections idle for longer than idle (0: never).
func newRecorder(t *testing.T, answer http.HandlerFunc, idle time.Duration) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, seen{req.Method, req.RequestURI, req.Host, string(b), req.Header.Clone()})
		r.mu.Unlock()
		if answer != nil {
			answer(w, req)
			return
		}
		w.Header().Set("X-Answer", "yes")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "answered "+req.Method)
	}))
	r.Config.IdleTimeout = idle
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.got...)
}

// loopback allows the test servers (and nothing else).
var loopback = MustParseAllow("127.0.0.1/32")

func newTestRequest(t *testing.T, ctx context.Context, method, url, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestDirectSendsWhatNetHTTPSends: a plain-HTTP request through the direct
// transport reaches the server as the same request through net/http's
// Transport: method, target, Host, headers (several values, credentials
// from the URL, Connection: close) and body; and the answer reads the
// same, whether its length is announced, chunked or that of a HEAD.
func TestDirectSendsWhatNetHTTPSends(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Answer", "yes")
		w.Header().Add("X-Many", "a")
		w.Header().Add("X-Many", "b")
		if r.URL.Query().Get("chunked") != "" {
			io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "answered "+r.Method)
	}, 0)
	build := func(method, query string) *http.Request {
		url := strings.Replace(srv.URL, "http://", "http://ann:s%20cret@", 1) + "/a/b%2Fc?x=1&y=%20z" + query
		body := ""
		if method == http.MethodPost {
			body = `{"order":"o-1"}`
		}
		req := newTestRequest(t, context.Background(), method, url, body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("X-Many", "one")
		req.Header.Add("X-Many", "two")
		req.Header.Set("User-Agent", "switchyard-test")
		req.Host = "api.example.test"
		if method == http.MethodHead {
			req.Header.Set("Connection", "close") // and the connection goes after the answer
		}
		return req
	}
	direct := &http.Client{Transport: newDirectTransport(loopback)}
	std := &http.Client{Transport: &http.Transport{DialContext: loopback.Dialer().DialContext}}
	for _, tc := range []struct{ method, query string }{{http.MethodPost, ""}, {http.MethodGet, "&chunked=1"}, {http.MethodHead, ""}} {
		var answers []string
		var headers []http.Header
		for _, c := range []*http.Client{direct, std} {
			resp, err := c.Do(build(tc.method, tc.query))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers = append(answers, fmt.Sprint(resp.Status, " ", resp.ContentLength, " ", resp.TransferEncoding, " ", string(b)))
			resp.Header.Del("Date") // the second may differ
			headers = append(headers, resp.Header)
		}
		if answers[0] != answers[1] {
			t.Errorf("%s%s: answers differ:\ndirect:   %s\nnet/http: %s", tc.method, tc.query, answers[0], answers[1])
		}
		if !maps.EqualFunc(headers[0], headers[1], slices.Equal) {
			t.Errorf("%s%s: answer headers differ:\ndirect:   %v\nnet/http: %v", tc.method, tc.query, headers[0], headers[1])
		}
		got := srv.requests()
		d, s := got[len(got)-2], got[len(got)-1]
		// net/http asks for gzip and decodes it itself; direct asks for
		// nothing, so the answer needs no decoding either.
		s.Header.Del("Accept-Encoding")
		if d.Method != s.Method || d.URI != s.URI || d.Host != s.Host || d.Body != s.Body {
			t.Errorf("%s%s: request lines differ:\ndirect:   %+v\nnet/http: %+v", tc.method, tc.query, d, s)
		}
		if !maps.EqualFunc(d.Header, s.Header, slices.Equal) {
			t.Errorf("%s%s: request headers differ:\ndirect:   %v\nnet/http: %v", tc.method, tc.query, d.Header, s.Header)
		}
	}
}

// TestDirectPostAfterServerClosedIdle: the server closes kept-alive
// connections while they are idle (Node.js does after 5 s), all of them.
// The next POST must go out, once, on a new connection, instead of failing
// on a dead one (fasthttp retries no POST by itself) or giving up after
// trying a few of the pool's dead ones.
func TestDirectPostAfterServerClosedIdle(t *testing.T) {
	const pooled = 40
	var inFlight sync.WaitGroup
	inFlight.Add(pooled)
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fill" {
			inFlight.Done()
			inFlight.Wait() // every fill request holds its own connection
		}
		w.WriteHeader(http.StatusAccepted)
	}, 50*time.Millisecond)
	c := &http.Client{Transport: newDirectTransport(loopback)}
	post := func(path string) error {
		resp, err := c.Do(newTestRequest(t, context.Background(), http.MethodPost, srv.URL+path, "n"))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	errs := make(chan error, pooled)
	for range pooled {
		go func() { errs <- post("/fill") }()
	}
	for range pooled {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		time.Sleep(200 * time.Millisecond) // past the server's idle timeout
		if err := post("/hook"); err != nil {
			t.Fatalf("POST %d after idle: %v", i+1, err)
		}
	}
	if n := len(srv.requests()); n != pooled+3 {
		t.Errorf("server saw %d POSTs, want %d", n, pooled+3)
	}
}

// TestDirectCancelReturnsAtOnce: cancelling a call's context (a shutdown, a
// cancelled run) ends it at once, although fasthttp cannot be
// interrupted.
func TestDirectCancelReturnsAtOnce(t *testing.T) {
	release := make(chan struct{})
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-release }, 0)
	defer close(release)
	c := &http.Client{Transport: newDirectTransport(loopback)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(newTestRequest(t, ctx, http.MethodPost, srv.URL, "x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled call returned after %v", d)
	}
}

// TestDirectDeadlineIsTheContexts: a call that runs out of its context's
// time says so as net/http does (context.DeadlineExceeded), which the
// connectors word as "no complete response within ...".
func TestDirectDeadlineIsTheContexts(t *testing.T) {
	release := make(chan struct{})
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-release }, 0)
	defer close(release)
	c := &http.Client{Transport: newDirectTransport(loopback)}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Do(newTestRequest(t, ctx, http.MethodGet, srv.URL, ""))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// TestDirectRefusesHeaderInjection: a header value or Host that would end
// the header line early is refused before anything is sent, as net/http
// refuses it.
func TestDirectRefusesHeaderInjection(t *testing.T) {
	srv := newRecorder(t, nil, 0)
	c := &http.Client{Transport: newDirectTransport(loopback)}
	cases := map[string]func(*http.Request){
		"value": func(r *http.Request) { r.Header["X-Note"] = []string{"a\r\nX-Evil: 1"} },
		"name":  func(r *http.Request) { r.Header["X-Bad Name"] = []string{"a"} },
		"host":  func(r *http.Request) { r.Host = "ok.test\r\nX-Evil: 1" },
	}
	for name, spoil := range cases {
		req := newTestRequest(t, context.Background(), http.MethodPost, srv.URL, "x")
		spoil(req)
		if _, err := c.Do(req); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%s: err = %v, want an invalid header refused", name, err)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

// TestDirectBodyOverLimit: an answer longer than MaxResponseBody fails
// with ErrResponseTooLarge; one of exactly the limit is read whole.
func TestDirectBodyOverLimit(t *testing.T) {
	var size atomic.Int64
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("a"), int(size.Load())))
	}, 0)
	c := &http.Client{Transport: newDirectTransport(loopback)}
	size.Store(MaxResponseBody)
	resp, err := c.Do(newTestRequest(t, context.Background(), http.MethodGet, srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); len(b) != MaxResponseBody {
		t.Errorf("read %d bytes, want %d", len(b), MaxResponseBody)
	}
	size.Store(MaxResponseBody + 1)
	_, err = c.Do(newTestRequest(t, context.Background(), http.MethodGet, srv.URL, ""))
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}
}
