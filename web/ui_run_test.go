package web

import (
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestUIRunNow: the Run now button of the builder (htmx, with the Test
// payload) and of the flows list (a plain post, with the latest event).
func TestUIRunNow(t *testing.T) {
	var total atomic.Int32
	src := itemSource(&total)
	defer src.Close()
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "m", "name": "m", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"body": "{{ trigger.body }}"}}]}`)
	createFlow(t, f, `{"id": "p", "name": "p", "enabled": true, "trigger": {"type": "poll", "cron": "@every 1h",
	  "request": {"url": "`+src.URL+`"}, "items": "response.body.items", "key": "item.id"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`)

	_, page := b.do("GET", "/flows/m/edit", nil)
	if !strings.Contains(page, `id="run-now"`) || !strings.Contains(page, "POST /api/flows/m/run") {
		t.Fatal("the builder of a manual flow has no Run now, or the hint lacks the flow id")
	}
	r, frag := b.post("/flows/m/run", url.Values{"_test_payload": {`{"lead": "ada"}`}}, "HX-Request", "true")
	if r.StatusCode != 200 || !strings.Contains(frag, `id="run-now-message"`) || !strings.Contains(frag, "Started a run with the payload") {
		t.Fatalf("htmx run now: %d %s", r.StatusCode, frag)
	}
	id := frag[strings.Index(frag, `data-run-id="`)+len(`data-run-id="`):]
	id = id[:strings.Index(id, `"`)]
	if run := waitRun(t, f.eng, id); run.Status != engine.RunSucceeded || run.Steps[0].Output.(map[string]any)["body"].(map[string]any)["lead"] != "ada" {
		t.Fatalf("run %s: %s %+v", id, run.Status, run.Steps)
	}
	r, frag = b.post("/flows/m/run", url.Values{"_test_payload": {`{"lead": `}}, "HX-Request", "true")
	if r.StatusCode != 200 || !strings.Contains(frag, `id="run-now-error"`) || !strings.Contains(frag, "not valid JSON") {
		t.Fatalf("bad payload: %d %s", r.StatusCode, frag)
	}

	// The flows list sends no payload: the latest event is the sample.
	r, _ = b.post("/flows/m/run", nil)
	loc := r.Header.Get("Location")
	if r.StatusCode != 303 || !strings.HasPrefix(loc, "/runs/run_") || !strings.HasSuffix(loc, "?flash=run-started") {
		t.Fatalf("list run now: %d %s", r.StatusCode, loc)
	}
	id = strings.TrimSuffix(strings.TrimPrefix(loc, "/runs/"), "?flash=run-started")
	if run := waitRun(t, f.eng, id); run.Steps[0].Output.(map[string]any)["body"].(map[string]any)["lead"] != "ada" {
		t.Fatalf("list run did not reuse the latest event: %+v", run.Steps)
	}

	// A poll that finds nothing goes back to the flow and says so.
	r, _ = b.post("/flows/p/run", nil)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/flows/p/edit?flash=run-none" {
		t.Fatalf("poll run now: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	_, page = b.do("GET", "/flows/p/edit", nil)
	if !strings.Contains(page, ">Poll now</button>") {
		t.Fatal("a poll flow's button should read Poll now")
	}
	_, page = b.do("GET", "/flows", nil)
	if !strings.Contains(page, `id="run-now-m"`) || !strings.Contains(page, `id="run-now-p"`) {
		t.Fatal("the flows list lacks Run now buttons")
	}
}
