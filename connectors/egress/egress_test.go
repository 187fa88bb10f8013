package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests only ever connect to 127.0.0.0/8 and ::1.

// countingListener counts accepted TCP connections.
type countingListener struct {
	net.Listener
	mu     sync.Mutex
	remote []string // remote addresses of accepted connections, in order
}

func listen(t *testing.T, addr string) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	cl := &countingListener{Listener: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.mu.Lock()
			cl.remote = append(cl.remote, c.RemoteAddr().String())
			cl.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return cl
}

func (cl *countingListener) port() int { return cl.Addr().(*net.TCPAddr).Port }

// assertNoConnections proves no connection reached cl: it dials one
// sentinel connection and waits for it to be accepted. Accept order is
// FIFO, so any earlier connection would have been accepted before it.
func assertNoConnections(t *testing.T, cl *countingListener) {
	t.Helper()
	c, err := net.DialTimeout("tcp", cl.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatalf("sentinel dial: %v", err)
	}
	defer c.Close()
	sentinel := c.LocalAddr().String()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		cl.mu.Lock()
		remote := slices.Clone(cl.remote)
		cl.mu.Unlock()
		if i := slices.Index(remote, sentinel); i >= 0 {
			if i > 0 {
				t.Fatalf("listener accepted %d connections before the sentinel, want 0: %v", i, remote[:i])
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("sentinel connection never accepted")
}

func get(t *testing.T, c *http.Client, url string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

func TestRefusedBeforeConnecting(t *testing.T) {
	v4 := listen(t, "127.0.0.1:0")
	p := v4.port()
	// An allow list that covers other things must not open these.
	client := NewClient(MustParseAllow("127.0.0.2/32,127.0.0.1:1,10.0.0.0/8"))

	tests := []struct {
		name, url string
		dialled   bool // refused at dial time (message names the IP)
	}{
		{"loopback", fmt.Sprintf("http://127.0.0.1:%d/", p), true},
		{"localhost", fmt.Sprintf("http://localhost:%d/", p), true},
		{"mapped", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", p), true},
		{"unspecified", fmt.Sprintf("http://0.0.0.0:%d/", p), true},
		{"decimal", fmt.Sprintf("http://2130706433:%d/", p), false},
		{"short", fmt.Sprintf("http://127.1:%d/", p), false},
		{"octal", fmt.Sprintf("http://0177.0.0.1:%d/", p), false},
		{"hex", fmt.Sprintf("http://0x7f.0.0.1:%d/", p), false},
		{"leading zeros", fmt.Sprintf("http://127.000.000.001:%d/", p), false},
		{"trailing dot", fmt.Sprintf("http://127.0.0.1.:%d/", p), false},
		{"https loopback", fmt.Sprintf("https://127.0.0.1:%d/", p), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := get(t, client, tt.url)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("GET %s: err = %v, want ErrRefused", tt.url, err)
			}
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("GET %s: err %v is not a *RefusedError", tt.url, err)
			}
			if tt.dialled {
				if !re.Addr.IsValid() || !strings.Contains(err.Error(), "refused to connect to") || !strings.Contains(err.Error(), AllowEnv) {
					t.Errorf("GET %s: err = %v, want the dialled address and %s named", tt.url, err, AllowEnv)
				}
			}
		})
	}
	assertNoConnections(t, v4)
}

func TestRefusedIPv6Loopback(t *testing.T) {
	v6 := listen(t, "[::1]:0")
	err := get(t, NewClient(nil), fmt.Sprintf("http://[::1]:%d/", v6.port()))
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if !strings.Contains(err.Error(), "[::1]") || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("err = %v, want the address and reason named", err)
	}
	assertNoConnections(t, v6)
}

func TestRedirectToRefused(t *testing.T) {
	target := listen(t, "127.0.0.1:0")
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 not routable here: %v", err)
	}
	var hits atomic.Int64
	allowed := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, fmt.Sprintf("http://127.0.0.1:%d/next", target.port()), http.StatusFound)
	}))
	allowed.Listener.Close()
	allowed.Listener = ln
	allowed.Start()
	defer allowed.Close()

	err = get(t, NewClient(MustParseAllow("127.0.0.2/32")), allowed.URL)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if hits.Load() != 1 {
		t.Errorf("allowed server got %d requests, want 1", hits.Load())
	}
	assertNoConnections(t, target)
}

