package web

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestAPIDocsCoverRoutes: every /api route of the route table has a row
// in docs/api.md (`METHOD /api/path`, parameters as {name}), so no route
// is documented only in the generated description.
func TestAPIDocsCoverRoutes(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:(\w+)`)
	for _, d := range apiDocs {
		if !strings.HasPrefix(d.path, "/api/") {
			continue
		}
		want := "`" + d.method + " " + param.ReplaceAllString(d.path, "{$1}")
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/api.md has no row for %s%s (add one where the route belongs)", want, "`")
		}
	}
}

// TestEveryAPIRouteAnswers405: a method an /api path does not take
// answers 405 with Allow naming every method it takes, for every path of
// the route table, not only the ones written by hand in a test.
func TestEveryAPIRouteAnswers405(t *testing.T) {
	f := newFixture(t, engine.Config{})
	methods := map[string][]string{}
	for _, r := range f.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || strings.Contains(r.Path, "*") || r.Method == "HEAD" || r.Method == "CONNECT" {
			continue
		}
		methods[r.Path] = append(methods[r.Path], r.Method)
	}
	param := regexp.MustCompile(`:\w+`)
	for path, ms := range methods {
		if slices.Contains(ms, "PATCH") {
			t.Fatalf("%s takes PATCH: pick another method to test", path)
		}
		concrete := param.ReplaceAllString(path, "x")
		resp, body := f.do(t, "PATCH", concrete, "application/json", `{}`)
		allow := strings.Split(resp.Header.Get("Allow"), ", ")
		if resp.StatusCode != 405 || resp.Header.Get("Content-Type") != ProblemContentType {
			t.Errorf("PATCH %s: %d %s %.200s", concrete, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		for _, m := range ms {
			if !slices.Contains(allow, m) {
				t.Errorf("PATCH %s: Allow %q lacks %s", concrete, resp.Header.Get("Allow"), m)
			}
		}
	}
}

// TestOperationsRoutes405: the health checks and /metrics take GET and
// HEAD; any other method is 405 with Allow and a problem body, not the
// UI's 404 page.
func TestOperationsRoutes405(t *testing.T) {
	f := newFixture(t, engine.Config{})
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
			resp, body := f.do(t, method, path, "", "")
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || resp.Header.Get("Content-Type") != ProblemContentType {
				t.Errorf("%s %s: %d Allow %q %s %.200s", method, path, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), body)
			}
		}
		if resp, body := f.do(t, "GET", path, "", "", "Authorization", "Bearer "+f.token); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %.200s", path, resp.StatusCode, body)
		}
	}
}
