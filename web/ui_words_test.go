package web

import (
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

func TestFieldWords(t *testing.T) {
	f, err := flows.Decode([]byte(routerFlow))
	if err != nil {
		t.Fatal(err)
	}
	f.Steps = append(f.Steps, flows.Step{ID: "call", Use: "http.request"})
	specs := map[string]connectors.Spec{}
	for _, sp := range connectors.Specs() {
		specs[sp.ID] = sp
	}
	for _, tc := range []struct{ path, want string }{
		{"steps[0].switch[0].when", "Step 1 “Choose a branch” › Branch 1 condition"},
		{"steps.0.switch.1.when", "Step 1 “Choose a branch” › Branch 2 condition"},
		{"steps[0].switch[0].steps[0].with", "Step 1 “Choose a branch” › Branch 1 › Step 1 “Hot lead” › Settings"},
		{"steps[0].switch[1].steps[0].id", "Step 1 “Choose a branch” › Branch 2 › Step 1 “Set data” › Step id"},
		{"steps[1].if", "Step 2 “Set data” › Run only if"},
		{"steps[3].with.url", "Step 4 “HTTP request” › URL"},
		{"steps[3].with.headers[\"X-Key\"]", "Step 4 “HTTP request” › Headers › X-Key"},
		{"steps[3].retry.attempts", "Step 4 “HTTP request” › Attempts"},
		{"steps[9].id", "Step 10 › Step id"},
		{"trigger.path", "Trigger › Webhook path"},
		{"trigger.verify.secret", "Trigger › Signing secret"},
		{"trigger.respond", "Trigger › Reply to the sender"},
		{"name", "Name"},
		{"id", "Flow id"},
	} {
		if got := views.FieldWords(f, specs, tc.path); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestBusinessWords: the builder's error summary, the run page and the
// pages of things that do not exist use the form's words, not field paths
// or connector ids.
func TestBusinessWords(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, routerFlow)

	// A broken branch condition: the summary names it as the form does.
	_, page := b.do("GET", "/flows/router/edit", nil)
	v := formValues(t, page)
	v.Set("steps.0.switch.0.when", "trigger.body.score >=")
	_, page = b.builder("/flows/router/edit", v, "save")
	summary := errorSummary(page)
	if !strings.Contains(summary, "Step 1 “Choose a branch” › Branch 1 condition") || strings.Contains(summary, "steps[0]") {
		t.Errorf("save summary: %q", summary)
	}
	// Test shows the same linked summary.
	_, page = b.builder("/flows/router/edit", v, "test")
	if s := errorSummary(page); !strings.Contains(s, "cannot be tested yet") || !strings.Contains(s, "Branch 1 condition") ||
		!strings.Contains(page, `href="#steps-0-switch-0-when-error"`) {
		t.Errorf("test summary: %q", s)
	}
	// A value the form cannot read (a duration) is summarised on Test
	// too, in words.
	v = formValues(t, page)
	v.Set("steps.0.switch.0.when", "trigger.body.score >= 70")
	v.Set("steps.2.retry.backoff", "soon")
	_, page = b.builder("/flows/router/edit", v, "test")
	if s := errorSummary(page); !strings.Contains(s, "Step 3 “Wrap up” › Backoff") || !strings.Contains(page, `href="#steps-2-retry-backoff-error"`) {
		t.Errorf("test summary of a form error: %q", s)
	}
	for _, dev := range []string{"Right away (async, explicit)", ">Switch (branches)<", ">Add case<", ">When<"} {
		if strings.Contains(page, dev) {
			t.Errorf("the builder still says %q", dev)
		}
	}

	// The run page: connector names, conditions named by their place.
	run := waitRun(t, f.eng, hook(t, f, "router", `{"score": 80}`))
	_, page = b.do("GET", "/runs/"+run.ID, nil)
	text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " ")
	for _, want := range []string{"Set data", "Branch 1 condition", "Run only if", "Took Branch 1 (output case 0)"} {
		if !strings.Contains(text, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	for _, dev := range []string{"data.set", "steps[0].switch[0].when", "Took case"} {
		if strings.Contains(text, dev) {
			t.Errorf("run page shows %q", dev)
		}
	}

	// Flows are named, not identified; triggers and signature schemes
	// are words.
	_, page = b.do("GET", "/runs", nil)
	if !strings.Contains(page, `title="Flow id router">Route leads</a>`) || !strings.Contains(page, `<option value="router">Route leads</option>`) {
		t.Error("the runs page does not name the flow")
	}
	_, page = b.do("GET", "/runs/"+run.ID, nil)
	if !strings.Contains(page, `id="run-flow">Route leads</a>`) {
		t.Error("the run page does not name the flow")
	}
	_, page = b.do("GET", "/flows", nil)
	if !strings.Contains(page, `<span class="trigger-type">Webhook</span>`) {
		t.Error("the flows list shows the trigger type's id")
	}
	_, page = b.do("GET", "/flows/router/edit", nil)
	if !strings.Contains(page, `<option value="github">GitHub</option>`) || !strings.Contains(page, `<option value="token">A shared token`) {
		t.Error("signature schemes are not named in words")
	}

	// Pages of things that do not exist speak plainly.
	for path, want := range map[string]string{
		"/flows/nope/edit":        "This flow does not exist",
		"/runs/run_0000000000099": "This run does not exist",
		"/no/such/page":           "There is no page at this address",
	} {
		r, page := b.do("GET", path, nil)
		if r.StatusCode != 404 || !strings.Contains(page, want) || strings.Contains(page, "engine:") || !strings.Contains(page, `id="message-back"`) {
			t.Errorf("%s: %d %s", path, r.StatusCode, regexp.MustCompile(`(?s)<main.*</main>`).FindString(page))
		}
	}
}
