package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// Header names as http.Header keys (canonical form) and as the providers
// spell them in their docs (for refusal reasons).
const (
	hdrGitHub         = "X-Hub-Signature-256"
	hdrStripe         = "Stripe-Signature"
	hdrSlackSignature = "X-Slack-Signature"
	hdrSlackTimestamp = "X-Slack-Request-Timestamp"
	hdrShopify        = "X-Shopify-Hmac-Sha256"
	hdrTwilio         = "X-Twilio-Signature"
	hdrHubSpotSig     = "X-Hubspot-Signature-V3"
	hdrHubSpotTime    = "X-Hubspot-Request-Timestamp"
	hdrAuthorization  = "Authorization"
	hdrContentType    = "Content-Type"
)

// GitHub — "Validating webhook deliveries" (docs.github.com):
// X-Hub-Signature-256 is "sha256=" followed by the lower-case hex
// HMAC-SHA256 of the raw payload, keyed with the webhook secret. GitHub
// signs no timestamp; replays are caught by dedupe on X-GitHub-Delivery.
func checkGitHub(secrets [][]byte, req *Request) *Refusal {
	h, r := one(req.Header, hdrGitHub, "X-Hub-Signature-256")
	if r != nil {
		return r
	}
	want, ok := parseGitHub(h)
	if !ok {
		return refuse("malformed X-Hub-Signature-256 header")
	}
	for _, s := range secrets {
		if len(s) > 0 && hmac.Equal(mac(sha256.New, s, req.Body), want[:]) {
			return nil
		}
	}
	return refuse(errMismatch)
}

// parseGitHub reads "sha256=<64 hex digits>".
func parseGitHub(h string) (sig [sha256.Size]byte, ok bool) {
	hexSig, found := strings.CutPrefix(h, "sha256=")
	if !found {
		return sig, false
	}
	return sig, decodeHex(sig[:], hexSig)
}

// Stripe — "Verify webhook signatures manually" (docs.stripe.com/webhooks):
// Stripe-Signature is a comma-separated list of key=value pairs: t=<Unix
// seconds>, one or more v1=<hex HMAC-SHA256> (several during secret
// rolls), possibly v0= (test-mode legacy) and others, which are ignored.
// The signed payload is "{t}.{raw body}", keyed with the endpoint secret
// exactly as shown ("whsec_..." used as-is, not decoded). Any matching v1
// passes; the libraries' default tolerance on t is 300 s.
func checkStripe(v *flows.Verify, secrets [][]byte, req *Request) *Refusal {
	h, r := one(req.Header, hdrStripe, "Stripe-Signature")
	if r != nil {
		return r
	}
	var buf [4][sha256.Size]byte
	ts, sigs, reason := parseStripe(h, buf[:0])
	if reason != "" {
		return refuse("%s", reason)
	}
	t, _ := parseDigits(ts)
	if !anyMatch(secrets, sigs, func(s []byte) []byte {
		m := hmac.New(sha256.New, s)
		macString(m, ts, ".")
		m.Write(req.Body)
		return m.Sum(nil)
	}) {
		return refuse(errMismatch)
	}
	return checkWindow(time.Unix(t, 0), req.Now, v.EffectiveTolerance())
}

// parseStripe reads a Stripe-Signature header: the t value (digits) and
// every well-formed v1 signature, appended to sigs. reason is set when the
// header cannot be used.
func parseStripe(h string, sigs [][sha256.Size]byte) (ts string, out [][sha256.Size]byte, reason string) {
	seenT, badV1 := false, false
	for item := range strings.SplitSeq(h, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", nil, "malformed Stripe-Signature header"
		}
		switch k {
		case "t":
			if _, ok := parseDigits(val); !ok || seenT {
				return "", nil, "malformed Stripe-Signature header (t)"
			}
			ts, seenT = val, true
		case "v1":
			var sig [sha256.Size]byte
			if decodeHex(sig[:], val) {
				sigs = append(sigs, sig)
			} else {
				badV1 = true
			}
		}
	}
	switch {
	case !seenT:
		return "", nil, "malformed Stripe-Signature header (no t)"
	case len(sigs) == 0 && badV1:
		return "", nil, "malformed Stripe-Signature header (v1)"
	case len(sigs) == 0:
		return "", nil, "no v1 signature in Stripe-Signature header"
	}
	return ts, sigs, ""
}

