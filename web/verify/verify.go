// Package verify authenticates webhook requests: provider signature
// schemes (Standard Webhooks, GitHub, Stripe, Slack, Shopify, Twilio,
// HubSpot), a generic HMAC scheme, a shared token, HTTP basic auth, and an
// IP allow-list. It is pure: no Fiber, no engine, no I/O. The ingress
// resolves the secrets, builds a Request from the raw bytes it received and
// calls Check.
//
// Every scheme follows its provider's documentation (noted beside each
// implementation in schemes.go), compares in constant time, tries every
// given secret (rotation), reads only the raw body bytes, and checks signed
// timestamps in both directions.
package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"time"
	"unsafe"

	"github.com/switchyard/switchyard/flows"
)

// Request is what Check sees of one webhook request.
type Request struct {
	// Method is the HTTP method, upper case.
	Method string
	// URL is the full external URL as the sender signed it, with scheme,
	// host and query (behind a reverse proxy: built from the public URL).
	// Twilio and HubSpot sign it; the token scheme reads its query.
	URL string
	// Header holds the request headers with canonical keys (as net/http
	// and textproto produce them).
	Header http.Header
	// Body is the raw body, exactly as received.
	Body []byte
	// RemoteIP is the address of the TCP peer.
	RemoteIP netip.Addr
	// Now is the time timestamps are checked against; zero means
	// time.Now().
	Now time.Time
}

// Refusal is why Check turned a request away. The Reason is short and
// meant for the log and the per-flow refusal record; it never holds the
// body or a secret. Callers answer with Status and a generic message.
type Refusal struct {
	// Status is 401, or 403 when the IP allow-list refused the request.
	Status int
	// Reason says what failed, such as "signature mismatch" or "timestamp
	// outside tolerance (412s old)".
	Reason string
	// Challenge, when set, is the WWW-Authenticate value to answer with
	// (the basic scheme).
	Challenge string
}

// Error implements error.
func (r *Refusal) Error() string { return "verify: " + r.Reason }

// BasicChallenge is the WWW-Authenticate value a refused basic-auth
// request is answered with.
const BasicChallenge = `Basic realm="switchyard", charset="UTF-8"`

// refuse returns a 401 refusal.
func refuse(format string, args ...any) *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Reason: fmt.Sprintf(format, args...)}
}

// errMismatch is the reason when no secret reproduces the signature.
const errMismatch = "signature mismatch"

// Check authenticates req against v. secrets are the values of the
// connections v.Secret and v.Secrets names, in that order, already
// decrypted; a request signed with any of them passes. It returns nil or a
// *Refusal. A nil v checks nothing.
//
// The IP allow-list is checked first (403); then the scheme (401). A
// scheme other than none with no usable secret refuses everything.
func Check(v *flows.Verify, secrets [][]byte, req Request) error {
	if v == nil {
		return nil
	}
	if len(v.AllowIPs) > 0 {
		if r := checkIP(v, &req); r != nil {
			return r
		}
	}
	if v.Scheme == flows.VerifyNone {
		return nil
	}
	if !anyUsable(secrets) {
		return refuse("no signing secret available")
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	var r *Refusal
	switch v.Scheme {
	case flows.VerifyStandardWebhooks:
		r = checkStandardWebhooks(v, secrets, &req)
	case flows.VerifyGitHub:
		r = checkGitHub(secrets, &req)
	case flows.VerifyStripe:
		r = checkStripe(v, secrets, &req)
	case flows.VerifySlack:
		r = checkSlack(v, secrets, &req)
	case flows.VerifyShopify:
		r = checkShopify(secrets, &req)
	case flows.VerifyTwilio:
		r = checkTwilio(secrets, &req)
	case flows.VerifyHubSpot:
		r = checkHubSpot(v, secrets, &req)
	case flows.VerifyHMAC:
		r = checkHMAC(v, secrets, &req)
	case flows.VerifyToken:
		r = checkToken(v, secrets, &req)
	case flows.VerifyBasic:
		r = checkBasic(secrets, &req)
	default:
		// Validation rejects unknown schemes; a flow that slipped past it
		// must fail closed.
		r = refuse("unknown verify scheme %q", v.Scheme)
	}
	if r != nil {
		return r
	}
	return nil
}

// anyUsable reports whether at least one secret is non-empty: an empty
// HMAC key is a key anyone knows.
func anyUsable(secrets [][]byte) bool {
	for _, s := range secrets {
		if len(s) > 0 {
			return true
		}
	}
	return false
}

// one returns the single value of a header. A missing or empty header and
// a repeated one are refusals: two signatures for one request are
// ambiguous.
func one(h http.Header, key, display string) (string, *Refusal) {
	vals := h[key]
	if vals == nil && key != textproto.CanonicalMIMEHeaderKey(key) {
		vals = h[textproto.CanonicalMIMEHeaderKey(key)]
	}
	switch {
	case len(vals) == 0 || (len(vals) == 1 && vals[0] == ""):
		return "", refuse("missing %s header", display)
	case len(vals) > 1:
		return "", refuse("repeated %s header", display)
	}
	return vals[0], nil
}

// parseDigits reads a non-negative decimal integer of at most 18 digits
// (no sign, no spaces), as signed timestamps are written.
func parseDigits(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// checkWindow refuses a signed timestamp further than tol from now, in
// either direction: too old is a replay, too far ahead is a clock problem
// or a pre-signed request.
func checkWindow(ts, now time.Time, tol time.Duration) *Refusal {
	age := now.Sub(ts)
	switch {
	case age > tol:
		return refuse("timestamp outside tolerance (%ds old)", int64(age/time.Second))
	case -age > tol:
		return refuse("timestamp outside tolerance (%ds in the future)", int64(-age/time.Second))
	}
	return nil
}

// mac computes an HMAC over the concatenation of parts.
func mac(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// macString is mac for string parts, written without copying them.
func macString(m hash.Hash, parts ...string) {
	for _, p := range parts {
		m.Write(unsafeBytes(p))
	}
}

// unsafeBytes views s as bytes for a Write, without a copy.
func unsafeBytes(s string) []byte {
	// A []byte conversion would copy every signed URL and header. The
	// io.Writer contract forbids modifying or retaining p, so a read-only
	// view of the string's bytes is safe to hand to a hash.
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// equalSecret compares a presented credential with a secret in constant
// time, also hiding the secret's length: both sides are hashed first.
func equalSecret(presented string, secret []byte) bool {
	a := sha256.Sum256([]byte(presented))
	b := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// cutPrefixFold removes prefix from s, ignoring ASCII case ("Bearer " and
// "bearer " alike), and reports whether it was there.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// decodeHex decodes exactly len(dst)*2 hex digits (either case) into dst.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
