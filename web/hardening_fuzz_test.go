package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzOnSitePath: whatever next a sign-in carries, a path onSitePath
// accepts stays on this site once a browser resolves it, and can put
// nothing into a header.
func FuzzOnSitePath(f *testing.F) {
	for _, s := range []string{"/runs", "//evil.example", "/\\evil", "/\t/evil", "https://evil.example", "/%2F%2Fevil",
		"/a?next=//evil", "/\r\nSet-Cookie: a=b", "javascript:alert(1)", "/runs#x", "/..//evil", "/;@evil.example"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://switchyard.example.com/login")
	f.Fuzz(func(t *testing.T, p string) {
		if !onSitePath(p) {
			if localPath(p) != "/" {
				t.Fatalf("refused %q but redirects to %q", p, localPath(p))
			}
			return
		}
		if localPath(p) != p {
			t.Fatalf("accepted %q but redirects to %q", p, localPath(p))
		}
		for i := 0; i < len(p); i++ {
			if p[i] <= ' ' || p[i] >= 0x7f || p[i] == '\\' {
				t.Fatalf("accepted %q with byte %#x", p, p[i])
			}
		}
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
			t.Fatalf("accepted %q", p)
		}
		u, err := url.Parse(p)
		if err != nil {
			t.Fatalf("accepted unparsable %q: %v", p, err)
		}
		if got := base.ResolveReference(u); got.Host != base.Host || got.Scheme != base.Scheme {
			t.Fatalf("accepted %q, which leads to %s", p, got)
		}
	})
}

// FuzzParseFailure: the reason given for a request the server could not
// parse never quotes what was read.
func FuzzParseFailure(f *testing.F) {
	f.Add(`error when reading request headers: cannot parse Content-Length: unexpected first char found. Expecting 0-9. Buffer size=136, contents: "POST / HTTP/1.1\r\nAuthorization: Bearer x"`)
	f.Add(`invalid header key "Bad Header"`)
	f.Fuzz(func(t *testing.T, msg string) {
		got := parseFailure(errString(msg))
		if strings.Contains(got, `"`) || len(got) > 120 || strings.Contains(strings.ToLower(got), "buffer size=") {
			t.Fatalf("parseFailure(%q) = %q", msg, got)
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }
