package connectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/connectors/egress"
)

func TestFromHTTPResponse(t *testing.T) {
	future := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	tests := []struct {
		status     int
		retryAfter string
		body       string
		wantNil    bool
		retryable  bool
		minAfter   time.Duration
		maxAfter   time.Duration
		msg        string
	}{
		{status: 200, wantNil: true},
		{status: 204, wantNil: true},
		{status: 299, wantNil: true},
		{status: 400, body: `{"error":"bad"}`, msg: `http.request: POST https://x/y: 400 Bad Request: {"error":"bad"}`},
		{status: 401, msg: "http.request: POST https://x/y: 401 Unauthorized"},
		{status: 404, body: "  not\n\n found\t", msg: "http.request: POST https://x/y: 404 Not Found: not found"},
		{status: 422, body: "x", msg: "422 Unprocessable Entity: x"},
		{status: 301, msg: "301 Moved Permanently"},
		{status: 304, msg: "304 Not Modified"},
		{status: 199, msg: "199"},
		{status: 429, retryAfter: "7", retryable: true, minAfter: 7 * time.Second, maxAfter: 7 * time.Second, msg: "429 Too Many Requests"},
		{status: 429, retryAfter: future, retryable: true, minAfter: 118 * time.Second, maxAfter: 120 * time.Second},
		{status: 429, retryAfter: "86400", retryable: true, minAfter: time.Hour, maxAfter: time.Hour},
		{status: 429, retryable: true},
		{status: 500, body: "<h1>oops</h1>", retryable: true, msg: "500 Internal Server Error: <h1>oops</h1>"},
		{status: 502, retryable: true},
		{status: 503, retryAfter: "3", retryable: true, minAfter: 3 * time.Second, maxAfter: 3 * time.Second},
		{status: 599, retryable: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.retryAfter), func(t *testing.T) {
			h := http.Header{}
			if tt.retryAfter != "" {
				h.Set("Retry-After", tt.retryAfter)
			}
			err := FromHTTPResponse(tt.status, h, []byte(tt.body), "http.request: POST https://x/y")
			if tt.wantNil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var se *StepError
			if !errors.As(err, &se) {
				t.Fatalf("err = %#v, want a *StepError", err)
			}
			if se.Status != tt.status {
				t.Errorf("Status = %d, want %d", se.Status, tt.status)
			}
			retry, after := IsRetryable(err)
			if retry != tt.retryable {
				t.Errorf("retryable = %v, want %v", retry, tt.retryable)
			}
			if after < tt.minAfter || after > tt.maxAfter {
				t.Errorf("RetryAfter = %v, want %v..%v", after, tt.minAfter, tt.maxAfter)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message = %q, want it to contain %q", err, tt.msg)
			}
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != tt.status {
				t.Errorf("no *HTTPError with the status in %v", err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"3599", 3599 * time.Second},
		{"3600", time.Hour},
		{"999999999999999999999999", time.Hour},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sunday, 01-Mar-26 12:01:00 GMT", time.Minute},
		{"Sun Mar  1 12:00:10 2026", 10 * time.Second},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"Mon, 02 Mar 2026 12:00:00 GMT", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ParseRetryAfter(tt.in, now); got != tt.want {
				t.Fatalf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", 400) // 2 bytes each
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"empty", "", 300, ""},
		{"whitespace only", " \n\t ", 300, ""},
		{"collapse", "  a \r\n  b\tc  ", 300, "a b c"},
		{"control", "a\x00\x01b", 300, "a b"},
		{"invalid utf8", "a\xffb", 300, "a\uFFFDb"},
		{"cut", "abcdef", 3, "abc…"},
		{"cut on rune", "aé", 2, "a…"},
		{"zero", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Excerpt([]byte(tt.in), tt.max); got != tt.want {
				t.Fatalf("Excerpt(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
	got := Excerpt([]byte(long), ExcerptLen)
	if !utf8.ValidString(got) || len(strings.TrimSuffix(got, "…")) > ExcerptLen || !strings.HasSuffix(got, "…") {
		t.Errorf("long excerpt = %d bytes %q", len(got), got)
	}
	huge := append([]byte(strings.Repeat(" ", 10000)), 'x')
	if got := Excerpt(huge, 10); got != "…" && got != "" {
		t.Errorf("excerpt of mostly whitespace = %q", got)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestFromTransportError(t *testing.T) {
	refused := &egress.RefusedError{Addr: netip.MustParseAddrPort("127.0.0.1:80"), Reason: "loopback"}
	wrapURL := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://x/y?api_key=SECRET", Err: err}
	}
	dial := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	tests := []struct {
		name      string
		err       error
		retryable bool
	}{
		{"deadline", wrapURL(context.DeadlineExceeded), true},
		{"canceled", wrapURL(context.Canceled), true},
		{"net timeout", wrapURL(dial(timeoutErr{})), true},
		{"refused", wrapURL(dial(os.NewSyscallError("connect", syscall.ECONNREFUSED))), true},
		{"reset", wrapURL(dial(os.NewSyscallError("read", syscall.ECONNRESET))), true},
		{"unreachable", wrapURL(dial(syscall.EHOSTUNREACH)), true},
		{"eof", wrapURL(io.EOF), true},
		{"unexpected eof", io.ErrUnexpectedEOF, true},
		{"dns temporary", wrapURL(dial(&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true})), true},
		{"dns timeout", wrapURL(dial(&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true})), true},
		{"dns not found", wrapURL(dial(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true})), false},
		{"egress", wrapURL(dial(refused)), false},
		{"redirects", wrapURL(fmt.Errorf("egress: redirect: %w", egress.ErrTooManyRedirects)), false},
		{"too large", fmt.Errorf("read: %w", ErrResponseTooLarge), false},
		{"scheme", wrapURL(errors.New("unsupported protocol scheme \"ftp\"")), false},
		{"unknown", errors.New("something odd"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := FromTransportError(tt.err, "http.request: POST https://x/y")
			var se *StepError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *StepError", err)
			}
			if se.Retryable != tt.retryable {
				t.Errorf("retryable = %v, want %v (%v)", se.Retryable, tt.retryable, err)
			}
			if !strings.HasPrefix(err.Error(), "http.request: POST https://x/y: ") {
				t.Errorf("message = %q, want the service first", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("message %q leaks the URL's query", err)
			}
			if !errors.Is(err, tt.err) && !errors.Is(err, errors.Unwrap(tt.err)) {
				t.Errorf("cause lost: %v", err)
			}
		})
	}
	if FromTransportError(nil, "x") != nil {
		t.Error("nil error mapped to non-nil")
	}
	perm := Permanentf("already classified")
	if got := FromTransportError(perm, "x"); got != perm {
		t.Errorf("StepError changed: %v", got)
	}
}

func TestReadBody(t *testing.T) {
	b, err := ReadBody(strings.NewReader("12345"), 5)
	if err != nil || string(b) != "12345" {
		t.Fatalf("ReadBody at limit = %q, %v", b, err)
	}
	_, err = ReadBody(strings.NewReader("123456"), 5)
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("ReadBody over limit err = %v", err)
	}
	_, err = ReadBody(strings.NewReader(strings.Repeat("x", 10<<20+1)), 10<<20)
	if err == nil || !strings.Contains(err.Error(), "10 MiB") {
		t.Fatalf("err = %v, want the limit named", err)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT", "1e3", "\x00"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseRetryAfter(s, now)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, out of [0, %v]", s, d, MaxRetryAfter)
		}
		e := Excerpt([]byte(s), 16)
		if !utf8.ValidString(e) || len(strings.TrimSuffix(e, "…")) > 16 {
			t.Fatalf("Excerpt(%q) = %q", s, e)
		}
	})
}