// anyMatch reports whether the MAC of any usable secret equals any of the
// presented signatures.
func anyMatch(secrets [][]byte, sigs [][sha256.Size]byte, compute func(secret []byte) []byte) bool {
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		got := compute(s)
		for i := range sigs {
			if hmac.Equal(got, sigs[i][:]) {
				return true
			}
		}
	}
	return false
}

// Slack — "Verifying requests from Slack" (docs.slack.dev): the basestring
// is "v0:{X-Slack-Request-Timestamp}:{raw body}"; X-Slack-Signature is
// "v0=" followed by its hex HMAC-SHA256 keyed with the signing secret.
// Requests whose timestamp is more than five minutes from local time are to
// be ignored.
func checkSlack(v *flows.Verify, secrets [][]byte, req *Request) *Refusal {
	ts, r := one(req.Header, hdrSlackTimestamp, "X-Slack-Request-Timestamp")
	if r != nil {
		return r
	}
	h, r := one(req.Header, hdrSlackSignature, "X-Slack-Signature")
	if r != nil {
		return r
	}
	t, ok := parseDigits(ts)
	if !ok {
		return refuse("malformed X-Slack-Request-Timestamp header")
	}
	want, ok := parseSlack(h)
	if !ok {
		return refuse("malformed X-Slack-Signature header")
	}
	if !anyMatch(secrets, [][sha256.Size]byte{want}, func(s []byte) []byte {
		m := hmac.New(sha256.New, s)
		macString(m, "v0:", ts, ":")
		m.Write(req.Body)
		return m.Sum(nil)
	}) {
		return refuse(errMismatch)
	}
	return checkWindow(time.Unix(t, 0), req.Now, v.EffectiveTolerance())
}

// parseSlack reads "v0=<64 hex digits>".
func parseSlack(h string) (sig [sha256.Size]byte, ok bool) {
	hexSig, found := strings.CutPrefix(h, "v0=")
	if !found {
		return sig, false
	}
	return sig, decodeHex(sig[:], hexSig)
}

// Standard Webhooks — spec/standard-webhooks.md and the reference
// libraries (github.com/standard-webhooks/standard-webhooks): headers
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature, a
// space-delimited list of "<version>,<base64>" entries; symmetric
// signatures are "v1" (others, such as the asymmetric "v1a", are skipped).
// The signed content is "{id}.{timestamp}.{raw body}", HMAC-SHA256 keyed
// with the secret's bytes: the secret is written "whsec_<base64>" and is
// base64-decoded after the prefix. Svix sends the same scheme under
// svix-id, svix-timestamp and svix-signature.
func checkStandardWebhooks(v *flows.Verify, secrets [][]byte, req *Request) *Refusal {
	// Use the svix-* names only when no webhook-* header is present, so a
	// request cannot mix the two sets.
	idKey, tsKey, sigKey, prefix := "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "webhook-"
	if req.Header[idKey] == nil && req.Header[tsKey] == nil && req.Header[sigKey] == nil {
		idKey, tsKey, sigKey, prefix = "Svix-Id", "Svix-Timestamp", "Svix-Signature", "svix-"
	}
	id, r := one(req.Header, idKey, prefix+"id")
	if r != nil {
		return r
	}
	ts, r := one(req.Header, tsKey, prefix+"timestamp")
	if r != nil {
		return r
	}
	h, r := one(req.Header, sigKey, prefix+"signature")
	if r != nil {
		return r
	}
	t, ok := parseDigits(ts)
	if !ok {
		return refuse("malformed %stimestamp header", prefix)
	}
	var buf [4][sha256.Size]byte
	sigs, malformed := parseStandardSignatures(h, buf[:0])
	switch {
	case len(sigs) == 0 && malformed:
		return refuse("malformed %ssignature header", prefix)
	case len(sigs) == 0:
		return refuse("no v1 signature in %ssignature header", prefix)
	}
	var key [128]byte
	usable := false
	matched := false
	for _, s := range secrets {
		k, ok := standardWebhooksKey(key[:0], s)
		if !ok {
			continue
		}
		usable = true
		if anyMatch([][]byte{k}, sigs, func(k []byte) []byte {
			m := hmac.New(sha256.New, k)
			macString(m, id, ".", ts, ".")
			m.Write(req.Body)
			return m.Sum(nil)
		}) {
			matched = true
			break
		}
	}
	switch {
	case !usable:
		return refuse("signing secret is not whsec_ followed by base64")
	case !matched:
		return refuse(errMismatch)
	}
	return checkWindow(time.Unix(t, 0), req.Now, v.EffectiveTolerance())
}

