package web

import (
	"strings"
	"testing"
	"unicode/utf8"
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
