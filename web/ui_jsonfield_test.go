package web

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	_ "github.com/switchyard/switchyard/connectors/slack"
	"github.com/switchyard/switchyard/engine"
)

// httpStepForm is the builder form of a new flow with one http.request
// step posting to target.
func httpStepForm(t *testing.T, b *browser, target string) url.Values {
	t.Helper()
	v := newBuilderForm(t, b, "leads")
	_, page := b.builder("/flows/new", v, "add:steps:http.request")
	v = formValues(t, page)
	v.Set("steps.0.with.method", "POST")
	v.Set("steps.0.with.url", target)
	return v
}

func TestJSONBodyRowsSendTypedValues(t *testing.T) {
	got := make(chan []byte, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- body
		w.WriteHeader(204)
	}))
	defer api.Close()
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := httpStepForm(t, b, api.URL+"/leads")
	if v.Get("steps.0.with.body.mode") != "rows" {
		t.Fatalf("an HTTP body starts as rows: %v", v)
	}
	// One row per type, each value plain or one inserted field.
	v["steps.0.with.body.rk"] = []string{"email", "score", "score_text", "vip", "tags", "source", "profile", ""}
	v["steps.0.with.body.rt"] = []string{"auto", "number", "text", "bool", "json", "text", "auto", "auto"}
	v["steps.0.with.body.rv"] = []string{"{{ trigger.body.email }}", "{{ trigger.body.score }}", "{{ trigger.body.score }}", "yes",
		`["lead", "bot"]`, "chatbot", "{{ trigger.body.profile }}", ""}
	r, page := b.builder("/flows/new", v, "save")
	if r.StatusCode != 204 {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
	}
	a, err := f.eng.Flow("leads")
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Steps []struct {
			With map[string]any `json:"with"`
		} `json:"steps"`
	}
	_ = json.Unmarshal(a.Record.Flow, &saved)
	body, _ := json.Marshal(saved.Steps[0].With["body"])
	want := `{"email":"{{ trigger.body.email }}","profile":"{{ trigger.body.profile }}","score":"{{ float(trigger.body.score) }}","score_text":"{{ string(trigger.body.score) }}","source":"chatbot","tags":["lead","bot"],"vip":true}`
	if string(body) != want {
		t.Fatalf("saved body %s\nwant %s", body, want)
	}
	// Shown again, the rows read as they were typed.
	_, page = b.do("GET", "/flows/leads/edit", nil)
	back := formValues(t, page)
	if strings.Join(back["steps.0.with.body.rt"], ",") != "auto,auto,number,text,auto,json,bool,auto" ||
		back["steps.0.with.body.rv"][2] != "{{ trigger.body.score }}" {
		t.Fatalf("rows shown back: %v %v %v", back["steps.0.with.body.rk"], back["steps.0.with.body.rt"], back["steps.0.with.body.rv"])
	}
	// A lead whose score is text arrives as a number.
	hook(t, f, "leads", `{"email": "ada@example.com", "score": "85", "profile": {"city": "Oslo"}}`)
	var sent map[string]any
	if err := json.Unmarshal(<-got, &sent); err != nil {
		t.Fatal(err)
	}
	if sent["score"] != float64(85) || sent["score_text"] != "85" || sent["vip"] != true || sent["email"] != "ada@example.com" ||
		sent["profile"].(map[string]any)["city"] != "Oslo" || len(sent["tags"].([]any)) != 2 {
		t.Fatalf("sent %v", sent)
	}
}

func TestJSONFieldErrorsAtSaveAndTest(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := httpStepForm(t, b, "https://api.example.com/x")
	v["steps.0.with.body.rk"] = []string{"score", ""}
	v["steps.0.with.body.rt"] = []string{"number", "auto"}
	v["steps.0.with.body.rv"] = []string{"lots", ""}
	_, page := b.builder("/flows/new", v, "save")
	if !strings.Contains(html.UnescapeString(page), `score: "lots" is not a number`) || !strings.Contains(page, `id="form-errors"`) {
		t.Fatalf("a number row with text saved: %s", errorSummary(page))
	}

	// Raw JSON, as a power user writes it: the picker's classic mistake,
	// a template outside quotes, is refused with the fix.
	_, page = b.builder("/flows/new", v, "jsonmode:steps.0.with.body:raw")
	v = formValues(t, page)
	if v.Get("steps.0.with.body.mode") != "raw" || !strings.Contains(page, `id="steps-0-with-body-rows"`) {
		t.Fatalf("raw mode: %v", v)
	}
	if got := v.Get("steps.0.with.body"); !strings.Contains(got, `"score": "lots"`) {
		t.Fatalf("raw mode shows %q", got)
	}
	v.Set("steps.0.with.body", `{"email": {{ trigger.body.email }}}`)
	for _, op := range []string{"save", "test"} {
		_, page = b.builder("/flows/new", v, op)
		page = html.UnescapeString(page)
		if !strings.Contains(page, "not valid JSON") || !strings.Contains(page, `put each {{ … }} in quotes`) {
			t.Fatalf("%s with broken JSON:\n%.3000s", op, page)
		}
	}
	if !strings.Contains(page, `id="test-error"`) {
		t.Fatal("Test ran with broken JSON")
	}
	v.Set("steps.0.with.body", `plain words`)
	if _, page = b.builder("/flows/new", v, "save"); !strings.Contains(html.UnescapeString(page), `write it in quotes: "plain words"`) {
		t.Fatalf("plain text body: %s", errorSummary(page))
	}
	// A lone template is fine: it keeps the value's type.
	v.Set("steps.0.with.body", `{{ trigger.body }}`)
	if r, page := b.builder("/flows/new", v, "save"); r.StatusCode != 204 {
		t.Fatalf("lone template body: %s", errorSummary(page))
	}
}

