package engine

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
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

// splitWordsBefore is how words were split before eachWord, with
// strings.FieldsFunc: the reference eachWord must agree with.
func splitWordsBefore(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return true
		}
		return strings.ContainsRune("\"'`()[]{}<>,;|", r)
	}) {
		w = strings.TrimRight(w, ".:!?")
		w = strings.TrimLeft(w, ".:!?")
		if w == "" || len(w) > maxSearchWord || !utf8.ValidString(w) {
			continue
		}
		out = append(out, w)
		inner := strings.FieldsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if len(inner) == 1 && inner[0] == w {
			continue
		}
		out = append(out, inner...)
	}
	return out
}

// FuzzEachWord: the words of any text are those strings.FieldsFunc found.
func FuzzEachWord(f *testing.F) {
	for _, seed := range []string{
		"ada@example.com", "order o-123, total 42.", "...!?", "a--b__c", "(x) [y] {z} <w> 'q' \"r\" `s` |t| ;u;",
		"café\u00a0naïve\u2003日本語 ok", "\xff\xfeab c\x00d\x7fe", "élan—vital", "tab\tnew\nline\rcr",
		strings.Repeat("long", 20) + " short",
	} {
		f.Add(strings.ToLower(seed))
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got []string
		eachWord(s, func(w string) { got = append(got, w) })
		if want := splitWordsBefore(s); !slices.Equal(got, want) {
			t.Fatalf("words of %q:\n%q\nwith strings.FieldsFunc:\n%q", s, got, want)
		}
	})
}

// bodyTermsBefore are a body's terms as they were derived before the body
// was read as JSON text: decoded with UseNumber, then walked.
func bodyTermsBefore(body []byte) []string {
	t := &termSet{m: map[string]struct{}{}}
	var v any
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if d.Decode(&v) == nil {
		t.walk("trigger.body", v, 0)
	} else {
		t.value("trigger.body", string(body[:min(len(body), maxSearchText)]))
	}
	return t.out
}

// FuzzSearchTermsBody: an event body read as JSON text gives the terms
// it gave decoded, whatever it holds, JSON or not.
func FuzzSearchTermsBody(f *testing.F) {
	for _, seed := range []string{
		`{"email":"Ada@Example.com","lines":[{"sku":"A-1"},{"sku":"B-2"}]}`,
		`{"a":1,"a":2.50,"b":[1e3,-0.0,12345678901234567890,1E+2]}`, `{"k\u00e9y":"caf\u00e9","x":"\ud800` + "\xff" + `"}`,
		`{"a":1} trailing`, `{"a":1} {"b":2}`, `not json at all`, `[1, 2`, `"text"`, `42`, `null`, ` {"z":"Z","y":"Y"} `,
		`{"deep":` + strings.Repeat(`[`, 40) + `"x"` + strings.Repeat(`]`, 40) + `}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) == 0 {
			return // no body is not indexed
		}
		got := SearchTermsStored(&Event{Body: body}, nil)
		if want := bodyTermsBefore(body); !slices.Equal(got, want) {
			t.Fatalf("terms of body %q:\n%q\ndecoded:\n%q", body, got, want)
		}
	})
}

// FuzzStoredFields: the members StoredFields reads in one pass are those
// gjson.GetMany finds, for any JSON text (the indexer's records are
// checked as valid before it reads them).
func FuzzStoredFields(f *testing.F) {
	for _, seed := range []string{
		`{"event_id":"e-1","steps":[{"id":"a"}]}`, `{"steps":1,"steps":2,"event_id":null}`, `{"headers":{"a":"b"},"body":"eyJ9","query":null}`,
		`{"st\u0065ps":[],"body":""}`, `[{"steps":1}]`, `"steps"`, `{}`, `{"a":{"steps":1}}`,
	} {
		f.Add([]byte(seed))
	}
	names := []string{"event_id", "steps", "headers", "query", "body"}
	f.Fuzz(func(t *testing.T, js []byte) {
		if !json.Valid(js) {
			return
		}
		got := StoredFields(js, names...)
		want := gjson.GetManyBytes(js, names...)
		for i := range names {
			if got[i].Raw != want[i].Raw || got[i].Type != want[i].Type || got[i].Str != want[i].Str {
				t.Fatalf("%s of %s: %q, gjson.GetMany: %q", names[i], js, got[i].Raw, want[i].Raw)
			}
		}
	})
}

// TestEventSearchFields: each field offered comes with the search that
// finds it (its term is among the event's terms), values with blanks are
// quoted, and paths the query syntax cannot carry (a blank, a colon) are
// left out, as are credential headers and redacted values.
func TestEventSearchFields(t *testing.T) {
	ev := &Event{
		Body:    []byte(`{"email":"Ada@Example.com","name":"Ada Lovelace","n":42,"tags":["gold"],"weird key":"x","a:b":"y","note":"say \"hi\"","secret":"[redacted]"}`),
		Headers: map[string]string{"X-GitHub-Event": "push", "Authorization": "Bearer abc"},
		Query:   map[string]string{"source": "crm"},
	}
	got := EventSearchFields(ev, 20)
	want := []SearchField{
		{"trigger.body.email", "Ada@Example.com", "trigger.body.email:Ada@Example.com"},
		{"trigger.body.n", "42", "trigger.body.n:42"},
		{"trigger.body.name", "Ada Lovelace", `trigger.body.name:"Ada Lovelace"`},
		{"trigger.body.note", `say "hi"`, `trigger.body.note:"say "hi""`},
		{"trigger.body.tags", "gold", "trigger.body.tags:gold"},
		{"trigger.query.source", "crm", "trigger.query.source:crm"},
		{"trigger.headers.x-github-event", "push", "trigger.headers.x-github-event:push"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fields:\n%q\nwant\n%q", got, want)
	}
	terms := SearchTerms(ev, nil)
	for _, f := range got {
		q, err := ParseSearch(f.Query)
		if err != nil || len(q) != 1 || !slices.Contains(terms, q[0]) {
			t.Errorf("%s finds %q (%v), not among the event's terms", f.Query, q, err)
		}
	}
	if got := EventSearchFields(ev, 2); len(got) != 2 {
		t.Errorf("max 2 gave %d fields", len(got))
	}
}
