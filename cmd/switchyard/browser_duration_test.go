package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrowserPickedWaits builds, in the browser, a webhook answered after
// its run whose CRM call is retried: the sender's wait and the retry's
// backoff are picked as a number and a unit, never typed as "45s". The
// CRM refuses the first call with 503; the second, a picked second later,
// succeeds, and the sender gets the flow's answer.
func TestBrowserPickedWaits(t *testing.T) {
	needChromium(t)
	crm := newRecorder(t, func(n int, r *http.Request) (int, string) {
		if n == 1 {
			return 503, `{"error":"busy"}`
		}
		return 200, `{"quote":"Q-7"}`
	})
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)

	b.click("#new-flow")
	b.visible("#builder")
	b.typeInto("#name", "Quote relay")
	b.typeInto("#trigger-path", "quote")
	b.gone("#trigger-timeout") // answered at once, nobody waits
	b.choose("#trigger-respond", "sync")
	b.visible("#trigger-timeout")
	b.settled()
	if got := brEval[string](b, `document.querySelector('#trigger-timeout').placeholder`); got != "30" || b.value("#trigger-timeout-unit") != "s" {
		t.Errorf("the sender's wait shows %q %q when empty, want its default 30 seconds", got, b.value("#trigger-timeout-unit"))
	}
	b.typeInto("#trigger-timeout", "45")
	b.do(brEvalVoid(`document.querySelector('#trigger-timeout').scrollIntoView({block: "center"})`))
	b.screenshot("builder-sync-wait.png")
	b.click("#add-steps-http-request")
	b.visible("#steps-0-with-url")
	b.choose("#steps-0-with-method", "POST")
	b.typeInto("#steps-0-with-url", crm.url+"/quotes")
	b.click("#steps-0-retry-summary + details > summary")
	b.typeInto("#steps-0-retry-attempts", "2\t")
	b.waitText("#steps-0-retry-summary", "tried up to 2 times, waiting about 2 s")
	htmxSettled(b)
	b.typeInto("#steps-0-retry-backoff", "1\t")
	b.waitText("#steps-0-retry-summary", "tried up to 2 times, waiting about 1 s")
	htmxSettled(b)
	b.pick("#steps-0-retry-max_backoff-unit", "m")
	b.typeInto("#steps-0-retry-max_backoff", "5\t")
	htmxSettled(b)
	b.do(brEvalVoid(`document.querySelector('#steps-0-retry-backoff').scrollIntoView({block: "center"})`))
	b.screenshot("builder-waits.png")
	b.click("#save-flow")
	b.visible("#flash")

	var saved struct {
		Flow struct {
			Trigger struct {
				Timeout string `json:"timeout"`
			} `json:"trigger"`
			Steps []struct {
				Retry struct {
					Attempts   int    `json:"attempts"`
					Backoff    string `json:"backoff"`
					MaxBackoff string `json:"max_backoff"`
				} `json:"retry"`
			} `json:"steps"`
		} `json:"flow"`
	}
	raw := in.mustAPI(200, "GET", "/api/flows/quote-relay", nil)
	if err := json.Unmarshal(raw, &saved); err != nil || len(saved.Flow.Steps) != 1 {
		t.Fatalf("saved flow: %v %s", err, raw)
	}
	if d, _ := time.ParseDuration(saved.Flow.Trigger.Timeout); d != 45*time.Second {
		t.Errorf("the sender's wait is saved as %q, want 45 seconds", saved.Flow.Trigger.Timeout)
	}
	r := saved.Flow.Steps[0].Retry
	if b, _ := time.ParseDuration(r.Backoff); b != time.Second || r.Attempts != 2 {
		t.Errorf("retry saved as %+v, want 2 attempts a second apart", r)
	}
	if m, _ := time.ParseDuration(r.MaxBackoff); m != 5*time.Minute {
		t.Errorf("max backoff saved as %q, want 5 minutes", r.MaxBackoff)
	}

	resp, body, err := in.hook("quote", "application/json", []byte(`{"sku":"A-1"}`))
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "Q-7") {
		t.Fatalf("the sender got %v %v %s, want 200 with the quote", err, resp, body)
	}
	heard := crm.all()
	if len(heard) != 2 {
		t.Fatalf("the CRM heard %d calls, want the refused one and its retry", len(heard))
	}
	// One second, less the jitter of at most a fifth.
	if gap := heard[1].At.Sub(heard[0].At); gap < 800*time.Millisecond {
		t.Errorf("the retry came %v after the refused call, want about the picked second", gap)
	}

	// Opened again, each wait shows in the unit it was picked in.
	b.open("/flows/quote-relay/edit")
	for sel, want := range map[string]string{"#trigger-timeout": "45", "#trigger-timeout-unit": "s", "#steps-0-retry-backoff": "1",
		"#steps-0-retry-backoff-unit": "s", "#steps-0-retry-max_backoff": "5", "#steps-0-retry-max_backoff-unit": "m"} {
		if got := b.value(sel); got != want {
			t.Errorf("%s is %q, want %q", sel, got, want)
		}
	}
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("console: %q", p)
	}
}
