package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

func TestUIRefusalsPanelAndVerifyOptions(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	if r, body := f.do(t, "POST", "/api/connections", "application/json", `{"name": "tok", "type": "secret", "values": {"value": "s3cret"}}`); r.StatusCode/100 != 2 {
		t.Fatalf("connection: %d %s", r.StatusCode, body)
	}
	createFlow(t, f, `{"id": "guarded", "name": "guarded", "enabled": true,
	  "trigger": {"type": "webhook", "path": "guarded", "verify": {"scheme": "token", "secret": "tok", "header": "X-Token", "prefix": "Bearer "}},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)

	_, page := b.do("GET", "/flows/guarded/edit", nil)
	if !strings.Contains(page, `id="refusals-empty"`) {
		t.Fatalf("no empty refusals panel: %.500s", page)
	}
	// A real refusal, and one whose reason holds markup.
	if r, _ := f.do(t, "POST", "/hooks/guarded", "application/json", `{"secret": "xyzzy-body-marker"}`); r.StatusCode != 401 {
		t.Fatalf("unsigned request: %d, want 401", r.StatusCode)
	}
	f.eng.RecordRefusal(engine.Refusal{FlowID: "guarded", Remote: "203.0.113.9", Scheme: "hmac", Reason: `<img src=x onerror=alert(1)>`, Status: 403})
	_, page = b.do("GET", "/flows/guarded/edit", nil)
	for _, want := range []string{`id="refusals-table"`, "203.0.113.9", "&lt;img src=x onerror=alert(1)&gt;", "<dd>token</dd>", "<td>401</td>", "<td>403</td>",
		"Signature or token failed", "missing X-Token header", "POST /hooks/guarded", engine.Redacted} {
		if !strings.Contains(page, want) {
			t.Errorf("refusals panel lacks %q", want)
		}
	}
	if i := strings.Index(page, "<img src=x"); i >= 0 {
		t.Errorf("the refusals panel shows markup unescaped: %s", page[max(0, i-200):i+50])
	}
	// The body's excerpt is kept, but a credential-like field's value is not.
	if strings.Contains(page, "xyzzy-body-marker") {
		i := strings.Index(page, "xyzzy-body-marker")
		t.Errorf("the page shows a secret of a refused body: %s", page[max(0, i-300):i+50])
	}
	if n := strings.Count(page, `class="refusal-row"`); n != 2 {
		t.Errorf("%d refusal rows, want 2", n)
	}

	// The verify options show, and the form round-trips them.
	for _, want := range []string{`id="trigger-verify-header" name="trigger.verify.header" value="X-Token"`, `id="trigger-verify-prefix" name="trigger.verify.prefix" value="Bearer "`,
		`id="trigger-verify-algorithm"`, `id="trigger-verify-allow_ips"`, `id="trigger-verify-tolerance"`} {
		if !strings.Contains(page, want) {
			t.Errorf("builder lacks %s", want)
		}
	}
	v := formValues(t, page)
	v.Set("trigger.verify.allow_ips", "10.0.0.0/8, 192.0.2.1")
	if r, body := b.builder("/flows/guarded/edit", v, "save"); r.Header.Get("HX-Redirect") != "/flows/guarded/edit?flash=saved" {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(body))
	}
	a, _ := f.eng.Flow("guarded")
	vf := a.Flow().Trigger.Verify
	if vf == nil || vf.Scheme != "token" || vf.Secret != "tok" || vf.Header != "X-Token" || vf.Prefix != "Bearer " ||
		strings.Join(vf.AllowIPs, ",") != "10.0.0.0/8,192.0.2.1" {
		t.Fatalf("verify after the round trip: %+v", vf)
	}
	// Switching to a scheme that reads none of them drops the token
	// options instead of failing on them.
	_, page = b.do("GET", "/flows/guarded/edit", nil)
	v = formValues(t, page)
	v.Set("trigger.verify.scheme", "github")
	if r, body := b.builder("/flows/guarded/edit", v, "save"); r.Header.Get("HX-Redirect") == "" {
		t.Fatalf("save as github: %d %s", r.StatusCode, errorSummary(body))
	}
	a, _ = f.eng.Flow("guarded")
	if vf := a.Flow().Trigger.Verify; vf.Scheme != "github" || vf.Header != "" || vf.Prefix != "" || len(vf.AllowIPs) != 2 {
		t.Fatalf("verify after switching to github: %+v", vf)
	}
}

// TestVerifyOptionsMatchValidation checks the builder's list of which
// scheme reads which option against flow validation.
func TestVerifyOptionsMatchValidation(t *testing.T) {
	values := map[string]string{"tolerance": "1m", "header": "X-Sig", "prefix": "p=", "query": "tok", "algorithm": "sha512",
		"encoding": "base64", "signed": "{timestamp}.{id}.{body}", "timestamp_header": "X-Ts", "id_header": "X-Id"}
	for _, scheme := range flows.VerifySchemes {
		for _, opt := range views.VerifyOptionNames {
			vf := map[string]any{"scheme": scheme}
			if scheme == flows.VerifyHMAC {
				// Headers are only allowed when the signed string uses them.
				vf["signed"], vf["timestamp_header"], vf["id_header"] = "{timestamp}.{id}.{body}", "X-Ts", "X-Id"
			}
			vf[opt] = values[opt]
			if scheme != flows.VerifyNone {
				vf["secret"] = "s"
			}
			if (scheme == flows.VerifyHMAC || scheme == flows.VerifyToken) && opt != "query" {
				vf["header"] = "X-Sig"
			}
			if scheme == flows.VerifyToken && opt == "query" {
				delete(vf, "header")
			}
			raw := fmt.Sprintf(`{"id": "v", "name": "v", "enabled": true, "trigger": {"type": "webhook", "path": "v", "verify": %s},
			  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`, compactJSON(vf))
			fl, err := flows.Decode([]byte(raw))
			if err == nil {
				_, err = flows.Compile(fl)
			}
			refused := err != nil && strings.Contains(err.Error(), "trigger.verify."+opt)
			if refused == views.VerifyTakes(scheme, opt) {
				t.Errorf("scheme %s, option %s: builder says takes=%v, validation: %v", scheme, opt, views.VerifyTakes(scheme, opt), err)
			}
		}
	}
}

func TestUISchedulePanel(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "daily", "name": "daily", "enabled": true, "trigger": {"type": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin", "misfire": "catch_up", "catch_up_limit": 3},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)
	r, page := b.do("GET", "/flows/daily/edit", nil)
	if r.StatusCode != 200 || !strings.Contains(page, `id="next-fires"`) {
		t.Fatalf("schedule panel: %d %.500s", r.StatusCode, page)
	}
	list := page[strings.Index(page, `id="next-fires"`):]
	list = list[:strings.Index(list, "</ol>")]
	if n := strings.Count(list, "<li>"); n != 5 {
		t.Errorf("%d next fire times, want 5", n)
	}
	if !strings.Contains(list, "02:30:00 CE") {
		t.Errorf("next fire times are not 02:30 Berlin time: %s", list)
	}
	if strings.Contains(page, `id="refusals"`) {
		t.Error("a schedule flow shows a refusals panel")
	}
	// The builder shows and round-trips the misfire policy.
	v := formValues(t, page)
	if v.Get("trigger.misfire") != "catch_up" || v.Get("trigger.catch_up_limit") != "3" {
		t.Fatalf("misfire fields: %q %q", v.Get("trigger.misfire"), v.Get("trigger.catch_up_limit"))
	}
	v.Set("trigger.catch_up_limit", "5")
	if r, body := b.builder("/flows/daily/edit", v, "save"); r.Header.Get("HX-Redirect") == "" {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(body))
	}
	a, _ := f.eng.Flow("daily")
	if tr := a.Flow().Trigger; tr.Misfire != "catch_up" || tr.CatchUpLimit != 5 || tr.Timezone != "Europe/Berlin" {
		t.Fatalf("trigger after save: %+v", tr)
	}
	// A poll button on a schedule flow is refused with a page.
	if r, _ := b.post("/flows/daily/poll", nil); r.StatusCode != 400 {
		t.Fatalf("poll a schedule flow: %d, want 400", r.StatusCode)
	}
}

func TestUIPollPanel(t *testing.T) {
	var total atomic.Int32
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items := []string{}
		for i := 1; i <= int(total.Load()); i++ {
			items = append(items, fmt.Sprintf(`{"id": "i%d"}`, i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"items": [%s, {"id": "<b>bold</b>"}]}`, strings.Join(items, ","))
	}))
	defer src.Close()
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "poll", "name": "poll", "enabled": true, "trigger": {"type": "poll", "cron": "@every 1h",
	  "request": {"url": "`+src.URL+`/items"}, "items": "response.body.items", "key": "item.id", "flood_limit": 2, "backfill": 0},
	  "steps": [{"id": "s", "use": "data.set", "with": {"id": "{{ trigger.body.id }}"}}]}`)
	info := func() engine.PollInfo {
		t.Helper()
		in, err := f.eng.ScheduleInfo(context.Background(), "poll")
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	post := func(path, mode, wantFlash string) string {
		t.Helper()
		form := url.Values{}
		if mode != "" {
			form.Set("mode", mode)
		}
		r, body := b.post(path, form)
		if r.StatusCode != 303 || r.Header.Get("Location") != "/flows/poll/edit?flash="+wantFlash+"#schedule" {
			t.Fatalf("POST %s %s: %d %q %.300s", path, mode, r.StatusCode, r.Header.Get("Location"), body)
		}
		_, page := b.do("GET", "/flows/poll/edit?flash="+wantFlash, nil)
		return page
	}

	_, page := b.do("GET", "/flows/poll/edit", nil)
	for _, want := range []string{`id="schedule"`, `id="next-fires"`, `id="poll-never"`, `id="seen-count"`, `id="poll-now"`, `id="seen-reset"`,
		`id="trigger-key"`, `id="trigger-flood_limit"`, `id="trigger-backfill"`, `id="trigger-cursor"`} {
		if !strings.Contains(page, want) {
			t.Errorf("poll flow page lacks %s", want)
		}
	}
	if v := formValues(t, page); v.Get("trigger.flood_limit") != "2" {
		t.Errorf("flood limit field: %q", v.Get("trigger.flood_limit"))
	}

	// Without the CSRF token nothing happens.
	total.Store(2)
	for _, path := range []string{"/flows/poll/poll", "/flows/poll/seen/reset"} {
		if r, _ := b.do("POST", path, url.Values{"mode": {"force"}}); r.StatusCode != 403 {
			t.Fatalf("%s without token: %d, want 403", path, r.StatusCode)
		}
	}
	if in := info(); !in.Poll.LastPollAt.IsZero() {
		t.Fatal("a refused request polled")
	}

	// The first poll seeds: the items are recorded, none runs.
	page = post("/flows/poll/poll", "", "polled")
	if in := info(); in.SeenCount != 3 || in.Poll.LastStatus != "seeded" {
		t.Fatalf("after the first poll: %+v %+v", in, in.Poll)
	}
	if !strings.Contains(page, `id="poll-status">seeded<`) || !strings.Contains(page, "&lt;b&gt;bold&lt;/b&gt;") || strings.Contains(page, "<b>bold</b>") {
		t.Errorf("panel after seeding: %.2000s", page[strings.Index(page, `id="schedule"`):])
	}

	// Three new items: over the flood limit, the flow pauses.
	total.Store(5)
	page = post("/flows/poll/poll", "", "poll-flooded")
	for _, want := range []string{`id="poll-paused"`, `id="poll-force"`, `id="poll-seed"`, `id="poll-new">3<`} {
		if !strings.Contains(page, want) {
			t.Errorf("flooded panel lacks %s", want)
		}
	}
	// Skip them: seen, not run.
	post("/flows/poll/poll", "seed", "poll-seeded")
	if in := info(); in.SeenCount != 6 || in.Poll.Paused || in.Poll.LastRuns != 0 {
		t.Fatalf("after skipping: count %d, %+v", in.SeenCount, in.Poll)
	}
	// Flood again, then run them.
	total.Store(8)
	post("/flows/poll/poll", "", "poll-flooded")
	page = post("/flows/poll/poll", "force", "poll-forced")
	in := info()
	if in.SeenCount != 9 || in.Poll.Paused || in.Poll.LastRuns != 3 {
		t.Fatalf("after forcing: count %d, %+v", in.SeenCount, in.Poll)
	}
	if !strings.Contains(page, `id="seen-keys"`) || !strings.Contains(page, "<code>i8</code>") || strings.Contains(page, `id="poll-paused"`) {
		t.Errorf("panel after forcing: %.2000s", page[strings.Index(page, `id="schedule"`):])
	}

	// Reset forgets the seen set.
	page = post("/flows/poll/seen/reset", "", "seen-reset")
	if in := info(); in.SeenCount != 0 {
		t.Fatalf("after reset: %d keys", in.SeenCount)
	}
	if !strings.Contains(page, `id="seen-count">0 `) {
		t.Errorf("panel after reset shows another count")
	}
	if r, _ := b.post("/flows/poll/poll", url.Values{"mode": {"both"}}); r.StatusCode != 400 {
		t.Fatalf("unknown mode: %d", r.StatusCode)
	}

	// A failing source: the error is shown, not a crash.
	src.Close()
	page = post("/flows/poll/poll", "", "poll-failed")
	if !strings.Contains(page, `id="poll-error"`) || !strings.Contains(page, `id="poll-status">error<`) {
		t.Errorf("failed poll not shown: %.2000s", page[strings.Index(page, `id="schedule"`):])
	}
}
