package engine

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// A webhook's terms are its payload and outputs and the headers that say
// something about the delivery; transport and credential headers are
// never terms.
func TestSearchTermsSkipTransportAndCredentialHeaders(t *testing.T) {
	ev := &Event{Body: []byte(`{"email":"ada@example.com"}`), Headers: map[string]string{
		"content-type": "application/json", "content-length": "27", "host": "hooks.example.com",
		"x-forwarded-for": "203.0.113.9", "accept-encoding": "gzip", "user-agent": "Stripe/1.0",
		"x-github-event": "push", "x-hub-signature-256": "sha256=abc", "authorization": "Bearer s3cr3t",
	}}
	terms := SearchTerms(ev, nil)
	for _, want := range []string{"ftrigger.body.email=ada@example.com", "wada", "ftrigger.headers.user-agent=stripe/1.0", "ftrigger.headers.x-github-event=push"} {
		if !slices.Contains(terms, want) {
			t.Errorf("missing term %q in %q", want, terms)
		}
	}
	for _, term := range terms {
		for _, banned := range []string{"content-type", "content-length", "host", "x-forwarded-for", "accept-encoding", "signature", "authorization", "s3cr3t", "json", "gzip"} {
			if strings.Contains(term, banned) {
				t.Errorf("term %q holds %q", term, banned)
			}
		}
	}
	// What a step's call got back: the same headers are skipped there,
	// and the answer's own (its date) too; the body stays.
	run := &Run{Steps: []StepResult{{ID: "send", Output: map[string]any{
		"status": 200,
		"headers": map[string]any{"content-type": "application/json", "date": "Thu, 03 Dec 2026 09:47:12 GMT",
			"server": "nginx", "set-cookie": "sid=s3cr3t", "x-request-id": "req-77"},
		"body": map[string]any{"deal": "d-9"},
	}}}}
	terms = SearchTerms(nil, run)
	for _, want := range []string{"fsteps.send.output.headers.x-request-id=req-77", "fsteps.send.output.body.deal=d-9"} {
		if !slices.Contains(terms, want) {
			t.Errorf("missing term %q in %q", want, terms)
		}
	}
	for _, term := range terms {
		for _, banned := range []string{"content-type", "date", "2026", "nginx", "cookie", "s3cr3t", "json"} {
			if strings.Contains(term, banned) {
				t.Errorf("step output term %q holds %q", term, banned)
			}
		}
	}
}

// FuzzSearchTermsStored: a step output read as JSON text gives the same
// terms as the same output decoded with encoding/json, whatever it holds:
// keys given twice, escapes, numbers in any notation, invalid UTF-8, a
// call's answer headers (some of which are no terms).
func FuzzSearchTermsStored(f *testing.F) {
	for _, seed := range []string{
		`{"status":201,"body":{"deal":"d-9","tags":["gold","eu"]}}`,
		`{"status":200,"headers":{"date":"Thu","x-request-id":"r-1","Set-Cookie":"a=b"},"body":"ok"}`,
		`{"a":1,"a":2,"b":{"c":[1e3,1.50,-0.0,12345678901234567890]}}`,
		`{"k\u00e9y":"caf\u00e9 \ud83d\ude00","e":"\ud800","x":"` + "\xff\xfe" + `"}`,
		`[true,false,null,{"z":"Z","y":"Y"}]`,
		`"just text"`, `3.25`, `null`, `{}`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out any
		if json.Unmarshal(data, &out) != nil {
			return // no output the old decoding could have indexed
		}
		run := &Run{Steps: []StepResult{{ID: "send", Output: out}, {ID: "reply", Output: out}}}
		want := SearchTerms(nil, run)
		stored := `{"id":"r","event_id":"e-1","steps":[{"id":"send","output":` + string(data) +
			`},{"id":"reply","status":"succeeded","output":` + string(data) + `}]}`
		steps, eventID, ok := StoredSteps([]byte(stored))
		if !ok || eventID != "e-1" || len(steps) != 2 {
			t.Fatalf("StoredSteps(%q) = %d steps, event %q, %v", stored, len(steps), eventID, ok)
		}
		got := SearchTermsStored(nil, steps)
		if !slices.Equal(got, want) {
			t.Fatalf("terms of %q read as text:\n%q\ndecoded:\n%q", data, got, want)
		}
	})
}
