package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// ClientIP returns the address a request came from. X-Forwarded-For (xff,
// the header's values joined with ",") is believed only when the TCP peer
// remote is one of the trusted proxies; then the chain is walked from the
// right and the first address that is not a trusted proxy is the client,
// since everything left of it was written by the client and can be forged.
// When every hop is trusted, the left-most is the client. An entry that is
// not an address, met before any untrusted one, yields the zero Addr (which
// no allow-list admits). IPv4-mapped IPv6 addresses are unmapped.
func ClientIP(remote netip.Addr, xff string, trusted []netip.Prefix) netip.Addr {
	remote = remote.Unmap().WithZone("")
	if xff == "" || !inAny(remote, trusted) {
		return remote
	}
	client := remote
	for rest := xff; rest != ""; {
		part := rest
		if i := strings.LastIndexByte(rest, ','); i >= 0 {
			part, rest = rest[i+1:], rest[:i]
		} else {
			rest = ""
		}
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, ok := parseForwarded(part)
		if !ok {
			return netip.Addr{}
		}
		client = a
		if !inAny(a, trusted) {
			return a
		}
	}
	return client
}

// parseForwarded reads one X-Forwarded-For entry: an address, or an
// address with a port as some proxies write it ("192.0.2.1:4711",
// "[2001:db8::1]:4711").
func parseForwarded(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkIP applies v.AllowIPs to the client address (see ClientIP).
func checkIP(v *flows.Verify, req *Request) *Refusal {
	var buf [8]netip.Prefix
	trusted := buf[:0]
	for _, s := range v.TrustedProxies {
		// Validation rejects bad entries; one that slips through trusts
		// nothing rather than everything.
		if p, err := flows.ParseIPRange(s); err == nil {
			trusted = append(trusted, p)
		}
	}
	var xff string
	switch vals := req.Header["X-Forwarded-For"]; len(vals) {
	case 0:
	case 1:
		xff = vals[0]
	default:
		xff = strings.Join(vals, ",")
	}
	ip := ClientIP(req.RemoteIP, xff, trusted)
	if !ip.IsValid() {
		return &Refusal{Status: http.StatusForbidden, Reason: "client address unknown"}
	}
	for _, s := range v.AllowIPs {
		if p, err := flows.ParseIPRange(s); err == nil && p.Contains(ip) {
			return nil
		}
	}
	return &Refusal{Status: http.StatusForbidden, Reason: fmt.Sprintf("address %s not in allow_ips", ip)}
}

// SlackChallenge recognises Slack's url_verification request, sent once
// when an Events API request URL is saved, and returns the challenge to
// echo back (as the body, or as {"challenge": ...}). The request is signed
// like any other, so the ingress answers it only after Check passes.
func SlackChallenge(body []byte) (challenge string, ok bool) {
	// Skip the JSON decode for the ordinary events.
	if !bytes.Contains(body, []byte("url_verification")) {
		return "", false
	}
	var msg struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Type != "url_verification" || msg.Challenge == "" {
		return "", false
	}
	return msg.Challenge, true
}

// DedupePreset returns the dedupe expression that identifies one delivery
// of a provider, so a redelivery or a replayed request starts no second
// run; "" when the scheme has none.
//   - github: the X-GitHub-Delivery GUID, the same on redelivery.
//   - standard-webhooks: webhook-id (svix-id under Svix's header names),
//     which the spec names the idempotency key.
//   - stripe: the event id (evt_...) in the body; Stripe resends the same
//     event.
//   - shopify: X-Shopify-Webhook-Id, the same on retries.
//   - slack: the Events API event_id.
func DedupePreset(scheme string) string {
	switch scheme {
	case flows.VerifyGitHub:
		return "trigger.headers['x-github-delivery']"
	case flows.VerifyStandardWebhooks:
		return "trigger.headers['webhook-id'] ?? trigger.headers['svix-id']"
	case flows.VerifyStripe:
		return "trigger.body.id"
	case flows.VerifyShopify:
		return "trigger.headers['x-shopify-webhook-id']"
	case flows.VerifySlack:
		return "trigger.body.event_id"
	}
	return ""
}