// standardWebhooksKey decodes a "whsec_<base64>" secret (the prefix is
// optional, as in the reference libraries) into dst.
func standardWebhooksKey(dst, secret []byte) ([]byte, bool) {
	if len(secret) == 0 {
		return nil, false
	}
	b64, _ := bytes.CutPrefix(secret, []byte("whsec_"))
	out, err := base64.StdEncoding.AppendDecode(dst, b64)
	if err != nil || len(out) == 0 {
		return nil, false
	}
	return out, true
}

// parseStandardSignatures reads the v1 entries of a webhook-signature
// list into sigs; malformed reports v1 entries that could not be read.
func parseStandardSignatures(h string, sigs [][sha256.Size]byte) (out [][sha256.Size]byte, malformed bool) {
	for entry := range strings.SplitSeq(h, " ") {
		if entry == "" {
			continue
		}
		version, b64, ok := strings.Cut(entry, ",")
		if !ok {
			malformed = true
			continue
		}
		if version != "v1" {
			continue
		}
		var sig [sha256.Size]byte
		if decodeBase64(sig[:], b64) {
			sigs = append(sigs, sig)
		} else {
			malformed = true
		}
	}
	return sigs, malformed
}

// decodeBase64 decodes standard base64 (padded, or unpadded) of exactly
// len(dst) bytes into dst.
func decodeBase64(dst []byte, s string) bool {
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	if enc.DecodedLen(len(s)) < len(dst) || enc.DecodedLen(len(s)) > len(dst)+2 {
		return false
	}
	var buf [sha512.Size + 3]byte
	if len(dst)+3 > len(buf) {
		return false
	}
	n, err := enc.Decode(buf[:], unsafeBytes(s))
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, buf[:n])
	return true
}

// Shopify — "Verify webhooks" (shopify.dev/docs/apps/build/webhooks):
// X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body keyed
// with the app's client secret. No timestamp is signed (and the
// X-Shopify-Shop-Domain header is not covered); replays are caught by
// dedupe on X-Shopify-Webhook-Id.
func checkShopify(secrets [][]byte, req *Request) *Refusal {
	h, r := one(req.Header, hdrShopify, "X-Shopify-Hmac-Sha256")
	if r != nil {
		return r
	}
	var want [sha256.Size]byte
	if !decodeBase64(want[:], h) {
		return refuse("malformed X-Shopify-Hmac-Sha256 header")
	}
	for _, s := range secrets {
		if len(s) > 0 && hmac.Equal(mac(sha256.New, s, req.Body), want[:]) {
			return nil
		}
	}
	return refuse(errMismatch)
}

