package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// The fuzz targets feed every signature-header parser arbitrary input. They
// must never panic, and a random header must never pass a check.

// fuzzNow is the time the fuzzed checks run at.
var fuzzNow = time.Unix(1_750_000_000, 0)

// mustRefuse runs Check and fails if it accepts: a fuzzed signature cannot
// match by chance.
func mustRefuse(t *testing.T, v *flows.Verify, req Request) {
	t.Helper()
	req.Now = fuzzNow
	err := Check(v, secretsOf("fuzz-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), req)
	r, ok := err.(*Refusal)
	if !ok || r == nil {
		t.Fatalf("accepted or not a *Refusal: %v", err)
	}
	if r.Status != 401 && r.Status != 403 {
		t.Fatalf("status %d", r.Status)
	}
}

func FuzzStripeSignature(f *testing.F) {
	f.Add("t=1492774577,v1=5b3221dd42f40ac6386e1f14c361d1976d3c26b91806b167d857ebdb915376a5,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")
	f.Add("t=abc,v1=")
	f.Add("t=1,t=2")
	f.Add(",=,=,")
	f.Add("v1=" + strings.Repeat("0", 64) + ",t=" + strings.Repeat("9", 19))
	f.Fuzz(func(t *testing.T, h string) {
		var buf [4][sha256.Size]byte
		ts, sigs, reason := parseStripe(h, buf[:0])
		if reason == "" {
			if _, ok := parseDigits(ts); !ok || len(sigs) == 0 {
				t.Fatalf("accepted header %q: t=%q, %d signatures", h, ts, len(sigs))
			}
		}
		mustRefuse(t, &flows.Verify{Scheme: flows.VerifyStripe}, Request{Body: []byte("{}"), Header: hdr("Stripe-Signature", h)})
	})
}

func FuzzStandardWebhooksSignature(f *testing.F) {
	f.Add("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "1614265330", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	f.Add("v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== v1,", "x", "")
	f.Add("  v1,,  v1,====", "1750000000", "a.b")
	f.Fuzz(func(t *testing.T, h, ts, id string) {
		var buf [4][sha256.Size]byte
		sigs, _ := parseStandardSignatures(h, buf[:0])
		if len(sigs) > strings.Count(h, "v1,") {
			t.Fatalf("%d signatures from %q", len(sigs), h)
		}
		v := &flows.Verify{Scheme: flows.VerifyStandardWebhooks}
		mustRefuse(t, v, Request{Body: []byte("{}"), Header: hdr("Webhook-Id", id, "Webhook-Timestamp", ts, "Webhook-Signature", h)})
		mustRefuse(t, v, Request{Body: []byte("{}"), Header: hdr("Svix-Id", id, "Svix-Timestamp", ts, "Svix-Signature", h)})
	})
}

func FuzzGitHubSignature(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	f.Add("sha256=zz")
	f.Add("sha256=")
	f.Add("SHA256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17")
	f.Fuzz(func(t *testing.T, h string) {
		sig, ok := parseGitHub(h)
		if ok && !strings.EqualFold(h, "sha256="+hex.EncodeToString(sig[:])) {
			t.Fatalf("parsed %q as %x", h, sig)
		}
		mustRefuse(t, &flows.Verify{Scheme: flows.VerifyGitHub}, Request{Body: []byte("Hello, World!"), Header: hdr("X-Hub-Signature-256", h)})
	})
}

func FuzzSlackSignature(f *testing.F) {
	f.Add("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", "1531420618")
	f.Add("v0=", "-1")
	f.Add("v0=zz", "99999999999999999999")
	f.Fuzz(func(t *testing.T, h, ts string) {
		sig, ok := parseSlack(h)
		if ok && !strings.EqualFold(h, "v0="+hex.EncodeToString(sig[:])) {
			t.Fatalf("parsed %q as %x", h, sig)
		}
		if n, ok := parseDigits(ts); ok && (n < 0 || strings.TrimLeft(ts, "0123456789") != "") {
			t.Fatalf("parseDigits(%q) = %d", ts, n)
		}
		mustRefuse(t, &flows.Verify{Scheme: flows.VerifySlack}, Request{Body: []byte(slackDocBody), Header: hdr("X-Slack-Signature", h, "X-Slack-Request-Timestamp", ts)})
	})
}

func FuzzTwilio(f *testing.F) {
	f.Add("https://mycompany.com/myapp.php?foo=1&bar=2", "Digits=1234&To=%2B18005551212&a=z&a=y", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	f.Add("https://user@[2001:db8::1]:8443/a?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", `{"a":1}`, "a9nBmqA0ju/hNViExpshrM61xv4=")
	f.Add("http://h:/x#frag?y", "a=%zz;b", "====")
	f.Add("://", "", "")
	f.Fuzz(func(t *testing.T, u, body, sig string) {
		with, without := twilioURLVariants(u)
		if with != u && without != u {
			t.Fatalf("twilioURLVariants(%q) = %q, %q: neither is the URL", u, with, without)
		}
		// Only the authority changes: the rest stays byte for byte.
		for _, alt := range []string{with, without} {
			if alt == "" || alt == u {
				continue
			}
			if _, tail, ok := strings.Cut(u, "://"); ok {
				if i := strings.IndexAny(tail, "/?#"); i >= 0 && !strings.HasSuffix(alt, tail[i:]) {
					t.Fatalf("variant %q of %q changed the path", alt, u)
				}
			}
		}
		v := &flows.Verify{Scheme: flows.VerifyTwilio}
		mustRefuse(t, v, Request{Method: "POST", URL: u, Body: []byte(body), Header: formHeader("X-Twilio-Signature", sig)})
		mustRefuse(t, v, Request{Method: "GET", URL: u, Body: []byte(body), Header: hdr("X-Twilio-Signature", sig)})
	})
}

// hubSpotRef matches the encodings HubSpot's v3 docs list as decoded.
var hubSpotRef = regexp.MustCompile(`(?i)%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)`)

func FuzzHubSpot(f *testing.F) {
	f.Add("https://www.example.com/webhook_uri?x=%3a%2F%zz%", "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=", "15000000")
	f.Add("%", "", "")
	f.Fuzz(func(t *testing.T, u, sig, ts string) {
		got := hubSpotURI(u)
		want := hubSpotRef.ReplaceAllStringFunc(u, func(m string) string {
			c, _ := url.PathUnescape(m)
			return c
		})
		if got != want {
			t.Fatalf("hubSpotURI(%q) = %q, want %q", u, got, want)
		}
		if len(got) > len(u) || strings.Count(got, "%") > strings.Count(u, "%") {
			t.Fatalf("hubSpotURI(%q) = %q grew", u, got)
		}
		mustRefuse(t, &flows.Verify{Scheme: flows.VerifyHubSpot}, Request{Method: "POST", URL: u, Body: []byte("{}"), Header: hdr("X-HubSpot-Signature-v3", sig, "X-HubSpot-Request-Timestamp", ts)})
	})
}

// FuzzSignedTemplate checks the generic scheme's template: writeSigned
// never panics and, for every template flows accepts, writes exactly what
// a plain string replacement gives.
func FuzzSignedTemplate(f *testing.F) {
	f.Add("{id}.{timestamp}.{body}", "sha256=", "00")
	f.Add("{body", "", "")
	f.Add("{{body}}{}{url}{method}", "x", "zz")
	f.Fuzz(func(t *testing.T, tmpl, prefix, sig string) {
		p := &signedParts{body: []byte("B{id}"), timestamp: "T", id: "I", method: "M", url: "U"}
		got := &recorder{}
		writeSigned(got, tmpl, p)
		if _, err := flows.SignedPlaceholders(tmpl); err == nil {
			want := strings.NewReplacer("{body}", "B{id}", "{timestamp}", "T", "{id}", "I", "{method}", "M", "{url}", "U").Replace(tmpl)
			if string(got.b) != want {
				t.Fatalf("writeSigned(%q) = %q, want %q", tmpl, got.b, want)
			}
		}
		v := &flows.Verify{Scheme: flows.VerifyHMAC, Header: "X-Sig", Prefix: prefix, Signed: tmpl, TimestampHeader: "X-Ts", IDHeader: "X-Id"}
		mustRefuse(t, v, Request{Method: "POST", URL: "https://h/x", Body: []byte("{}"), Header: hdr("X-Sig", prefix+sig, "X-Ts", "1750000000", "X-Id", "i")})
		v.Encoding, v.Algorithm = flows.VerifyBase64, flows.VerifySHA512
		mustRefuse(t, v, Request{Method: "POST", URL: "https://h/x", Body: []byte("{}"), Header: hdr("X-Sig", prefix+sig, "X-Ts", "1750000000", "X-Id", "i")})
	})
}

func FuzzTokenAndBasic(f *testing.F) {
	f.Add("Bearer x", "https://h/x?token=x&token")
	f.Add("Basic "+"%%%", "https://h/x?%zz")
	f.Fuzz(func(t *testing.T, h, u string) {
		for _, v := range []*flows.Verify{
			{Scheme: flows.VerifyToken, Header: "Authorization", Prefix: "Bearer "},
			{Scheme: flows.VerifyToken, Query: "token"},
			{Scheme: flows.VerifyBasic},
		} {
			mustRefuse(t, v, Request{URL: u, Header: hdr("Authorization", h)})
		}
	})
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2", "198.51.100.1, 10.0.0.7")
	f.Add("10.0.0.2", "unknown,,[::1]:80, ::ffff:1.2.3.4")
	f.Add("::ffff:10.0.0.2", "fe80::1%eth0")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r, err := netip.ParseAddr(remote)
		if err != nil {
			return
		}
		trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::/10")}
		got := ClientIP(r, xff, trusted)
		if got.IsValid() && (got.Is4In6() || got.Zone() != "") {
			t.Fatalf("ClientIP returned %s", got)
		}
		if !inAny(r.Unmap(), trusted) && got != r.Unmap().WithZone("") {
			t.Fatalf("untrusted peer %s: got %s", r, got)
		}
		v := &flows.Verify{Scheme: flows.VerifyNone, AllowIPs: []string{"192.0.2.0/24"}, TrustedProxies: []string{"10.0.0.0/8"}}
		err = Check(v, nil, Request{RemoteIP: r, Header: hdr("X-Forwarded-For", xff)})
		if err == nil && !netip.MustParsePrefix("192.0.2.0/24").Contains(got) {
			t.Fatalf("admitted %s", got)
		}
	})
}
