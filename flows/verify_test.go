package flows

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// verifyFlow returns the base flow with the given verify settings (as JSON,
// through Decode, so the strict decoder is exercised too).
func verifyFlow(t *testing.T, verifyJSON string) (*Flow, error) {
	t.Helper()
	doc := strings.Replace(baseFlowJSON, `"path": "base"}`, `"path": "base", "verify": `+verifyJSON+`}`, 1)
	if doc == baseFlowJSON {
		t.Fatal("base flow changed shape")
	}
	return Decode([]byte(doc))
}

func TestVerifyCompileErrors(t *testing.T) {
	tests := []struct {
		name, verify string
		want         []wantErr
	}{
		{"scheme missing", `{"secret": "s"}`, []wantErr{{"trigger.verify.scheme", "required (one of standard-webhooks, github, stripe, slack, shopify, twilio, hubspot, hmac, token, basic, none)"}}},
		{"scheme unknown", `{"scheme": "paypal", "secret": "s"}`, []wantErr{{"trigger.verify.scheme", `unknown scheme "paypal"`}}},
		{"secret missing", `{"scheme": "github"}`, []wantErr{{"trigger.verify.secret", "required: the name of a connection of type secret"}}},
		{"secret on none", `{"scheme": "none", "secret": "s"}`, []wantErr{{"trigger.verify.secret", "not allowed with scheme none"}}},
		{"secrets on none", `{"scheme": "none", "secrets": ["s"]}`, []wantErr{{"trigger.verify.secrets", "not allowed with scheme none"}}},
		{"secrets empty name", `{"scheme": "github", "secret": "a", "secrets": [""]}`, []wantErr{{"trigger.verify.secrets[0]", "must be the name of a connection"}}},
		{"secrets repeat secret", `{"scheme": "github", "secret": "a", "secrets": ["b", "a"]}`, []wantErr{{"trigger.verify.secrets[1]", `"a" is listed twice`}}},
		{"tolerance on github", `{"scheme": "github", "secret": "a", "tolerance": "1m"}`, []wantErr{{"trigger.verify.tolerance", "not allowed with scheme github"}}},
		{"tolerance too long", `{"scheme": "stripe", "secret": "a", "tolerance": "2h"}`, []wantErr{{"trigger.verify.tolerance", "at most 1h0m0s, got 2h0m0s"}}},
		{"tolerance too short", `{"scheme": "slack", "secret": "a", "tolerance": "500ms"}`, []wantErr{{"trigger.verify.tolerance", "must be at least 1s"}}},
		{"header on stripe", `{"scheme": "stripe", "secret": "a", "header": "X-Sig"}`, []wantErr{{"trigger.verify.header", "not allowed with scheme stripe"}}},
		{"options on basic", `{"scheme": "basic", "secret": "a", "query": "k", "algorithm": "sha1"}`, []wantErr{
			{"trigger.verify.query", "not allowed with scheme basic"},
			{"trigger.verify.algorithm", "not allowed with scheme basic"},
		}},
		{"hmac header missing", `{"scheme": "hmac", "secret": "a"}`, []wantErr{{"trigger.verify.header", "required with scheme hmac"}}},
		{"hmac bad header", `{"scheme": "hmac", "secret": "a", "header": "X Sig"}`, []wantErr{{"trigger.verify.header", `"X Sig" is not a valid header name`}}},
		{"hmac algorithm", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "algorithm": "md5"}`, []wantErr{{"trigger.verify.algorithm", "must be sha1, sha256 or sha512"}}},
		{"hmac encoding", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "encoding": "base32"}`, []wantErr{{"trigger.verify.encoding", "must be hex or base64"}}},
		{"hmac unknown placeholder", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "signed": "{ts}.{body}"}`, []wantErr{{"trigger.verify.signed", "unknown placeholder {ts}"}}},
		{"hmac unclosed placeholder", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "signed": "{body}.{id"}`, []wantErr{{"trigger.verify.signed", `"{id" has no closing "}"`}}},
		{"hmac without body", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "signed": "{method}{url}"}`, []wantErr{{"trigger.verify.signed", "must include {body}"}}},
		{"hmac timestamp without header", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "signed": "{timestamp}.{body}"}`, []wantErr{{"trigger.verify.timestamp_header", "required when signed uses {timestamp}"}}},
		{"hmac unsigned timestamp", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "timestamp_header": "X-Ts"}`, []wantErr{{"trigger.verify.timestamp_header", "only allowed when signed uses {timestamp}"}}},
		{"hmac tolerance without timestamp", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "tolerance": "1m"}`, []wantErr{{"trigger.verify.tolerance", "only allowed with timestamp_header"}}},
		{"hmac id without header", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "signed": "{id}.{body}"}`, []wantErr{{"trigger.verify.id_header", "required when signed uses {id}"}}},
		{"hmac unsigned id", `{"scheme": "hmac", "secret": "a", "header": "X-Sig", "id_header": "X-Id"}`, []wantErr{{"trigger.verify.id_header", "only allowed when signed uses {id}"}}},
		{"token neither", `{"scheme": "token", "secret": "a"}`, []wantErr{{"trigger.verify.header", "required with scheme token (or query)"}}},
		{"token both", `{"scheme": "token", "secret": "a", "header": "X-Token", "query": "token"}`, []wantErr{{"trigger.verify.query", "not allowed together with header"}}},
		{"token query prefix", `{"scheme": "token", "secret": "a", "query": "token", "prefix": "Bearer "}`, []wantErr{{"trigger.verify.prefix", "only allowed with header"}}},
		{"allow_ips bad", `{"scheme": "none", "allow_ips": ["10.0.0.0/8", "10.0.0.300", "fe80::1%eth0"]}`, []wantErr{
			{"trigger.verify.allow_ips[1]", `"10.0.0.300" is not an IP address or CIDR range`},
			{"trigger.verify.allow_ips[2]", `"fe80::1%eth0" is not an IP address or CIDR range`},
		}},
		{"trusted_proxies bad", `{"scheme": "none", "trusted_proxies": ["10.0.0.0/33"]}`, []wantErr{{"trigger.verify.trusted_proxies[0]", `"10.0.0.0/33" is not an IP address or CIDR range`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := verifyFlow(t, tt.verify)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			c, err := Compile(f)
			if err == nil {
				t.Fatalf("Compile succeeded: %+v", c)
			}
			checkDetails(t, err, tt.want, true)
		})
	}
}

// validVerify are verify settings Compile and the schema both accept.
var validVerify = []string{
	`{"scheme": "none"}`,
	`{"scheme": "none", "allow_ips": ["203.0.113.7", "192.0.2.0/24", "2001:db8::/32", "::ffff:10.0.0.1"], "trusted_proxies": ["10.0.0.0/8"]}`,
	`{"scheme": "standard-webhooks", "secret": "sw", "secrets": ["sw_old"], "tolerance": "10m"}`,
	`{"scheme": "github", "secret": "gh", "secrets": ["gh_old", "gh_older"]}`,
	`{"scheme": "stripe", "secret": "st", "tolerance": "1h"}`,
	`{"scheme": "slack", "secret": "sl", "tolerance": "1s"}`,
	`{"scheme": "shopify", "secret": "sh"}`,
	`{"scheme": "twilio", "secret": "tw", "secrets": ["tw_secondary"]}`,
	`{"scheme": "hubspot", "secret": "hs"}`,
	`{"scheme": "hmac", "secret": "h", "header": "X-Signature"}`,
	`{"scheme": "hmac", "secret": "h", "header": "X-Signature", "prefix": "sha512=", "algorithm": "sha512", "encoding": "base64",
	  "signed": "{id}.{timestamp}.{method} {url}\n{body}", "timestamp_header": "X-Timestamp", "id_header": "X-Delivery", "tolerance": "30s"}`,
	`{"scheme": "token", "secret": "t", "header": "Authorization", "prefix": "Bearer "}`,
	`{"scheme": "token", "secret": "t", "query": "token"}`,
	`{"scheme": "basic", "secret": "b", "allow_ips": ["198.51.100.0/24"]}`,
}

func TestVerifyCompileAccepts(t *testing.T) {
	for _, doc := range validVerify {
		t.Run(doc, func(t *testing.T) {
			f, err := verifyFlow(t, doc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if _, err := Compile(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyDecode(t *testing.T) {
	f, err := verifyFlow(t, validVerify[10])
	if err != nil {
		t.Fatal(err)
	}
	want := &Verify{
		Scheme: VerifyHMAC, Secret: "h", Header: "X-Signature", Prefix: "sha512=", Algorithm: VerifySHA512,
		Encoding: VerifyBase64, Signed: "{id}.{timestamp}.{method} {url}\n{body}", TimestampHeader: "X-Timestamp",
		IDHeader: "X-Delivery", Tolerance: Duration(30 * time.Second),
	}
	if !reflect.DeepEqual(f.Trigger.Verify, want) {
		t.Errorf("decoded %+v\nwant    %+v", f.Trigger.Verify, want)
	}
	if got := f.Trigger.Verify.EffectiveTolerance(); got != 30*time.Second {
		t.Errorf("EffectiveTolerance = %s", got)
	}
	if got := (&Verify{Scheme: VerifyStripe}).EffectiveTolerance(); got != DefaultVerifyTolerance {
		t.Errorf("default EffectiveTolerance = %s", got)
	}

	// The strict decoder knows the new fields and their types.
	tests := []struct{ verify, field, msg string }{
		{`{"scheme": "hmac", "secret": "h", "header": "X", "algoritm": "sha1"}`, "trigger.verify.algoritm", `unknown field (did you mean "algorithm"?)`},
		{`{"scheme": "github", "secret": "g", "secrets": "other"}`, "trigger.verify.secrets", "must be a list, got string"},
		{`{"scheme": "github", "secret": "g", "secrets": [1]}`, "trigger.verify.secrets[0]", "must be a string, got number 1"},
		{`{"scheme": "stripe", "secret": "s", "tolerance": 300}`, "trigger.verify.tolerance", "must be a duration string"},
		{`{"scheme": "none", "allow_ips": "10.0.0.0/8"}`, "trigger.verify.allow_ips", "must be a list, got string"},
	}
	for _, tt := range tests {
		_, err := verifyFlow(t, tt.verify)
		if err == nil {
			t.Errorf("%s: decoded", tt.verify)
			continue
		}
		checkDetails(t, err, []wantErr{{tt.field, tt.msg}}, true)
	}
}

// TestVerifyRoundTrip checks that Encode and Decode agree on Verify, also
// for empty lists, which Encode leaves out.
func TestVerifyRoundTrip(t *testing.T) {
	for _, doc := range append(slices.Clone(validVerify), `{"scheme": "github", "secret": "g", "secrets": [], "allow_ips": [], "trusted_proxies": []}`) {
		f, err := verifyFlow(t, doc)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("%s: decoding the encoded flow: %v", doc, err)
		}
		if !reflect.DeepEqual(again.Trigger.Verify, f.Trigger.Verify) {
			t.Errorf("round trip changed verify:\n%+v\n%+v", f.Trigger.Verify, again.Trigger.Verify)
		}
	}
}

// TestVerifySchemaAgrees checks the published schema against Compile on
// verify settings: both accept the valid ones, and the schema rejects what
// it can express of the invalid ones.
func TestVerifySchemaAgrees(t *testing.T) {
	sch := flowSchema(t)
	check := func(verify string) error {
		t.Helper()
		doc := strings.Replace(baseFlowJSON, `"path": "base"}`, `"path": "base", "verify": `+verify+`}`, 1)
		return validateJSON(t, sch, []byte(doc))
	}
	for _, doc := range validVerify {
		if err := check(doc); err != nil {
			t.Errorf("schema rejects %s:\n%v", doc, err)
		}
	}
	const v = "/trigger/verify"
	rejects := []struct{ verify, at, msg string }{
		{`{"secret": "s"}`, v, "missing property 'scheme'"},
		{`{"scheme": "paypal", "secret": "s"}`, v + "/scheme", "value must be one of"},
		{`{"scheme": "github"}`, v, "missing property 'secret'"},
		{`{"scheme": "none", "secret": "s"}`, v + "/secret", "false schema"},
		{`{"scheme": "github", "secret": "g", "tolerance": "1m"}`, v + "/tolerance", "false schema"},
		{`{"scheme": "github", "secret": "g", "secrets": ["a", "a"]}`, v + "/secrets", "items at 0 and 1 are equal"},
		{`{"scheme": "hmac", "secret": "h"}`, v, "missing property 'header'"},
		{`{"scheme": "hmac", "secret": "h", "header": "X Sig"}`, v + "/header", "does not match pattern"},
		{`{"scheme": "hmac", "secret": "h", "header": "X", "algorithm": "md5"}`, v + "/algorithm", "value must be one of"},
		{`{"scheme": "hmac", "secret": "h", "header": "X", "encoding": "base32"}`, v + "/encoding", "value must be one of"},
		{`{"scheme": "hmac", "secret": "h", "header": "X", "signed": "{timestamp}"}`, v + "/signed", "does not match pattern"},
		{`{"scheme": "hmac", "secret": "h", "header": "X", "tolerance": "1m"}`, v, "timestamp_header"},
		{`{"scheme": "token", "secret": "t"}`, v, "oneOf"},
		{`{"scheme": "token", "secret": "t", "header": "X", "query": "q"}`, v, "oneOf"},
		{`{"scheme": "token", "secret": "t", "query": "q", "prefix": "Bearer "}`, v, "oneOf"},
		{`{"scheme": "basic", "secret": "b", "header": "X"}`, v + "/header", "false schema"},
		{`{"scheme": "none", "allow_ips": "10.0.0.0/8"}`, v + "/allow_ips", "want array"},
	}
	for _, tt := range rejects {
		err := check(tt.verify)
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) || !reported(ve, tt.at, tt.msg) {
			t.Errorf("%s: no error at %q saying %q in:\n%v", tt.verify, tt.at, tt.msg, err)
		}
		// Whatever the schema rejects, Compile rejects too.
		f, err := verifyFlow(t, tt.verify)
		if err == nil {
			_, err = Compile(f)
		}
		if err == nil {
			t.Errorf("%s: Compile accepts what the schema rejects", tt.verify)
		}
	}
}

func TestSignedPlaceholders(t *testing.T) {
	uses, err := SignedPlaceholders("v0:{timestamp}:{body}{body}}")
	if err != nil || !uses["timestamp"] || !uses["body"] || len(uses) != 2 {
		t.Errorf("uses %v, err %v", uses, err)
	}
	for _, bad := range []string{"{", "{}", "{BODY}", "{body", "x{ body }", "{" + strings.Repeat("é", 30) + "}"} {
		if _, err := SignedPlaceholders(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseIPRange(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{"192.0.2.9/24", "192.0.2.0/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"::ffff:10.1.2.3", "10.1.2.3/32"},
		{"::ffff:10.1.2.3/104", "10.0.0.0/8"},
	}
	for _, tt := range tests {
		p, err := ParseIPRange(tt.in)
		if err != nil || p.String() != tt.want {
			t.Errorf("ParseIPRange(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
	for _, bad := range []string{"", "10.0.0", "10.0.0.0/", "::ffff:10.0.0.0/90", "fe80::1%eth0", "example.com"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Errorf("ParseIPRange(%q) accepted", bad)
		}
	}
}