// Twilio — "Webhooks security" (twilio.com/docs/usage/webhooks/webhooks-
// security) and the official RequestValidator (twilio-go client/
// request_validator.go): X-Twilio-Signature is the base64 HMAC-SHA1, keyed
// with the auth token, of the full URL Twilio requested (with its query),
// followed for form POSTs by every POST parameter sorted by name, each
// written as name then value with no delimiters. For JSON bodies Twilio
// adds bodySHA256 (hex SHA-256 of the body) to the URL's query, signs the
// URL alone, and the body must hash to that value. Because Twilio is
// inconsistent about default ports, the URL is tried with and without its
// port (https without a port also as :443, http as :80). No timestamp is
// signed.
func checkTwilio(secrets [][]byte, req *Request) *Refusal {
	h, r := one(req.Header, hdrTwilio, "X-Twilio-Signature")
	if r != nil {
		return r
	}
	var want [sha1.Size]byte
	if !decodeBase64(want[:], h) {
		return refuse("malformed X-Twilio-Signature header")
	}
	if req.URL == "" {
		return refuse("no request URL to check the signature against")
	}
	// The signature covers the URL as a string; the query is parsed only
	// to find bodySHA256, so a parameter Go cannot parse is no reason to
	// refuse.
	query, _ := url.ParseQuery(rawQuery(req.URL))
	bodyHash := query.Get("bodySHA256")
	var params url.Values
	if bodyHash == "" && req.Method == http.MethodPost && isForm(req.Header) {
		var err error
		if params, err = url.ParseQuery(string(req.Body)); err != nil {
			return refuse("malformed form body")
		}
	}
	keys := sortedParams(params)
	withPort, withoutPort := twilioURLVariants(req.URL)
	matched := false
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		for _, u := range [2]string{withPort, withoutPort} {
			if u == "" {
				continue
			}
			m := hmac.New(sha1.New, s)
			macString(m, u)
			for _, k := range keys {
				for _, val := range params[k] {
					macString(m, k, val)
				}
			}
			if hmac.Equal(m.Sum(nil), want[:]) {
				matched = true
				break
			}
		}
		if matched {
			break
		}
	}
	if !matched {
		return refuse(errMismatch)
	}
	if bodyHash != "" {
		// Checked after the signature, which covers bodySHA256: a match
		// here with a different body is a tampered body.
		var wantBody [sha256.Size]byte
		if !decodeHex(wantBody[:], bodyHash) {
			return refuse("malformed bodySHA256 parameter")
		}
		got := sha256.Sum256(req.Body)
		if subtle.ConstantTimeCompare(got[:], wantBody[:]) != 1 {
			return refuse("body does not match bodySHA256")
		}
	}
	return nil
}

// sortedParams returns the parameter names sorted byte-wise, with each
// name's values sorted too (as the official libraries do for repeated
// names).
func sortedParams(params url.Values) []string {
	if len(params) == 0 {
		return nil
	}
	keys := make([]string, 0, len(params))
	for k, vals := range params {
		keys = append(keys, k)
		slices.Sort(vals)
	}
	slices.Sort(keys)
	return keys
}

// rawQuery returns the query of a URL string, without the fragment.
func rawQuery(u string) string {
	_, q, ok := strings.Cut(u, "?")
	if !ok {
		return ""
	}
	q, _, _ = strings.Cut(q, "#")
	return q
}

// isForm reports whether the body is application/x-www-form-urlencoded.
func isForm(h http.Header) bool {
	ct, _, _ := strings.Cut(h.Get(hdrContentType), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}

// twilioURLVariants returns the URL with an explicit port and without
// one, editing only the authority so the rest stays byte for byte as
// signed. One of them is u itself; withPort is "" when u has no port and
// its scheme has no default port.
func twilioURLVariants(u string) (withPort, withoutPort string) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u, ""
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	host, hasPort := splitHostPort(authority)
	if hasPort {
		return u, scheme + "://" + userinfo + host + tail
	}
	var port string
	switch strings.ToLower(scheme) {
	case "https":
		port = "443"
	case "http":
		port = "80"
	default:
		return "", u
	}
	return scheme + "://" + userinfo + host + ":" + port + tail, u
}

// splitHostPort returns the host of "host[:port]" or "[v6][:port]" and
// whether a port (even an empty one after ":") was there.
func splitHostPort(authority string) (host string, hasPort bool) {
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end >= 0 && strings.HasPrefix(authority[end+1:], ":") {
			return authority[:end+1], true
		}
		return authority, false
	}
	i := strings.IndexByte(authority, ':')
	if i < 0 || strings.Count(authority, ":") > 1 {
		// No colon, or an unbracketed IPv6 literal: no port to split off.
		return authority, false
	}
	return authority[:i], true
}

