package web

import (
	"context"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

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
		{"text", "x", "soon", "store-form-ttl-error", "write a whole number"},
		{"text", "x", "-3", "store-form-ttl-error", "write a whole number"},
		{"text", "x", "999999999", "store-form-ttl-error", "at most 100 years"},
	} {
		r, page := b.post("/store/bot/count/edit", url.Values{"type": {c.kind}, "value": {c.value}, "ttl_amount": {c.ttl}, "ttl_unit": {"d"}})
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
	// Expires after: an amount and a unit picked, no duration syntax.
	if r, _ := b.post("/store/bot/count/edit", url.Values{"type": {"number"}, "value": {"8"}, "ttl_amount": {"2"}, "ttl_unit": {"h"}}); r.StatusCode != 303 {
		t.Fatalf("edit with an expiry: %d", r.StatusCode)
	}
	e, _ := f.eng.KVGet(ctx, "bot", "count")
	if e.ExpiresAt == nil || time.Until(*e.ExpiresAt) < 119*time.Minute || time.Until(*e.ExpiresAt) > 121*time.Minute {
		t.Fatalf("2 hours stored as expiry %v", e.ExpiresAt)
	}
	// Saved again with the amount left empty, it keeps that expiry; with
	// Never ticked, it has none.
	_, page = b.do("GET", "/store/bot/count/edit", nil)
	if !strings.Contains(page, `id="store-form-ttl-never"`) || !strings.Contains(page, "Empty: it keeps expiring") {
		t.Errorf("the edit form of an expiring value offers no way to keep or drop the expiry: %.3000s", page)
	}
	if r, _ := b.post("/store/bot/count/edit", url.Values{"type": {"number"}, "value": {"9"}, "ttl_unit": {"h"}}); r.StatusCode != 303 {
		t.Fatalf("edit keeping the expiry: %d", r.StatusCode)
	}
	if again, _ := f.eng.KVGet(ctx, "bot", "count"); string(again.Value) != "9" || again.ExpiresAt == nil || again.ExpiresAt.Sub(*e.ExpiresAt).Abs() > time.Second {
		t.Errorf("an edit without an amount moved the expiry from %v to %v", e.ExpiresAt, again.ExpiresAt)
	}
	if r, _ := b.post("/store/bot/count/edit", url.Values{"type": {"number"}, "value": {"7"}, "ttl_unit": {"h"}, "ttl_never": {"1"}}); r.StatusCode != 303 {
		t.Fatalf("edit with Never: %d", r.StatusCode)
	}
	if again, _ := f.eng.KVGet(ctx, "bot", "count"); again.ExpiresAt != nil {
		t.Errorf("Never ticked, the value still expires at %v", again.ExpiresAt)
	}
	// Lists and named values need no JSON: lines, and rows of name, kind
	// and value, stored in the rows' order; the edit form gives them back
	// the same way, and only nested values fall back to JSON.
	if code, page := add("emails", "list", "ada@example.com\r\n\r\n  bob@example.com \r\n"); code != 303 {
		t.Fatalf("add a list: %d %.400s", code, page)
	}
	rows := url.Values{"namespace": {"bot"}, "key": {"plan"}, "type": {"object"},
		"row.name": {"tier", "", "seats", "active"}, "row.type": {"text", "text", "number", "bool"}, "row.value": {" Gold <b>", "", " 5 ", "yes"}}
	if r, page := b.post("/store", rows); r.StatusCode != 303 {
		t.Fatalf("add named values: %d %.400s", r.StatusCode, page)
	}
	for key, want := range map[string]string{"emails": `["ada@example.com","bob@example.com"]`, "plan": `{"tier":" Gold <b>","seats":5,"active":true}`} {
		if e, err := f.eng.KVGet(ctx, "bot", key); err != nil || string(e.Value) != want {
			t.Errorf("%s stored %s (%v), want %s", key, e.Value, err, want)
		}
	}
	_, page = b.do("GET", "/store/bot/emails/edit", nil)
	if !strings.Contains(page, `<option value="list" selected`) || !strings.Contains(page, ">ada@example.com\nbob@example.com</textarea>") {
		t.Errorf("edit a list: %.3000s", page)
	}
	_, page = b.do("GET", "/store/bot/plan/edit", nil)
	if !strings.Contains(page, `<option value="object" selected`) || strings.Contains(page, `id="store-form-value"`) ||
		!strings.Contains(page, `id="store-row-0-name" name="row.name" value="tier"`) || !strings.Contains(page, `value=" Gold &lt;b&gt;"`) || !strings.Contains(page, `id="store-row-1-value" name="row.value" value="5"`) ||
		!strings.Contains(page, `id="store-row-3-name"`) {
		t.Errorf("edit named values: %.4000s", page)
	}
	_, page = b.do("GET", "/store/bot/tags/edit", nil)
	if !strings.Contains(page, `<option value="json" selected`) {
		t.Errorf("a nested list is not offered as JSON: %.3000s", page)
	}
	for _, c := range []struct {
		names, types, values []string
		msg                  string
	}{
		{[]string{"", "b"}, []string{"text", "text"}, []string{"x", "y"}, "row 1: give the value a name"},
		{[]string{"a", "a"}, []string{"text", "text"}, []string{"x", "y"}, `row 2: the name "a" is given twice`},
		{[]string{"a", "n"}, []string{"text", "number"}, []string{"x", "many"}, "row 2 (n): not a number"},
		{[]string{"", ""}, []string{"text", "text"}, []string{"", ""}, "give at least one name and value"},
	} {
		r, page := b.post("/store/bot/plan/edit", url.Values{"type": {"object"}, "row.name": c.names, "row.type": c.types, "row.value": c.values})
		i := strings.Index(page, `id="store-form-value-error"`)
		if r.StatusCode != 422 || i < 0 || !strings.Contains(html.UnescapeString(page[i:min(len(page), i+300)]), c.msg) {
			t.Errorf("rows %q: %d, want %q", c.names, r.StatusCode, c.msg)
		}
	}
	// Changing the kind saves nothing and carries what was typed over.
	r, page := b.post("/store/bot/plan/edit", url.Values{"_op": {"kind"}, "shown": {"json"}, "type": {"object"}, "value": {`{"city": "Oslo", "zip": 150}`}})
	if r.StatusCode != 200 || !strings.Contains(page, `value="city"`) || !strings.Contains(page, `value="Oslo"`) || !strings.Contains(page, `value="150"`) {
		t.Errorf("JSON to rows: %d %.3000s", r.StatusCode, page)
	}
	r, page = b.post("/store/bot/plan/edit", url.Values{"_op": {"kind"}, "shown": {"text"}, "type": {"list"}, "value": {"a\nb"}})
	if r.StatusCode != 200 || !strings.Contains(page, ">a\nb</textarea>") {
		t.Errorf("text to a list: %d %.3000s", r.StatusCode, page)
	}
	r, page = b.post("/store/bot/plan/edit", url.Values{"_op": {"rows"}, "type": {"object"}, "row.name": {"a"}, "row.type": {"text"}, "row.value": {"x"}})
	if r.StatusCode != 200 || !strings.Contains(page, `id="store-row-6-name"`) || strings.Contains(page, `id="store-row-7-name"`) {
		t.Errorf("more rows: %d %.3000s", r.StatusCode, page)
	}
	if e, _ := f.eng.KVGet(ctx, "bot", "plan"); string(e.Value) != `{"tier":" Gold <b>","seats":5,"active":true}` {
		t.Errorf("a kind change or more rows saved: %s", e.Value)
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
