package web

import (
	"context"
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestUIDataStore: values added through the form in each kind are stored
// as JSON of that kind (text never needs quotes); the edit form offers a
// value back in its kind; refusals show beside their field; a delete asks
// first.
func TestUIDataStore(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	ctx := context.Background()
	add := func(key, kind, value string) (int, string) {
		t.Helper()
		r, page := b.post("/store", url.Values{"namespace": {"bot"}, "key": {key}, "type": {kind}, "value": {value}})
		return r.StatusCode, page
	}
	for _, c := range []struct{ key, kind, value, stored string }{
		{"greeting", "text", `Hello "you" <b> & 5`, `"Hello \"you\" <b> & 5"`},
		{"count", "number", " 41 ", `41`},
		{"open", "bool", "yes", `true`},
		{"tags", "json", "[\"a\",\n  {\"b\": 1}]", `["a",{"b":1}]`},
	} {
		if code, page := add(c.key, c.kind, c.value); code != 303 {
			t.Fatalf("add %s: %d %.400s", c.key, code, page)
		}
		e, err := f.eng.KVGet(ctx, "bot", c.key)
		if err != nil || string(e.Value) != c.stored {
			t.Errorf("%s stored %s (%v), want %s", c.key, e.Value, err, c.stored)
		}
	}
	_, page := b.do("GET", "/store", nil)
	if !strings.Contains(page, `id="store-ns-bot"`) || !strings.Contains(page, ">4</td>") {
		t.Errorf("overview: %.2000s", page)
	}
	_, page = b.do("GET", "/store/bot", nil)
	if !strings.Contains(page, html.EscapeString(`"Hello \"you\" <b> & 5"`)) || !strings.Contains(page, html.EscapeString("[\n  \"a\",\n  {\n    \"b\": 1\n  }\n]")) {
		t.Errorf("namespace page shows no readable values: %.3000s", page)
	}
	// The edit form gives each value back in its kind.
	for key, want := range map[string][2]string{"greeting": {"text", `Hello &#34;you&#34; &lt;b&gt; &amp; 5`}, "count": {"number", "41"}, "open": {"bool", "yes"}} {
		_, page = b.do("GET", "/store/bot/"+key+"/edit", nil)
		if !strings.Contains(page, `<option value="`+want[0]+`" selected`) || !strings.Contains(page, ">"+want[1]+"</textarea>") {
			t.Errorf("edit %s: want kind %s and text %s: %.3000s", key, want[0], want[1], page)
		}
	}
	if r, _ := b.post("/store/bot/count/edit", url.Values{"type": {"number"}, "value": {"7"}}); r.StatusCode != 303 {
		t.Fatalf("edit: %d", r.StatusCode)
	}
	if e, _ := f.eng.KVGet(ctx, "bot", "count"); string(e.Value) != "7" {
		t.Errorf("after edit: %s", e.Value)
	}
	// Refusals beside their fields, nothing stored.
	for _, c := range []struct{ kind, value, ttl, field, msg string }{
		{"number", "seven", "", "store-form-value-error", "not a number"},
		{"json", "{nope", "", "store-form-value-error", "not valid JSON"},
		{"text", strings.Repeat("x", 70000), "", "store-form-value-error", "larger than 64 KiB"},
		{"text", "x", "soon", "store-form-ttl-error", "want a duration"},
	} {
		r, page := b.post("/store/bot/count/edit", url.Values{"type": {c.kind}, "value": {c.value}, "ttl": {c.ttl}})
		i := strings.Index(page, `id="`+c.field+`"`)
		if r.StatusCode != 422 || i < 0 || !strings.Contains(page[i:min(len(page), i+300)], c.msg) {
			t.Errorf("%s %q: %d, want %q at %s", c.kind, c.value[:min(10, len(c.value))], r.StatusCode, c.msg, c.field)
		}
	}
	if r, page := b.post("/store", url.Values{"namespace": {"bad name"}, "key": {"k"}, "type": {"text"}, "value": {"x"}}); r.StatusCode != 422 || !strings.Contains(page, "is not a namespace name") {
		t.Errorf("bad namespace: %d", r.StatusCode)
	}
	if e, _ := f.eng.KVGet(ctx, "bot", "count"); string(e.Value) != "7" {
		t.Errorf("a refused edit changed the value: %s", e.Value)
	}
	// Delete asks first; keys with a slash work in paths.
	add("a/b", "text", "slash")
	_, page = b.do("GET", "/store/bot/a%2Fb/delete", nil)
	if !strings.Contains(page, `id="confirm-delete-value"`) || !strings.Contains(page, `&#34;slash&#34;`) {
		t.Fatalf("delete confirmation: %.2000s", page)
	}
	if r, _ := b.post("/store/bot/a%2Fb/delete", nil); r.StatusCode != 303 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if _, err := f.eng.KVGet(ctx, "bot", "a/b"); err == nil {
		t.Error("deleted value is still there")
	}
}
