package egress

import (
	"net/netip"
)

// Reasons a destination address is refused by default.
const (
	ReasonInvalid     = "invalid address"
	ReasonUnspecified = "unspecified"
	ReasonThisNetwork = "this network"
	ReasonLoopback    = "loopback"
	ReasonPrivate     = "private"
	ReasonLinkLocal   = "link-local"
	ReasonSharedCGNAT = "shared address space (CGNAT)"
	ReasonMulticast   = "multicast"
	ReasonBroadcast   = "broadcast"
	ReasonReserved    = "reserved"
)

// blockedV4 lists the IPv4 ranges refused by default, most specific first
// where they overlap.
var blockedV4 = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/32"), ReasonUnspecified},
	{netip.MustParsePrefix("0.0.0.0/8"), ReasonThisNetwork},
	{netip.MustParsePrefix("10.0.0.0/8"), ReasonPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ReasonSharedCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), ReasonLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ReasonLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ReasonPrivate},
	// IETF protocol assignments, documentation and benchmarking ranges are
	// never legitimate public destinations; benchmarking space in
	// particular shows up on internal networks.
	{netip.MustParsePrefix("192.0.0.0/24"), ReasonReserved},
	{netip.MustParsePrefix("192.0.2.0/24"), ReasonReserved},
	{netip.MustParsePrefix("192.168.0.0/16"), ReasonPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), ReasonReserved},
	{netip.MustParsePrefix("198.51.100.0/24"), ReasonReserved},
	{netip.MustParsePrefix("203.0.113.0/24"), ReasonReserved},
	{netip.MustParsePrefix("224.0.0.0/4"), ReasonMulticast},
	{netip.MustParsePrefix("255.255.255.255/32"), ReasonBroadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), ReasonReserved},
}

var (
	prefixNAT64      = netip.MustParsePrefix("64:ff9b::/96")
	prefixNAT64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	prefix6to4       = netip.MustParsePrefix("2002::/16")
	prefixTeredo     = netip.MustParsePrefix("2001::/32")
	prefixV4Compat   = netip.MustParsePrefix("::/96")
	prefixDiscard    = netip.MustParsePrefix("100::/64")
	prefixDoc6       = netip.MustParsePrefix("2001:db8::/32")
	prefixSiteLocal  = netip.MustParsePrefix("fec0::/10")
	prefixULA        = netip.MustParsePrefix("fc00::/7")
	prefixLinkLocal6 = netip.MustParsePrefix("fe80::/10")
	prefixMulticast6 = netip.MustParsePrefix("ff00::/8")
)

// Reason reports why ip is refused by default ("loopback", "private",
// "link-local", ...), or "" when ip is an ordinary public address.
//
// IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, NAT64
// 64:ff9b::/96, 6to4 2002::/16, Teredo) are judged by the IPv4 address they
// lead to.
func Reason(ip netip.Addr) string {
	if !ip.IsValid() {
		return ReasonInvalid
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if r := reason4(ip.Unmap()); r != "" {
			return r + " (IPv4-mapped)"
		}
		return ""
	}
	if ip.Is4() {
		return reason4(ip)
	}
	return reason6(ip)
}

func reason4(ip netip.Addr) string {
	for _, b := range blockedV4 {
		if b.prefix.Contains(ip) {
			return b.reason
		}
	}
	return ""
}

func reason6(ip netip.Addr) string {
	switch {
	case ip.IsUnspecified():
		return ReasonUnspecified
	case ip.IsLoopback():
		return ReasonLoopback
	case prefixV4Compat.Contains(ip):
		// Deprecated IPv4-compatible addresses (::a.b.c.d); nothing public
		// lives here.
		return ReasonReserved + " (IPv4-compatible)"
	case prefixNAT64.Contains(ip):
		b := ip.As16()
		if r := reason4(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
			return r + " (via NAT64)"
		}
		return ""
	case prefixNAT64Local.Contains(ip):
		return ReasonPrivate + " (local-use NAT64)"
	case prefix6to4.Contains(ip):
		b := ip.As16()
		if r := reason4(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
			return r + " (via 6to4)"
		}
		return ""
	case prefixTeredo.Contains(ip):
		// The Teredo client address is the last 32 bits, inverted.
		b := ip.As16()
		var c [4]byte
		for i := range c {
			c[i] = ^b[12+i]
		}
		if r := reason4(netip.AddrFrom4(c)); r != "" {
			return r + " (via Teredo)"
		}
		return ""
	case prefixDiscard.Contains(ip), prefixDoc6.Contains(ip), prefixSiteLocal.Contains(ip):
		return ReasonReserved
	case prefixULA.Contains(ip):
		return ReasonPrivate
	case prefixLinkLocal6.Contains(ip):
		return ReasonLinkLocal
	case prefixMulticast6.Contains(ip):
		return ReasonMulticast
	}
	return ""
}
