package egress

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"
)

// MaxResponseBody is the largest response body a plain-HTTP call reads
// before it fails with ErrResponseTooLarge: the largest limit any
// connector sets. A connector's own smaller limit is applied to what was
// read (connectors.ReadBody).
const MaxResponseBody = 10 << 20

// ErrResponseTooLarge matches an answer whose body is over the limit.
var ErrResponseTooLarge = errors.New("response body too large")

// directTransport sends plain-HTTP requests with fasthttp on the calling
// goroutine's side of a single hand-off. net/http's Transport gives every
// request to a writer goroutine and every answer back from a reader
// goroutine; with Switchyard pinned to one CPU those hand-offs, their
// wake-ups and net/http's per-request allocations cost about a fifth of a
// W1 request's CPU (issue 16, docs/benchmarks.md). HTTPS stays on
// net/http, for HTTP/2 and its TLS handling.
//
// http.Client still drives it, so redirects, their checks and the
// stripping of credentials across hosts are unchanged; the policy's dialer
// checks every address, as for net/http.
type directTransport struct {
	client *fasthttp.Client
}

// directReadBuffer bounds a response's header block, as net/http's
// MaxResponseHeaderBytes does; readers are pooled, so only requests in
// flight hold one.
const directReadBuffer = 64 << 10

// directMaxConns bounds the connections to one host.
const directMaxConns = 1024

// directAttempts bounds the tries of one request. A try refused because
// its kept-alive connection turned out closed (errStaleConn) sent nothing
// and is tried again on another; a server that closes idle connections
// closes all of them, so every pooled connection may be found closed in
// turn (each is dropped as it is) before a new one is dialled.
const directAttempts = directMaxConns + 2

func newDirectTransport(p *Policy) *directTransport {
	base := p.Dialer()
	return &directTransport{client: &fasthttp.Client{
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			d := *base
			if timeout > 0 && timeout < d.Timeout {
				d.Timeout = timeout
			}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return newLiveConn(c), nil
		},
		MaxConnsPerHost:               directMaxConns,
		MaxConnWaitTimeout:            ResponseHeaderTimeout,
		MaxIdleConnDuration:           IdleConnTimeout,
		MaxResponseBodySize:           MaxResponseBody,
		ReadBufferSize:                directReadBuffer,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		MaxIdemponentCallAttempts:     directAttempts,
		RetryIfErr:                    retryDirect,
	}}
}

// retryDirect says which failed tries fasthttp makes again: one that sent
// nothing, always; else, once, a request net/http would replay too (a
// safe method or one with an idempotency key) when it did not run out of
// time or read too much.
func retryDirect(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if errors.Is(err, errStaleConn) {
		return false, true
	}
	// attempts counts the stale tries too: after those, a failure that may
	// have reached the server is not tried again.
	if attempts > 1 || errors.Is(err, fasthttp.ErrBodyTooLarge) || errors.Is(err, fasthttp.ErrTimeout) {
		return false, false
	}
	switch string(req.Header.Method()) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false, true
	}
	return false, len(req.Header.Peek("Idempotency-Key")) > 0 || len(req.Header.Peek("X-Idempotency-Key")) > 0
}

// excludedHeaders are written by the transport itself, as net/http does.
var excludedHeaders = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Trailer": true}

