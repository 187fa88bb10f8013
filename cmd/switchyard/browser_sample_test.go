package main

import (
	"encoding/json"
	"testing"
)

// A field clicked under Insert data goes into raw JSON as a value of its
// own type, or as text inside a string; a bare path in a template field
// is fixed with one click; a payload pasted into Test fills Insert data.
func TestBrowserJSONChipsAndBarePathFix(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	b.click("#new-flow")
	b.visible("#builder")
	b.typeInto("#trigger-path", "leads")
	b.typeInto("#test-payload", `{"email": "ada@example.com", "score": 85}`)
	b.visible(`#refs button.ref[data-ref="trigger.body.score"]`)
	b.waitText("#refs-from", "the payload in Test")

	b.click("#add-steps-http-request")
	b.visible("#steps-0-with-body-0-key")
	b.click("#steps-0-with-body-raw")
	b.visible("textarea#steps-0-with-body")
	b.click("#steps-0-with-body")
	b.click(`#refs button.ref[data-ref="trigger.body.score"]`)
	if got := b.value("#steps-0-with-body"); got != `"{{ trigger.body.score }}"` {
		t.Fatalf("chip into an empty JSON field: %q", got)
	}
	// The cursor inside a string, then after a key.
	b.do(brEvalVoid(`(() => { const f = document.getElementById("steps-0-with-body");
		f.value = '{"greeting": "Hi ", "score": }'; const at = f.value.indexOf("Hi ") + 3; f.focus(); f.setSelectionRange(at, at); })()`))
	b.click(`#refs button.ref[data-ref="trigger.body.email"]`)
	b.do(brEvalVoid(`(() => { const f = document.getElementById("steps-0-with-body");
		const at = f.value.indexOf(": }") + 2; f.focus(); f.setSelectionRange(at, at); })()`))
	b.click(`#refs button.ref[data-ref="trigger.body.score"]`)
	got := b.value("#steps-0-with-body")
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil || v["greeting"] != "Hi {{ trigger.body.email }}" || v["score"] != "{{ trigger.body.score }}" {
		t.Fatalf("chips in JSON made %q (%v)", got, err)
	}

	// A path typed without braces: one click puts them around it.
	b.typeInto("#steps-0-with-url", "trigger.body.email")
	b.visible("#steps-0-with-url-check button[data-fix]")
	b.click("#steps-0-with-url-check button[data-fix]")
	if got := b.value("#steps-0-with-url"); got != "{{ trigger.body.email }}" {
		t.Fatalf("the fix made %q", got)
	}
	b.waitText("#steps-0-with-url-check", "ada@example.com")
	b.noScriptRan("chips and hints")
}
