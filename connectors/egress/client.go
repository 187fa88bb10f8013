package egress

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Transport limits. Each request should still carry its own deadline
// (context); these bound the phases a deadline-less request could hang in.
const (
	DialTimeout         = 10 * time.Second
	TLSHandshakeTimeout = 10 * time.Second
	// As long as the longest step timeout http.request allows, so the
	// step's own deadline is what ends a slow answer.
	ResponseHeaderTimeout = 5 * time.Minute
	IdleConnTimeout       = 90 * time.Second
	MaxIdleConns          = 256
	MaxIdleConnsPerHost   = 64
	// MaxRedirects is how many redirects a client follows.
	MaxRedirects = 10
)

// Control is a net.Dialer Control function enforcing p: it refuses the
// connection when the address about to be dialled (an IP, after DNS
// resolution) is internal and not allowed. It runs after the socket is
// created and before connect, so a refused address sees no packet.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Target: address, Reason: "unparseable dial address"}
	}
	return p.Check(ap)
}

// Dialer returns a net.Dialer that enforces p on every connection.
func (p *Policy) Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   DialTimeout,
		KeepAlive: 30 * time.Second,
		Control:   p.Control,
	}
}

// NewTransport returns an http.RoundTripper that enforces p: it refuses
// non-http(s) URLs and non-canonical numeric hosts before doing anything,
// and refuses internal addresses at dial time. Proxies from the environment
// are ignored, since a proxy would dial on the client's behalf and bypass
// the check.
func NewTransport(p *Policy) http.RoundTripper {
	return &transport{direct: newDirectTransport(p), base: &http.Transport{
		Proxy:                 nil,
		DialContext:           p.Dialer().DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          MaxIdleConns,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       IdleConnTimeout,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ResponseHeaderTimeout: ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}}
}

// NewClient returns an http.Client that enforces p on every request and
// redirect (see NewTransport) and follows at most MaxRedirects redirects.
// It sets no overall timeout: callers give each request a context deadline.
func NewClient(p *Policy) *http.Client {
	return &http.Client{
		Transport:     NewTransport(p),
		CheckRedirect: checkRedirect,
	}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
		return fmt.Errorf("egress: redirect to %s: %w (%d)", redactURL(req.URL), ErrTooManyRedirects, MaxRedirects)
	}
	return CheckURL(req.URL)
}

// transport checks each request's URL before handing it on, plain HTTP
// to direct and HTTPS to base; both dial with the policy's dialer, which
// checks the IP.
type transport struct {
	direct *directTransport
	base   *http.Transport
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := CheckURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if req.URL.Scheme == "http" {
		return t.direct.RoundTrip(req)
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// pools.
func (t *transport) CloseIdleConnections() {
	t.direct.client.CloseIdleConnections()
	t.base.CloseIdleConnections()
}

// CheckURL refuses URLs that are not http or https, have no host, or whose
// host is a non-canonical numeric IPv4 form such as "2130706433", "127.1",
// "0177.0.0.1" or "0x7f.0.0.1" (different resolvers read those
// differently, so they are refused rather than guessed at). It does not
// look at addresses; the dialer does.
func CheckURL(u *url.URL) error {
	if u == nil {
		return &RefusedError{Target: "empty URL", Reason: "no URL"}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return &RefusedError{Target: redactURL(u), Reason: fmt.Sprintf("scheme %q is not http or https", u.Scheme)}
	}
	host := u.Hostname()
	if host == "" {
		return &RefusedError{Target: redactURL(u), Reason: "no host"}
	}
	return CheckHost(host)
}

// CheckHost refuses a host (without port or brackets) written as a
// non-canonical numeric IPv4 form. Canonical IPs and hostnames pass.
func CheckHost(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if isNumericHost(host) {
		return &RefusedError{Target: fmt.Sprintf("host %q", host), Reason: "non-canonical numeric IPv4 form; write the address as a dotted quad such as 93.184.216.34"}
	}
	return nil
}

// isNumericHost reports whether host would be read as an IPv4 address by
// the WHATWG URL parser or inet_aton: its last label (ignoring one trailing
// dot) is a decimal, octal or hex number.
func isNumericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return false
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if len(last) >= 2 && (last[:2] == "0x" || last[:2] == "0X") {
		for _, c := range last[2:] {
			if !isHex(c) {
				return false
			}
		}
		return true
	}
	for _, c := range last {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(c rune) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// redactURL shows only a URL's scheme and host: credentials, query and
// even the path may be secret (an incoming-webhook URL is its own
// credential).
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