func TestRedirects(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://127.0.0.1/file", http.StatusFound)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/ok":
			http.Redirect(w, r, "/done", http.StatusFound)
		}
	}))
	defer srv.Close()
	client := NewClient(MustParseAllow("127.0.0.1/32"))

	tests := []struct {
		path string
		want error
	}{
		{"/ok", nil},
		{"/loop", ErrTooManyRedirects},
		{"/ftp", ErrRefused},
		{"/file", ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			hits.Store(0)
			err := get(t, client, srv.URL+tt.path)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	hits.Store(0)
	get(t, client, srv.URL+"/loop")
	if n := hits.Load(); n != MaxRedirects {
		t.Errorf("loop: server saw %d requests, want %d", n, MaxRedirects)
	}
}

func TestAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	tests := []struct {
		allow string
		url   string
		ok    bool
	}{
		{"127.0.0.1/32", srv.URL, true},
		{"127.0.0.0/8", srv.URL, true},
		{"127.0.0.1", srv.URL, true},
		{fmt.Sprintf("127.0.0.1:%d", port), srv.URL, true},
		{fmt.Sprintf("localhost:%d", port), fmt.Sprintf("http://localhost:%d/", port), true},
		{fmt.Sprintf("localhost:%d", port), srv.URL, true},
		{fmt.Sprintf("127.0.0.1:%d", port+1), srv.URL, false},
		{"127.0.0.2/32", srv.URL, false},
		{"::1/128", srv.URL, false},
		{"", srv.URL, false},
	}
	for _, tt := range tests {
		t.Run(tt.allow+" "+tt.url, func(t *testing.T) {
			err := get(t, NewClient(MustParseAllow(tt.allow)), tt.url)
			if tt.ok && err != nil {
				t.Fatalf("err = %v, want success", err)
			}
			if !tt.ok && !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
		})
	}
}