// HubSpot — "Validating requests" (developers.hubspot.com, v3 signature)
// and the official SDKs (hubspot-api-python utils/signature.py):
// X-HubSpot-Signature-v3 is the base64 HMAC-SHA256, keyed with the app's
// client secret, of method + URI + raw body + X-HubSpot-Request-Timestamp,
// where the URI is the full URL requested (scheme, host, path, query) with
// these percent-encodings decoded: %3A : %2F / %3F ? %40 @ %21 ! %24 $ %27 '
// %28 ( %29 ) %2A * %2C , %3B ;. The timestamp is in milliseconds;
// requests older than five minutes are to be rejected.
func checkHubSpot(v *flows.Verify, secrets [][]byte, req *Request) *Refusal {
	h, r := one(req.Header, hdrHubSpotSig, "X-HubSpot-Signature-v3")
	if r != nil {
		return r
	}
	ts, r := one(req.Header, hdrHubSpotTime, "X-HubSpot-Request-Timestamp")
	if r != nil {
		return r
	}
	ms, ok := parseDigits(ts)
	if !ok {
		return refuse("malformed X-HubSpot-Request-Timestamp header")
	}
	var want [sha256.Size]byte
	if !decodeBase64(want[:], h) {
		return refuse("malformed X-HubSpot-Signature-v3 header")
	}
	if req.URL == "" {
		return refuse("no request URL to check the signature against")
	}
	uri := hubSpotURI(req.URL)
	if !anyMatch(secrets, [][sha256.Size]byte{want}, func(s []byte) []byte {
		m := hmac.New(sha256.New, s)
		macString(m, req.Method, uri)
		m.Write(req.Body)
		macString(m, ts)
		return m.Sum(nil)
	}) {
		return refuse(errMismatch)
	}
	return checkWindow(time.UnixMilli(ms), req.Now, v.EffectiveTolerance())
}

// hubSpotDecoded maps the percent-encodings HubSpot decodes in the URI
// before signing (the second hex digit, upper case, per first digit).
var hubSpotDecoded = map[[2]byte]byte{
	{'3', 'A'}: ':', {'2', 'F'}: '/', {'3', 'F'}: '?', {'4', '0'}: '@',
	{'2', '1'}: '!', {'2', '4'}: '$', {'2', '7'}: '\'', {'2', '8'}: '(',
	{'2', '9'}: ')', {'2', 'A'}: '*', {'2', 'C'}: ',', {'3', 'B'}: ';',
}

