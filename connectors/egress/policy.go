// Package egress guards outgoing connections against server-side request
// forgery: a client built here refuses to connect to loopback, private,
// link-local and other internal addresses unless an allow list says
// otherwise.
//
// The check runs on the IP address actually being dialled, after DNS
// resolution and on every redirect, so hostnames that resolve to internal
// addresses (including DNS rebinding) are caught. It runs before the
// connect system call: a refused destination never sees a TCP packet.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// AllowEnv is the environment variable (and, as --egress-allow, the flag)
// through which an operator allows internal destinations.
const AllowEnv = "SWITCHYARD_EGRESS_ALLOW"

// Sentinel errors.
var (
	// ErrRefused is matched (errors.Is) by every refusal of a destination.
	ErrRefused = errors.New("egress: refused")
	// ErrTooManyRedirects is returned after MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("egress: too many redirects")
	// ErrBadAllow is matched by every ParseAllow error.
	ErrBadAllow = errors.New("egress: bad allow entry")
)

// RefusedError is a refused destination. It matches ErrRefused.
type RefusedError struct {
	// Addr is the address that was about to be dialled; it is invalid when
	// the request was refused before dialling (see Target).
	Addr netip.AddrPort
	// Target names what was refused before dialling: a URL or a host.
	Target string
	// Reason says why, e.g. "loopback".
	Reason string
}

// Error implements error.
func (e *RefusedError) Error() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("egress: refused to connect to %s (%s); allow it with %s", e.Addr, e.Reason, AllowEnv)
	}
	return fmt.Sprintf("egress: refused %s: %s", e.Target, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Policy says which internal destinations are allowed anyway. The zero
// value and a nil *Policy allow none: only public addresses are reachable.
type Policy struct {
	prefixes []netip.Prefix
	addrs    map[netip.AddrPort]struct{}
	entries  []string
}

// lookupFunc resolves an allow-list hostname.
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// ParseAllow builds a Policy from a comma-separated allow list such as
// "10.0.0.0/8,127.0.0.1:9000,localhost:8080,[::1]:8080". Each entry is a
// CIDR, a bare IP (one address, any port), or host:port where host is an IP
// or a hostname. Hostnames are resolved now, once, to the addresses they
// name; the check later compares the dialled IP and port against those.
// Empty entries are ignored, so "" gives a policy that allows nothing.
func ParseAllow(list string) (*Policy, error) {
	return parseAllow(list, defaultLookup)
}

// MustParseAllow is ParseAllow that panics on error, for tests and
// constants.
func MustParseAllow(list string) *Policy {
	p, err := ParseAllow(list)
	if err != nil {
		panic(err)
	}
	return p
}

func parseAllow(list string, lookup lookupFunc) (*Policy, error) {
	p := &Policy{addrs: map[netip.AddrPort]struct{}{}}
	for raw := range strings.SplitSeq(list, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		if err := p.add(entry, lookup); err != nil {
			return nil, fmt.Errorf("egress: parse allow %q: %w", entry, err)
		}
		p.entries = append(p.entries, entry)
	}
	return p, nil
}

func (p *Policy) add(entry string, lookup lookupFunc) error {
	if strings.Contains(entry, "/") {
		pfx, err := netip.ParsePrefix(entry)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadAllow, err)
		}
		if pfx.Addr().Zone() != "" {
			return fmt.Errorf("%w: zones are not allowed in a CIDR", ErrBadAllow)
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
		return nil
	}
	if ip, err := netip.ParseAddr(entry); err == nil {
		ip = ip.WithZone("")
		p.prefixes = append(p.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		return nil
	}
	host, portStr, err := net.SplitHostPort(entry)
	if err != nil {
		return fmt.Errorf("%w: want a CIDR, an IP or host:port", ErrBadAllow)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return fmt.Errorf("%w: port %q is not a number from 1 to 65535", ErrBadAllow, portStr)
	}
	if host == "" {
		return fmt.Errorf("%w: empty host", ErrBadAllow)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		p.addrs[netip.AddrPortFrom(ip.WithZone("").Unmap(), uint16(port))] = struct{}{}
		return nil
	}
	if isNumericHost(host) {
		return fmt.Errorf("%w: %q is a non-canonical numeric IPv4 form; write a dotted quad", ErrBadAllow, host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("%w: resolve %q: %w", ErrBadAllow, host, err)
	}
	if len(ips) == 0 {
		return fmt.Errorf("%w: %q resolves to no address", ErrBadAllow, host)
	}
	for _, ip := range ips {
		p.addrs[netip.AddrPortFrom(ip.WithZone("").Unmap(), uint16(port))] = struct{}{}
	}
	return nil
}

// String returns the allow list the policy was built from.
func (p *Policy) String() string {
	if p == nil {
		return ""
	}
	return strings.Join(p.entries, ",")
}

// Allowed reports whether the allow list covers ap, whatever kind of
// address it is.
func (p *Policy) Allowed(ap netip.AddrPort) bool {
	if p == nil {
		return false
	}
	ip := ap.Addr().WithZone("")
	forms := []netip.Addr{ip}
	if ip.Is4In6() {
		forms = append(forms, ip.Unmap())
	}
	for _, f := range forms {
		for _, pfx := range p.prefixes {
			if pfx.Contains(f) {
				return true
			}
		}
	}
	_, ok := p.addrs[netip.AddrPortFrom(ip.Unmap(), ap.Port())]
	return ok
}

// Check returns nil when a connection to ap may be made: ap is a public
// address or the allow list covers it. Otherwise it returns a
// *RefusedError.
func (p *Policy) Check(ap netip.AddrPort) error {
	reason := Reason(ap.Addr())
	if reason == "" || p.Allowed(ap) {
		return nil
	}
	return &RefusedError{Addr: netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port()), Reason: reason}
}