func TestTransportIgnoresProxyEnv(t *testing.T) {
	tr, ok := NewTransport(nil).(*transport)
	if !ok {
		t.Fatalf("NewTransport returned %T", NewTransport(nil))
	}
	if tr.base.Proxy != nil {
		t.Error("transport uses a proxy; it would bypass the dial check")
	}
	if tr.base.MaxIdleConnsPerHost != MaxIdleConnsPerHost || tr.base.ResponseHeaderTimeout != ResponseHeaderTimeout ||
		tr.base.TLSHandshakeTimeout != TLSHandshakeTimeout {
		t.Error("transport limits not set")
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		ip   string
		want string // "" = allowed; otherwise a substring of the reason
	}{
		{"10.1.2.3", ReasonPrivate},
		{"172.16.0.1", ReasonPrivate},
		{"172.31.255.255", ReasonPrivate},
		{"172.32.0.1", ""},
		{"192.168.1.1", ReasonPrivate},
		{"169.254.169.254", ReasonLinkLocal},
		{"100.64.0.1", ReasonSharedCGNAT},
		{"100.127.255.255", ReasonSharedCGNAT},
		{"100.128.0.1", ""},
		{"127.0.0.1", ReasonLoopback},
		{"127.255.255.254", ReasonLoopback},
		{"0.0.0.0", ReasonUnspecified},
		{"0.1.2.3", ReasonThisNetwork},
		{"224.0.0.1", ReasonMulticast},
		{"239.255.255.250", ReasonMulticast},
		{"255.255.255.255", ReasonBroadcast},
		{"240.0.0.1", ReasonReserved},
		{"198.18.0.1", ReasonReserved},
		{"::", ReasonUnspecified},
		{"::1", ReasonLoopback},
		{"fe80::1", ReasonLinkLocal},
		{"fe80::1%eth0", ReasonLinkLocal},
		{"fc00::1", ReasonPrivate},
		{"fd12:3456::1", ReasonPrivate},
		{"ff02::1", ReasonMulticast},
		{"::ffff:127.0.0.1", ReasonLoopback},
		{"::ffff:10.0.0.1", ReasonPrivate},
		{"::ffff:169.254.169.254", ReasonLinkLocal},
		{"::127.0.0.1", ReasonReserved},
		{"64:ff9b::7f00:1", ReasonLoopback},
		{"64:ff9b::a9fe:a9fe", ReasonLinkLocal},
		{"64:ff9b::5db8:d822", ""}, // NAT64 of 93.184.216.34
		{"64:ff9b:1::1", ReasonPrivate},
		{"2002:7f00:1::", ReasonLoopback},
		{"2002:a00:1::1", ReasonPrivate},
		{"2002:5db8:d822::1", ""},                                // 6to4 of 93.184.216.34
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", ReasonLoopback}, // Teredo client 127.0.0.1
		{"2001:db8::1", ReasonReserved},
		{"93.184.216.34", ""},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"::ffff:93.184.216.34", ""},
		{"2606:4700::1", ""},
		{"2a00:1450:4001::200e", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got := Reason(netip.MustParseAddr(tt.ip))
			if tt.want == "" && got != "" {
				t.Fatalf("Reason(%s) = %q, want allowed", tt.ip, got)
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("Reason(%s) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
	if Reason(netip.Addr{}) == "" {
		t.Error("the zero Addr is allowed")
	}
}

func TestCheck(t *testing.T) {
	p := MustParseAllow("10.0.0.0/8, 192.168.1.5:8443 ,[fd00::1]:443,169.254.169.254")
	tests := []struct {
		addr string
		ok   bool
	}{
		{"10.9.9.9:80", true},
		{"[::ffff:10.9.9.9]:80", true},
		{"192.168.1.5:8443", true},
		{"[::ffff:192.168.1.5]:8443", true},
		{"192.168.1.5:80", false},
		{"192.168.1.6:8443", false},
		{"[fd00::1]:443", true},
		{"[fd00::1]:80", false},
		{"169.254.169.254:80", true},
		{"127.0.0.1:80", false},
		{"93.184.216.34:443", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := p.Check(netip.MustParseAddrPort(tt.addr))
			if tt.ok != (err == nil) {
				t.Fatalf("Check(%s) = %v, want ok=%v", tt.addr, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrRefused) {
				t.Fatalf("Check(%s) = %v, not ErrRefused", tt.addr, err)
			}
		})
	}
	var nilPolicy *Policy
	if nilPolicy.Check(netip.MustParseAddrPort("127.0.0.1:80")) == nil {
		t.Error("nil policy allows loopback")
	}
	err := nilPolicy.Check(netip.MustParseAddrPort("127.0.0.1:80"))
	want := "egress: refused to connect to 127.0.0.1:80 (loopback); allow it with SWITCHYARD_EGRESS_ALLOW"
	if err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
}

func fakeLookup(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "localhost":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, nil
	case "empty.test":
		return nil, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestParseAllow(t *testing.T) {
	tests := []struct {
		list    string
		ok      bool
		allowed []string
	}{
		{"", true, nil},
		{" , ,", true, nil},
		{"10.0.0.0/8,127.0.0.1:9000,localhost:8080", true, []string{"10.2.3.4:1", "127.0.0.1:9000", "127.0.0.1:8080", "[::1]:8080"}},
		{"10.1.2.3/8", true, []string{"10.200.0.1:80"}},
		{"[::1]:8080", true, []string{"[::1]:8080"}},
		{"fd00::/8", true, []string{"[fd00::5]:1"}},
		{"127.0.0.1", true, []string{"127.0.0.1:1", "127.0.0.1:65535"}},
		{"10.0.0.0/33", false, nil},
		{"nonsense", false, nil},
		{"localhost", false, nil},
		{"localhost:0", false, nil},
		{"localhost:70000", false, nil},
		{"localhost:http", false, nil},
		{":8080", false, nil},
		{"unknown.test:80", false, nil},
		{"empty.test:80", false, nil},
		{"127.1:80", false, nil},
		{"2130706433:80", false, nil},
		{"fe80::1%eth0/64", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			p, err := parseAllow(tt.list, fakeLookup)
			if !tt.ok {
				if err == nil {
					t.Fatalf("parseAllow(%q) succeeded, want error", tt.list)
				}
				if !errors.Is(err, ErrBadAllow) {
					t.Fatalf("parseAllow(%q) = %v, not ErrBadAllow", tt.list, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAllow(%q): %v", tt.list, err)
			}
			for _, a := range tt.allowed {
				if !p.Allowed(netip.MustParseAddrPort(a)) {
					t.Errorf("%s not allowed by %q", a, tt.list)
				}
			}
		})
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		host string
		ok   bool
	}{
		{"example.com", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"a1.example", true},
		{"1a", true},
		{"0xg", true},
		{"2130706433", false},
		{"127.1", false},
		{"0177.0.0.1", false},
		{"0x7f.0.0.1", false},
		{"0x7f000001", false},
		{"127.0.0.1.", false},
		{"foo.123", false},
		{"foo.0x1F", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := CheckHost(tt.host)
			if tt.ok != (err == nil) {
				t.Fatalf("CheckHost(%q) = %v, want ok=%v", tt.host, err, tt.ok)
			}
		})
	}
}

func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{
		"", "10.0.0.0/8,127.0.0.1:9000,localhost:8080", "[::1]:80", "fe80::1%eth0",
		"::ffff:127.0.0.1/128", "1.2.3.4:65536", "a:b:c", "[", "/", ",,,", "0x7f.1:80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		p, err := parseAllow(list, fakeLookup)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			return
		}
		_ = p.String()
		p.Allowed(netip.MustParseAddrPort("127.0.0.1:80"))
		p.Check(netip.MustParseAddrPort("[::1]:80"))
	})
}
