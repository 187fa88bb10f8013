package web

import (
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// TestFetchSampleOffersItemsAndKey: a poll trigger's items and item key
// are picked, not typed. "Fetch sample" without them offers the
// response's lists; the one used fills the items (the fields are swapped)
// and the next offer is the first item's single values, ids first; the
// key used fills the key and the items are fetched as usual.
func TestFetchSampleOffersItemsAndKey(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"meta": {"total": 2}, "tickets": [{"subject": "Printer on fire", "ticket_id": 7, "tags": ["hw"]},
		  {"subject": "Coffee", "ticket_id": 8, "tags": []}]}`))
	}))
	defer api.Close()
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := newBuilderForm(t, b, "")
	v.Set("trigger.type", "poll")
	_, page := b.builder("/flows/new", v, "refresh")
	v = formValues(t, page)
	v.Set("trigger.cron", "@every 5m")

	_, ans := b.post("/flows/sample/fetch", v, "HX-Request", "true")
	if !strings.Contains(ans, "Fill in the request URL first.") {
		t.Fatalf("fetch without a URL:\n%.2000s", ans)
	}

	v.Set("trigger.request.url", api.URL+"/tickets")
	_, ans = b.post("/flows/sample/fetch", v, "HX-Request", "true")
	ans = html.UnescapeString(ans)
	if !strings.Contains(ans, `id="fetch-pick-title"`) || !strings.Contains(ans, "response.body.tickets (2 items)") ||
		!strings.Contains(ans, `{"trigger.items":"response.body.tickets"}`) || strings.Contains(ans, "response.body.meta") {
		t.Fatalf("the response's lists are not offered:\n%.3000s", ans)
	}

	// "Use" sends the list as the items (hx-vals), as the browser does.
	v.Set("trigger.items", "response.body.tickets")
	_, ans = b.post("/flows/sample/fetch", v, "HX-Request", "true")
	ans = html.UnescapeString(ans)
	id, subject := strings.Index(ans, `{"trigger.key":"item.ticket_id"}`), strings.Index(ans, `{"trigger.key":"item.subject"}`)
	if id < 0 || subject < 0 || id > subject || strings.Contains(ans, "item.tags") || !strings.Contains(ans, "item.ticket_id (e.g. 7)") {
		t.Fatalf("the first item's values are not offered as the key, ids first:\n%.3000s", ans)
	}
	if !strings.Contains(ans, `id="poll-item-fields" hx-swap-oob="true"`) || !strings.Contains(ans, `name="trigger.items" value="response.body.tickets"`) {
		t.Fatalf("the items field is not swapped to show the list used:\n%.3000s", ans)
	}

	v.Set("trigger.key", "item.ticket_id")
	_, ans = b.post("/flows/sample/fetch", v, "HX-Request", "true")
	ans = html.UnescapeString(ans)
	for _, want := range []string{`id="fetch-count"`, "2 item(s)", `data-ref="trigger.body.subject"`, `name="trigger.key" value="item.ticket_id"`} {
		if !strings.Contains(ans, want) {
			t.Errorf("fetch with items and key lacks %s:\n%.3000s", want, ans)
		}
	}

	// A response without a list says so with its body, never its headers
	// (a session the credential bought may be in them).
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=s3cr3t-from-the-credential")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status": "ok"}`))
	}))
	defer plain.Close()
	none := cloneValues(v)
	none.Set("trigger.request.url", plain.URL)
	none.Set("trigger.items", "")
	none.Set("trigger.key", "")
	_, ans = b.post("/flows/sample/fetch", none, "HX-Request", "true")
	if ans = html.UnescapeString(ans); !strings.Contains(ans, `The response's body holds no list: {"status":"ok"}`) || strings.Contains(ans, "s3cr3t") {
		t.Fatalf("a response without a list:\n%.2000s", ans)
	}

	// A list the response does not hold is said so.
	v.Set("trigger.items", "response.body.nothing")
	v.Set("trigger.key", "")
	if _, ans = b.post("/flows/sample/fetch", v, "HX-Request", "true"); !strings.Contains(html.UnescapeString(ans), "Items found no list") {
		t.Fatalf("items that find nothing:\n%.2000s", ans)
	}
}