// hubSpotURI decodes the percent-encodings HubSpot's v3 signature expects
// decoded, leaving every other byte (and other encodings) as is.
func hubSpotURI(u string) string {
	if !strings.Contains(u, "%") {
		return u
	}
	var b strings.Builder
	b.Grow(len(u))
	for i := 0; i < len(u); i++ {
		if u[i] == '%' && i+2 < len(u) {
			key := [2]byte{upper(u[i+1]), upper(u[i+2])}
			if c, ok := hubSpotDecoded[key]; ok {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(u[i])
	}
	return b.String()
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// hmacHash returns the hash of the generic scheme's algorithm.
func hmacHash(algorithm string) (func() hash.Hash, int) {
	switch algorithm {
	case flows.VerifySHA1:
		return sha1.New, sha1.Size
	case flows.VerifySHA512:
		return sha512.New, sha512.Size
	default:
		return sha256.New, sha256.Size
	}
}

// checkHMAC is the generic scheme: the signature in v.Header (after
// v.Prefix), hex or base64, is the HMAC of v.Signed with {body},
// {timestamp}, {id}, {method} and {url} filled in.
func checkHMAC(v *flows.Verify, secrets [][]byte, req *Request) *Refusal {
	h, r := one(req.Header, textproto.CanonicalMIMEHeaderKey(v.Header), v.Header)
	if r != nil {
		return r
	}
	if v.Prefix != "" {
		var ok bool
		if h, ok = cutPrefixFold(h, v.Prefix); !ok {
			return refuse("malformed %s header (no %q prefix)", v.Header, v.Prefix)
		}
	}
	newHash, size := hmacHash(v.Algorithm)
	var wantBuf [sha512.Size]byte
	want := wantBuf[:size]
	var ok bool
	if v.Encoding == flows.VerifyBase64 {
		ok = decodeBase64(want, h)
	} else {
		ok = decodeHex(want, h)
	}
	if !ok {
		return refuse("malformed %s header", v.Header)
	}
	var parts signedParts
	parts.body, parts.method, parts.url = req.Body, req.Method, req.URL
	var t int64
	if v.TimestampHeader != "" {
		if parts.timestamp, r = one(req.Header, textproto.CanonicalMIMEHeaderKey(v.TimestampHeader), v.TimestampHeader); r != nil {
			return r
		}
		if t, ok = parseDigits(parts.timestamp); !ok {
			return refuse("malformed %s header", v.TimestampHeader)
		}
	}
	if v.IDHeader != "" {
		if parts.id, r = one(req.Header, textproto.CanonicalMIMEHeaderKey(v.IDHeader), v.IDHeader); r != nil {
			return r
		}
	}
	signed := v.Signed
	if signed == "" {
		signed = flows.VerifyDefaultSigned
	}
	matched := false
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(newHash, s)
		writeSigned(m, signed, &parts)
		if hmac.Equal(m.Sum(nil), want) {
			matched = true
			break
		}
	}
	if !matched {
		return refuse(errMismatch)
	}
	if v.TimestampHeader != "" {
		return checkWindow(time.Unix(t, 0), req.Now, v.EffectiveTolerance())
	}
	return nil
}

// signedParts are the values a Signed template's placeholders stand for.
type signedParts struct {
	body                       []byte
	timestamp, id, method, url string
}

// writeSigned writes a Signed template with its placeholders filled in,
// streaming into w so the signed string is never built in memory. A "{"
// that opens no known placeholder is written literally (validation
// rejects such templates; see flows.SignedPlaceholders).
func writeSigned(w hash.Hash, tmpl string, p *signedParts) {
	for tmpl != "" {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			macString(w, tmpl)
			return
		}
		macString(w, tmpl[:i])
		tmpl = tmpl[i:]
		name, _, ok := strings.Cut(tmpl[1:], "}")
		if ok {
			switch name {
			case "body":
				w.Write(p.body)
			case "timestamp":
				macString(w, p.timestamp)
			case "id":
				macString(w, p.id)
			case "method":
				macString(w, p.method)
			case "url":
				macString(w, p.url)
			default:
				ok = false
			}
		}
		if !ok {
			macString(w, "{")
			tmpl = tmpl[1:]
			continue
		}
		tmpl = tmpl[len(name)+2:]
	}
}

// checkToken compares a shared token, taken from v.Header (after
// v.Prefix, such as "Bearer ") or from the query parameter v.Query, with
// the secret.
func checkToken(v *flows.Verify, secrets [][]byte, req *Request) *Refusal {
	var tok string
	if v.Header != "" {
		h, r := one(req.Header, textproto.CanonicalMIMEHeaderKey(v.Header), v.Header)
		if r != nil {
			return r
		}
		tok = h
		if v.Prefix != "" {
			var ok bool
			if tok, ok = cutPrefixFold(h, v.Prefix); !ok {
				return refuse("malformed %s header (no %q prefix)", v.Header, v.Prefix)
			}
		}
	} else {
		// Parameters Go cannot parse are skipped rather than refused: only
		// the token's own parameter matters here.
		q, _ := url.ParseQuery(rawQuery(req.URL))
		switch vals := q[v.Query]; {
		case len(vals) == 0 || vals[0] == "":
			return refuse("missing %s query parameter", v.Query)
		case len(vals) > 1:
			return refuse("repeated %s query parameter", v.Query)
		default:
			tok = vals[0]
		}
	}
	for _, s := range secrets {
		if len(s) > 0 && equalSecret(tok, s) {
			return nil
		}
	}
	return refuse("token mismatch")
}

// checkBasic checks HTTP basic auth (RFC 7617) against secrets written as
// "user:password".
func checkBasic(secrets [][]byte, req *Request) *Refusal {
	r := checkBasicCredentials(secrets, req)
	if r != nil {
		r.Challenge = BasicChallenge
	}
	return r
}

func checkBasicCredentials(secrets [][]byte, req *Request) *Refusal {
	h, r := one(req.Header, hdrAuthorization, "Authorization")
	if r != nil {
		return r
	}
	b64, ok := cutPrefixFold(h, "Basic ")
	if !ok {
		return refuse("malformed Authorization header (not Basic)")
	}
	cred, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || !strings.Contains(string(cred), ":") {
		return refuse("malformed Authorization header")
	}
	for _, s := range secrets {
		if len(s) > 0 && equalSecret(string(cred), s) {
			return nil
		}
	}
	return refuse("credentials mismatch")
}
