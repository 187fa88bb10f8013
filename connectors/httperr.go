package connectors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchyard/switchyard/connectors/egress"
)

// MaxRetryAfter caps the delay a remote may ask for with Retry-After.
const MaxRetryAfter = time.Hour

// ExcerptLen is how many bytes of a response body an error message quotes.
const ExcerptLen = 300

// ErrResponseTooLarge is returned by ReadBody when a body exceeds its limit.
// It is egress's error, which a plain-HTTP call reading more than any
// connector's limit returns.
var ErrResponseTooLarge = egress.ErrResponseTooLarge

// HTTPError is a non-2xx answer from a remote service. FromHTTPResponse
// wraps it in a StepError.
type HTTPError struct {
	// Service names the call, e.g. "http.request: POST https://x/y" or
	// "slack.post_message: chat.postMessage".
	Service string
	// Status is the HTTP status code.
	Status int
	// Excerpt is the start of the body, whitespace collapsed (see Excerpt).
	Excerpt string
}

// Error implements error: `<service>: 400 Bad Request: <excerpt>`.
func (e *HTTPError) Error() string {
	var b strings.Builder
	if e.Service != "" {
		b.WriteString(e.Service)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.Status))
	if text := http.StatusText(e.Status); text != "" {
		b.WriteByte(' ')
		b.WriteString(text)
	}
	if e.Excerpt != "" {
		b.WriteString(": ")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

// FromHTTPResponse maps an HTTP answer to a step error: nil for 2xx;
// retryable for 429 and 5xx, honouring Retry-After (seconds or HTTP-date,
// capped at MaxRetryAfter); permanent for everything else (4xx, and 1xx/3xx
// a client did not handle). The error is a *StepError with Status set that
// wraps an *HTTPError; its message names service, the status and an excerpt
// of body, e.g. `http.request: POST https://x/y: 400 Bad Request: {"error":"bad"}`.
func FromHTTPResponse(status int, header http.Header, body []byte, service string) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	herr := &HTTPError{Service: service, Status: status, Excerpt: Excerpt(body, ExcerptLen)}
	if status == http.StatusTooManyRequests || status >= 500 && status <= 599 {
		return &StepError{
			Retryable:  true,
			RetryAfter: ParseRetryAfter(header.Get("Retry-After"), time.Now()),
			Status:     status,
			Err:        herr,
		}
	}
	return &StepError{Status: status, Err: herr}
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date.
// It returns 0 for an empty, malformed or past value and caps the result at
// MaxRetryAfter.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if isDigits(value) {
		secs, err := strconv.ParseUint(value, 10, 64)
		if err != nil || secs >= uint64(MaxRetryAfter/time.Second) {
			// Only overflow makes ParseUint fail on digits.
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Excerpt returns the start of body for an error message: at most max
// bytes of valid UTF-8, control characters and runs of whitespace collapsed
// to one space, with "…" appended when cut.
func Excerpt(body []byte, max int) string {
	if max <= 0 {
		return ""
	}
	// Look at a bounded prefix only; collapsing can only shrink it.
	scan := body
	if limit := 4 * max; len(scan) > limit {
		scan = scan[:limit]
	}
	var b strings.Builder
	space := false
	cut := len(scan) < len(body)
	for len(scan) > 0 {
		r, size := utf8.DecodeRune(scan)
		scan = scan[size:]
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		n := utf8.RuneLen(r)
		extra := 0
		if space {
			extra = 1
		}
		if b.Len()+extra+n > max {
			cut = true
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if cut && b.Len() > 0 {
		b.WriteString("…")
	}
	return b.String()
}

// FromTransportError maps an error from http.Client.Do (or from reading a
// response body) to a step error whose message starts with service.
// Timeouts, connection refused/reset/aborted, unreachable networks,
// unexpected EOFs and temporary DNS failures are retryable; egress
// refusals, redirect loops, unknown hosts, bad URLs and TLS certificate
// failures are permanent. Unrecognised errors are retryable. A nil err
// gives nil, and a *StepError is returned unchanged.
func FromTransportError(err error, service string) error {
	if err == nil {
		return nil
	}
	var se *StepError
	if errors.As(err, &se) {
		return err
	}
	inner := err
	// url.Error repeats the method and full URL (with its query, which may
	// hold secrets); service already names the call.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		inner = uerr.Err
	}
	wrapped := fmt.Errorf("%s: %w", service, inner)
	if service == "" {
		wrapped = inner
	}
	if transportPermanent(err) {
		return &StepError{Err: wrapped}
	}
	return &StepError{Retryable: true, Err: wrapped}
}

func transportPermanent(err error) bool {
	if errors.Is(err, egress.ErrRefused) || errors.Is(err, egress.ErrTooManyRedirects) ||
		errors.Is(err, ErrResponseTooLarge) {
		return true
	}
	if isTimeout(err) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsNotFound && !dnsErr.IsTemporary && !dnsErr.IsTimeout
	}
	for _, retry := range []error{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN, syscall.ETIMEDOUT,
		io.ErrUnexpectedEOF, io.EOF, context.Canceled,
	} {
		if errors.Is(err, retry) {
			return false
		}
	}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		certInvalid x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &certInvalid) ||
		errors.As(err, &verifyErr) || errors.As(err, &recordErr) {
		return true
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && strings.Contains(uerr.Err.Error(), "unsupported protocol scheme") {
		return true
	}
	return false
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// ReadBody reads r to the end but at most limit bytes; a longer body gives
// an error matching ErrResponseTooLarge (permanent when passed through
// FromTransportError).
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("read response body: %w: over %s", ErrResponseTooLarge, byteSize(limit))
	}
	return body, nil
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