// RoundTrip implements http.RoundTripper.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := requestBody(req)
	if err != nil {
		return nil, err
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if err := checkHeaders(host, req.Header); err != nil {
		return nil, err
	}
	freq := fasthttp.AcquireRequest()
	freq.Header.DisableNormalizing()
	freq.Header.SetNoDefaultContentType(true)
	for k, vs := range req.Header {
		for _, v := range vs {
			if !excludedHeaders[k] {
				freq.Header.Add(k, v)
			}
		}
	}
	freq.SetRequestURI("http://" + req.URL.Host + req.URL.RequestURI())
	freq.Header.SetMethod(req.Method)
	freq.UseHostHeader = true
	freq.Header.SetHost(host)
	if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
		// As net/http does for credentials in the URL.
		pass, _ := u.Password()
		freq.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pass)))
	}
	if body != nil || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		freq.SetBody(body)
	}
	if req.Close {
		freq.SetConnectionClose()
	}
	deadline := time.Now().Add(ResponseHeaderTimeout)
	ctx := req.Context()
	ctxDeadline := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	// fasthttp cannot be interrupted: the call runs on its own goroutine,
	// so that a cancelled step (a shutdown, a cancelled run) returns at
	// once; the abandoned call ends by its deadline, and its request and
	// response are left to the collector instead of their pools.
	fresp := fasthttp.AcquireResponse()
	done := make(chan error, 1)
	go func() { done <- t.client.DoDeadline(freq, fresp, deadline) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer fasthttp.ReleaseRequest(freq)
	defer fasthttp.ReleaseResponse(fresp)
	if err != nil {
		if ctxDeadline && errors.Is(err, fasthttp.ErrTimeout) {
			// fasthttp gave up at the context's deadline, perhaps just
			// before the context's timer fired; callers tell a step's
			// timeout by ctx.Err().
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, directError(err)
	}
	return responseOf(req, fresp), nil
}

// checkHeaders refuses what net/http's Transport refuses before sending:
// a CR or LF in a header or the Host would end it early, and fasthttp
// writes what it is given.
func checkHeaders(host string, h http.Header) error {
	if !httpguts.ValidHostHeader(host) {
		return fmt.Errorf("egress: invalid Host header %q", host)
	}
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("egress: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("egress: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// requestBody reads and closes req's body (nil when it has none).
func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("egress: read request body: %w", err)
	}
	return b, nil
}

// responseOf copies fresp, which goes back to its pool, into an
// http.Response for req.
func responseOf(req *http.Request, fresp *fasthttp.Response) *http.Response {
	code := fresp.StatusCode()
	body := bytes.Clone(fresp.Body()) // fresp goes back to its pool
	resp := &http.Response{
		Status:     strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode: code,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        make(http.Header, fresp.Header.Len()),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Close:         fresp.ConnectionClose(),
		Request:       req,
	}
	// The framing reads as net/http gives it: a chunked answer's length
	// unknown, a HEAD's the one announced.
	switch n := fresp.Header.ContentLength(); {
	case n == -1:
		resp.ContentLength, resp.TransferEncoding = -1, []string{"chunked"}
	case n < 0:
		resp.ContentLength = -1
	case req.Method == http.MethodHead:
		resp.ContentLength = int64(n)
	}
	for k, v := range fresp.Header.All() {
		name, value := string(k), string(v)
		// net/http takes these two out: the framing, and a Connection
		// that only says close (resp.Close tells it).
		if strings.EqualFold(name, "Transfer-Encoding") || strings.EqualFold(name, "Connection") && strings.EqualFold(value, "close") {
			continue
		}
		resp.Header.Add(name, value)
	}
	return resp
}

// directError words fasthttp's errors as net/http's would read, so that
// connectors.FromTransportError classifies them the same way.
func directError(err error) error {
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fmt.Errorf("read response body: %w: over %d MiB", ErrResponseTooLarge, MaxResponseBody>>20)
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return fmt.Errorf("no answer in time: %w", os.ErrDeadlineExceeded)
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF):
		return fmt.Errorf("the server closed the connection before answering: %w", io.ErrUnexpectedEOF)
	case errors.Is(err, errStaleConn):
		return fmt.Errorf("every kept-alive connection was closed by the server: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// errStaleConn is a write refused because the kept-alive connection
// was closed by the server while idle: nothing was sent.
var errStaleConn = errors.New("egress: kept-alive connection closed by the server")

// liveConn checks, before a request goes out on a connection used before,
// that the server has not closed it meanwhile. net/http's reader goroutine
// notices that while the connection is idle; fasthttp has none, so without
// the check a POST after the server's keep-alive timeout (5 s in Node.js)
// would fail instead of going out on a new connection.
type liveConn struct {
	net.Conn
	raw syscall.RawConn
	// reused is set once an answer was read: the next write starts a
	// request on a kept-alive connection. Only the goroutine doing the
	// call reads and writes the connection.
	reused bool
}

func newLiveConn(c net.Conn) *liveConn {
	lc := &liveConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			lc.raw = raw
		}
	}
	return lc
}

func (c *liveConn) Read(b []byte) (int, error) {
	c.reused = true
	return c.Conn.Read(b)
}

func (c *liveConn) Write(b []byte) (int, error) {
	if c.reused {
		c.reused = false
		if c.raw != nil && !idleOpen(c.raw) {
			return 0, errStaleConn
		}
	}
	return c.Conn.Write(b)
}
