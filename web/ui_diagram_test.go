package web

import (
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// routerFlow has a switch with two branches and no "otherwise", a step
// after it, and a step whose condition skips it.
const routerFlow = `{"id": "router", "name": "Route leads", "enabled": true,
  "trigger": {"type": "webhook", "path": "router"},
  "steps": [
    {"id": "route", "switch": [
      {"when": "trigger.body.score >= 70", "steps": [{"id": "hot", "name": "Hot lead", "use": "data.set", "with": {"x": 1}}]},
      {"when": "trigger.body.score >= 30", "steps": [{"id": "warm", "use": "data.set", "with": {"x": 2}}]}
    ]},
    {"id": "never", "if": "false", "use": "data.set", "with": {"x": 3}},
    {"id": "after", "name": "Wrap up", "use": "data.set", "with": {"x": 4}}
  ]}`

// boxOf returns the SVG element of one diagram box (an <a> with the id).
func boxOf(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]*)" id="` + regexp.QuoteMeta(id) + `" class="([^"]*)"[^>]*>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no diagram box %s in the page", id)
	}
	return m[0]
}

func TestBuilderAndRunShowTheDiagram(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, routerFlow)

	_, page := b.do("GET", "/flows/router/edit", nil)
	if !strings.Contains(page, `<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" id="flow-diagram"`) {
		t.Fatalf("the builder has no diagram")
	}
	// Every box links to the form of what it shows.
	for id, href := range map[string]string{
		"flow-diagram-t":      "#trigger",
		"flow-diagram-0":      "#steps-0",
		"flow-diagram-0-b0-0": "#steps-0-switch-0-steps-0",
		"flow-diagram-0-b1-0": "#steps-0-switch-1-steps-0",
		"flow-diagram-2":      "#steps-2",
	} {
		if box := boxOf(t, page, id); !strings.Contains(box, `href="`+href+`"`) {
			t.Errorf("box %s: %s, want a link to %s", id, box, href)
		}
		if !strings.Contains(page, `id="`+strings.TrimPrefix(href, "#")+`"`) {
			t.Errorf("the link %s leads to no element", href)
		}
	}
	// Business words: the step's label, the connector's name, branches.
	for _, want := range []string{">Hot lead</text>", ">Set data</text>", ">Branch 1</text>", ">Branch 2</text>", ">No match</text>", ">Wrap up</text>", "/hooks/router"} {
		if !strings.Contains(page, want) {
			t.Errorf("builder diagram lacks %s", want)
		}
	}
	if strings.Contains(page, "data.set</text>") {
		t.Error("the diagram shows a connector id instead of its name")
	}

	// A warm lead: branch 2 taken, branch 1 not, "never" skipped.
	run := waitRun(t, f.eng, hook(t, f, "router", `{"score": 50}`))
	if run.Status != engine.RunSucceeded {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	_, page = b.do("GET", "/runs/"+run.ID, nil)
	for id, want := range map[string]string{
		"run-diagram-t":      "fd-succeeded",
		"run-diagram-0":      "fd-succeeded",
		"run-diagram-0-b0-0": "fd-not-reached",
		"run-diagram-0-b1-0": "fd-succeeded",
		"run-diagram-1":      "fd-skipped",
		"run-diagram-2":      "fd-succeeded",
	} {
		if box := boxOf(t, page, id); !strings.Contains(box, want) {
			t.Errorf("run box %s: %s, want %s", id, box, want)
		}
	}
	// A box of a step that ran links to its result; one that did not, to
	// its form in the builder.
	if box := boxOf(t, page, "run-diagram-0-b1-0"); !strings.Contains(box, `href="#step-warm"`) || !strings.Contains(page, `id="step-warm"`) {
		t.Errorf("ran step's box: %s", box)
	}
	if box := boxOf(t, page, "run-diagram-0-b0-0"); !strings.Contains(box, `href="/flows/router/edit#steps-0-switch-0-steps-0"`) {
		t.Errorf("unreached step's box: %s", box)
	}
	for _, want := range []string{`<g class="fd-edge fd-taken">`, "Branch 2 ✓", `<g class="fd-edge fd-not-taken"><title>Branch 1:`, "Took Branch 2 (output case 1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("run page lacks %s", want)
		}
	}

	// No branch matches: the "No match" way is the one taken.
	run = waitRun(t, f.eng, hook(t, f, "router", `{"score": 5}`))
	_, page = b.do("GET", "/runs/"+run.ID, nil)
	if !strings.Contains(page, "No match ✓") || !strings.Contains(page, "No branch matched") {
		t.Errorf("a run without a matching branch does not say so")
	}
	if box := boxOf(t, page, "run-diagram-0-b1-0"); !strings.Contains(box, "fd-not-reached") {
		t.Errorf("branch 2 after no match: %s", box)
	}
}

// TestDiagramEscapesNames: the diagram is written with templ.Raw, so
// every name in it must arrive escaped.
func TestDiagramEscapesNames(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "evil", "name": "<img src=x onerror=alert(1)>", "enabled": true,
	  "trigger": {"type": "webhook", "path": "evil", "dedupe": "'\"><svg onload=alert(2)>'"},
	  "steps": [{"id": "a", "name": "\"><script>alert(3)</script>", "use": "data.set", "with": {"x": 1}}]}`)
	_, page := b.do("GET", "/flows/evil/edit", nil)
	svg := regexp.MustCompile(`(?s)<svg xmlns.*?</svg>`).FindString(page)
	if svg == "" {
		t.Fatal("no diagram")
	}
	for _, raw := range []string{"<img", "<script", "<svg onload", "<title><"} {
		if strings.Contains(svg, raw) {
			t.Errorf("the diagram holds %q unescaped", raw)
		}
	}
	if !strings.Contains(svg, "&lt;script&gt;alert(3)") {
		t.Errorf("the step name is not shown escaped")
	}
}

// TestTestRunDiagram: the builder's Test draws the path the test run took.
func TestTestRunDiagram(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, routerFlow)
	_, page := b.do("GET", "/flows/router/edit", nil)
	v := formValues(t, page)
	v.Set("_test_payload", `{"score": 90}`)
	_, page = b.builder("/flows/router/edit", v, "test")
	if !strings.Contains(page, `id="test-diagram"`) {
		t.Fatal("no diagram of the test run")
	}
	if box := boxOf(t, page, "test-diagram-0-b0-0"); !strings.Contains(box, "fd-succeeded") || !strings.Contains(box, `href="#test-step-hot"`) {
		t.Errorf("hot branch step in the test diagram: %s", box)
	}
	if box := boxOf(t, page, "test-diagram-0-b1-0"); !strings.Contains(box, "fd-not-reached") || !strings.Contains(box, `href="#steps-0-switch-1-steps-0"`) {
		t.Errorf("warm branch step in the test diagram: %s", box)
	}
}

// A flow only other flows call says so in its diagram, not "Started by
// hand".
func TestDiagramOfACalledFlow(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "enrich", "name": "Enrich", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"x": 1}}]}`)
	_, page := b.do("GET", "/flows/enrich/edit", nil)
	box := boxOf(t, page, "flow-diagram-t")
	if !strings.Contains(box, `aria-label="When another flow calls it`) {
		t.Fatalf("the diagram of a called flow does not say it is called: %s", box)
	}
}