func TestJSONListFieldTakesLines(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := newBuilderForm(t, b, "leads")
	_, page := b.builder("/flows/new", v, "add:steps:slack.post_message")
	v = formValues(t, page)
	if v.Get("steps.0.with.blocks.mode") != "list" {
		t.Fatalf("slack blocks are not edited as lines: %v", v)
	}
	if r, body := f.do(t, "POST", "/api/connections", "application/json", `{"name": "slack", "type": "slack", "values": {"token": "xoxb-1"}}`); r.StatusCode/100 != 2 {
		t.Fatalf("connection: %d %s", r.StatusCode, body)
	}
	v.Set("steps.0.with.connection", "slack")
	v.Set("steps.0.with.channel", "#sales")
	v.Set("steps.0.with.blocks", "*New lead* {{ trigger.body.email }}\n\nScore {{ trigger.body.score }}\n")
	_, page = b.builder("/flows/new", v, "refresh")
	back := formValues(t, page)
	if back.Get("steps.0.with.blocks") != "*New lead* {{ trigger.body.email }}\nScore {{ trigger.body.score }}" {
		t.Fatalf("blocks round trip: %q", back.Get("steps.0.with.blocks"))
	}
	// A lone field, or several, on one line is text too.
	back.Set("steps.0.with.blocks", "{{ trigger.body.summary }}\n{{ trigger.body.a }} and {{ trigger.body.b }}\n*New lead* {{ trigger.body.email }}\nScore {{ trigger.body.score }}")
	_, page = b.builder("/flows/new", back, "refresh")
	if strings.Contains(page, "not valid JSON") {
		t.Fatalf("templates in lines read as JSON: %s", errorSummary(page))
	}
	back = formValues(t, page)
	back.Set("steps.0.with.blocks", "*New lead* {{ trigger.body.email }}\nScore {{ trigger.body.score }}")
	r, page := b.builder("/flows/new", back, "save")
	if r.StatusCode != 204 {
		t.Fatalf("save: %s", errorSummary(page))
	}
	a, _ := f.eng.Flow("leads")
	blocks, _ := json.Marshal(a.Flow().Steps[0].With["blocks"])
	if string(blocks) != `["*New lead* {{ trigger.body.email }}","Score {{ trigger.body.score }}"]` {
		t.Fatalf("saved blocks: %s", blocks)
	}
}

func TestTemplateFieldSuggestsBraces(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, body := b.check("", "template", "steps.0.with.text", "trigger.body.email", "X-CSRF-Token", b.csrf, "Sec-Fetch-Site", "same-origin")
	if !strings.Contains(html.UnescapeString(body), `Did you mean <code>{{ trigger.body.email }}</code>?`) || !strings.Contains(body, `data-fix="{{ trigger.body.email }}"`) {
		t.Fatalf("bare path: %s", body)
	}
	for _, src := range []string{"Hello trigger.body.email", "trigger", "#sales", "steps.a.output.x == 1"} {
		if _, body := b.check("", "template", "steps.0.with.text", src, "X-CSRF-Token", b.csrf, "Sec-Fetch-Site", "same-origin"); strings.Contains(body, "data-fix") {
			t.Errorf("%q got a fix: %s", src, body)
		}
	}
	// Every template field says what {{ }} does.
	v := newBuilderForm(t, b, "leads")
	_, page := b.builder("/flows/new", v, "add:steps:slack.post_message")
	if n := strings.Count(page, `class="help tmpl-help"`); n != 1 {
		t.Fatalf("template help shown %d times for one step", n)
	}
	for _, id := range []string{"steps-0-with-channel", "steps-0-with-text", "steps-0-with-blocks"} {
		if !regexp.MustCompile(`id="` + id + `"[^>]*placeholder="Text, or \{\{ a field \}\} from Insert data"`).MatchString(page) {
			t.Errorf("template field %s does not say what {{ }} does", id)
		}
	}
}

// FuzzJSONFieldForm feeds the json field editors any text: reading it
// never panics, and whatever is read without an error encodes as JSON.
func FuzzJSONFieldForm(f *testing.F) {
	for _, s := range []string{"", "{}", `{"a": {{ x }}}`, "{{ x }}", "85", "yes", "a\nb", "[", `"`, "{{ float(x) }}"} {
		f.Add(s, "json")
		f.Add(s, "number")
	}
	f.Fuzz(func(t *testing.T, text, typ string) {
		for _, mode := range []string{"rows", "list", "raw"} {
			r := &flowForm{v: url.Values{
				"b.mode": {mode}, "b": {text},
				"b.rk": {"k"}, "b.rt": {typ}, "b.rv": {text},
			}, errs: formErrors{}}
			v, _ := r.jsonValue("b", connectors.Field{Name: "b", Type: connectors.TypeJSON})
			if len(r.errs) == 0 {
				if _, err := json.Marshal(v); err != nil {
					t.Fatalf("%s %q: read %#v, which is not JSON: %v", mode, text, v, err)
				}
			}
		}
	})
}
