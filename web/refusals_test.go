package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/switchyard/switchyard/engine"
)

func TestBodyExcerpt(t *testing.T) {
	tests := []struct {
		name, body string
		max        int
		want       string
		truncated  bool
	}{
		{"kept", `{"email": "ada@example.com"}`, 1024, `{"email": "ada@example.com"}`, false},
		{"json credential", `{"email": "a@b.c", "password": "hunter2", "API_Key":"k1", "nested": {"client_secret": "s\"x"}}`, 1024,
			`{"email": "a@b.c", "password": "[redacted]", "API_Key":"[redacted]", "nested": {"client_secret": "[redacted]"}}`, false},
		{"json cut inside a secret", `{"token": "abcdefgh`, 1024, `{"token": "[redacted]"`, false},
		{"form", `name=ada&access_token=xyz&x=1`, 1024, `name=ada&access_token=[redacted]&x=1`, false},
		{"form first", `password=xyz`, 1024, `password=[redacted]`, false},
		{"cut", strings.Repeat("a", 20), 8, "aaaaaaaa", true},
		{"cut at a character", "aaaaaaé", 7, "aaaaaa", true},
		{"invalid utf-8", "a\xffb", 1024, "a\uFFFDb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, trunc := bodyExcerpt([]byte(tc.body), tc.max)
			if got != tc.want || trunc != tc.truncated {
				t.Errorf("bodyExcerpt(%q, %d) = %q, %v; want %q, %v", tc.body, tc.max, got, trunc, tc.want, tc.truncated)
			}
			if !utf8.ValidString(got) {
				t.Errorf("not UTF-8: %q", got)
			}
		})
	}
}

func TestCredentialHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"authorization": true, "cookie": true, "x-hub-signature-256": true, "stripe-signature": true, "x-api-key": true,
		"x-gitlab-token": true, "x-shopify-hmac-sha256": true, "proxy-authorization": true,
		"content-type": false, "user-agent": false, "x-github-delivery": false, "x-request-id": false,
	} {
		if got := credentialHeader(name); got != want {
			t.Errorf("credentialHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

// A refused compressed body keeps its decoded start, and a long path and
// header are cut.
func TestRefusalKeepsDecodedBody(t *testing.T) {
	f := newFixture(t, engine.Config{})
	createFlow(t, f, `{"id": "gz", "name": "gz", "enabled": true, "trigger": {"type": "webhook", "path": "gz"}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(`{"email": "ada@example.com", `))
	zw.Close()
	r, body := f.do(t, "POST", "/hooks/gz", "application/json", zb.String(), "Content-Encoding", "gzip", "X-Long", strings.Repeat("é", 300))
	if r.StatusCode != 400 {
		t.Fatalf("malformed gzip'd JSON: %d %s", r.StatusCode, body)
	}
	p, err := f.eng.ListRefusals(context.Background(), engine.RefusalFilter{FlowID: "gz"})
	if err != nil || len(p.Refusals) != 1 {
		t.Fatalf("refusals: %+v %v", p, err)
	}
	got := p.Refusals[0]
	if got.Body != `{"email": "ada@example.com", ` || got.Size != int64(len(got.Body)) || got.Kind != "malformed_body" {
		t.Errorf("refusal: %+v", got)
	}
	if h := got.Headers["x-long"]; len(h) > refusalHeaderValueMax+len("…") || !utf8.ValidString(h) || !strings.HasSuffix(h, "…") {
		t.Errorf("long header kept as %d bytes: %q", len(h), h)
	}
}

// The flow page lists a flow's newest 50 refused requests and links to
// the Refused page of that flow, which lists them all without the flow
// column.
func TestRefusedPageOfOneFlow(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "busy", "name": "busy", "enabled": true, "trigger": {"type": "webhook", "path": "busy"}, "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)
	for i := range 60 {
		if !f.eng.AdmitRefusal("busy") {
			t.Fatalf("refusal %d not admitted", i)
		}
		f.eng.RecordRefusal(engine.Refusal{FlowID: "busy", Status: 400, Kind: "malformed_body", Reason: fmt.Sprint("bad ", i), Method: "POST", Path: "/hooks/busy"})
	}
	_, page := b.do("GET", "/flows/busy/edit", nil)
	if n := strings.Count(page, `class="refusal-row"`); n != refusalsShown {
		t.Errorf("the flow page lists %d, want %d", n, refusalsShown)
	}
	if !strings.Contains(page, `href="/refused?flow=busy" id="refusals-all"`) {
		t.Errorf("no link to all of the flow's refused requests")
	}
	r, page := b.do("GET", "/refused?flow=busy", nil)
	if r.StatusCode != 200 || strings.Count(page, `class="refusal-row"`) != 60 || strings.Contains(page, `class="refusal-flow"`) || !strings.Contains(page, "Refused requests of busy") {
		t.Errorf("the Refused page of the flow: %d, %d rows", r.StatusCode, strings.Count(page, `class="refusal-row"`))
	}
	if r, _ := b.do("GET", "/refused?flow=nope", nil); r.StatusCode != 404 {
		t.Errorf("the Refused page of a flow that does not exist: %d", r.StatusCode)
	}
}

// FuzzBodyExcerpt: any body gives valid UTF-8 of bounded length, and the
// value of a credential field planted in it never shows.
func FuzzBodyExcerpt(f *testing.F) {
	f.Add([]byte(`{"a": 1}`), "k3yVALUE")
	f.Add([]byte("x=1&y=\xff\xfe"), "s3cr3t")
	f.Add([]byte(`{"token": "\"`), "zzzz")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		got, _ := bodyExcerpt(body, engine.RefusalBodyMax)
		// Each invalid byte becomes U+FFFD (3 bytes); a marker replaces a
		// value of a field whose name alone is longer.
		if !utf8.ValidString(got) || len(got) > 4*engine.RefusalBodyMax {
			t.Fatalf("excerpt of %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
		}
		if len(secret) < 8 || strings.IndexFunc(secret, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0 {
			return
		}
		for _, planted := range []string{`{"api_key": "` + secret + `"}`, "a=1&password=" + secret} {
			if strings.Contains(strings.Replace(planted, secret, "", 1)+engine.Redacted, secret) {
				continue // the secret is a word of the field's name or the marker
			}
			if got, _ := bodyExcerpt([]byte(planted), engine.RefusalBodyMax); strings.Contains(got, secret) {
				t.Fatalf("%q shows its secret: %q", planted, got)
			}
		}
	})
}
