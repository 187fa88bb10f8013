package web

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

var listenIDRE = regexp.MustCompile(`name="_listen" value="([0-9a-f]+)"`)

// newBuilderForm opens the builder on a new flow and fills name and path.
func newBuilderForm(t *testing.T, b *browser, path string) url.Values {
	t.Helper()
	_, page := b.do("GET", "/flows/new", nil)
	v := formValues(t, page)
	v.Set("name", "Leads")
	v.Set("id", "leads")
	v.Set("trigger.path", path)
	return v
}

func TestListenCapturesTestEventWithoutRun(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := newBuilderForm(t, b, "leads")
	v.Set("trigger.max_body", "200")
	v.Set("trigger.max_body.unit", "b")

	// Nobody listens yet: the test URL refuses.
	if r, body := f.do(t, "POST", "/hooks-test/leads", "application/json", `{"a":1}`); r.StatusCode != 404 || !strings.Contains(body, "Listen for test event") {
		t.Fatalf("test URL without a listener: %d %s", r.StatusCode, body)
	}
	r, box := b.post("/flows/sample/listen", v, "HX-Request", "true")
	m := listenIDRE.FindStringSubmatch(box)
	if r.StatusCode != 200 || m == nil || !strings.Contains(box, "/hooks-test/leads") || !strings.Contains(box, `data-deadline="`) {
		t.Fatalf("listen: %d %s", r.StatusCode, box)
	}
	v.Set("_listen", m[1])

	// The test URL reads the request like a real webhook: the flow's
	// body limit and the JSON check apply, and a refusal captures nothing.
	if r, body := f.do(t, "POST", "/hooks-test/leads", "application/json", `{"pad":"`+strings.Repeat("x", 300)+`"}`); r.StatusCode != 413 {
		t.Fatalf("oversized test event: %d %s", r.StatusCode, body)
	}
	if r, body := f.do(t, "POST", "/hooks-test/leads", "application/json", `{"email": `); r.StatusCode != 400 {
		t.Fatalf("broken JSON test event: %d %s", r.StatusCode, body)
	}

	type answer struct {
		code int
		body string
	}
	done := make(chan answer, 1)
	go func() {
		r, body := b.post("/flows/sample/wait", v, "HX-Request", "true")
		done <- answer{r.StatusCode, body}
	}()
	time.Sleep(100 * time.Millisecond)
	r2, ack := f.do(t, "POST", "/hooks-test/leads?src=bot", "application/json", `{"email":"ada@example.com","score":85,"tags":["vip"]}`)
	if r2.StatusCode != 200 || !strings.Contains(ack, `"captured":true`) {
		t.Fatalf("test event: %d %s", r2.StatusCode, ack)
	}
	var got answer
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not answer after the test event")
	}
	page := html.UnescapeString(got.body)
	for _, want := range []string{`id="listen-received"`, `data-ref="trigger.body.email"`, `data-ref="trigger.body.score"`,
		`data-ref="trigger.body.tags[0]"`, `"email": "ada@example.com"`, `id="refs" data-sample hx-swap-oob="true"`, `the test event received at`,
		`data-ref="trigger.query.src"`, `data-ref="trigger.headers["content-type"]"`} {
		if !strings.Contains(page, want) {
			t.Errorf("wait answer lacks %s:\n%.3000s", want, page)
		}
	}
	// Not how the request travelled.
	if strings.Contains(page, `data-ref="trigger.headers["content-length"]"`) || strings.Contains(page, `data-ref="trigger.headers["host"]"`) {
		t.Error("Insert data lists transport headers")
	}
	// The capture started no run and stored no event.
	if runs, _ := f.eng.ListRuns(context.Background(), engine.RunFilter{}); len(runs.Runs) != 0 {
		t.Fatalf("a test event started %d run(s)", len(runs.Runs))
	}
	// A second request finds nobody listening: one listen, one event.
	if r, _ := f.do(t, "POST", "/hooks-test/leads", "application/json", `{}`); r.StatusCode != 404 {
		t.Fatalf("second test event: %d", r.StatusCode)
	}

	// The builder keeps the captured sample across its swaps (the form
	// carries it, with the request's method, headers and query), so the
	// Insert data panel stays filled and Test sends the same request.
	m = regexp.MustCompile(`name="_sample_meta" id="sample-meta" value="([^"]*)"`).FindStringSubmatch(got.body)
	if m == nil || !strings.Contains(html.UnescapeString(m[1]), `"src":"bot"`) {
		t.Fatalf("the capture's meta is not carried: %v", m)
	}
	v.Set("_sample_meta", html.UnescapeString(m[1]))
	v.Set("_test_payload", `{"email":"ada@example.com","score":85}`)
	v.Set("_sample_note", "the test event received at 10:00:00")
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	if !strings.Contains(page, `data-ref="trigger.body.score"`) || !strings.Contains(page, `data-ref="trigger.query.src"`) ||
		!strings.Contains(page, "the test event received at 10:00:00") {
		t.Fatalf("builder after a swap lost the sample:\n%.2000s", page)
	}
	v = formValues(t, page)
	v["steps.0.with._any.k"] = []string{"from", ""}
	v["steps.0.with._any.v"] = []string{"{{ trigger.query.src }}/{{ trigger.method }}", ""}
	_, page = b.builder("/flows/new", v, "test")
	if !strings.Contains(html.UnescapeString(page), `"from": "bot/POST"`) {
		t.Fatalf("Test did not use the captured request:\n%.3000s", page)
	}
}

func TestListenCancelAndExpiry(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := newBuilderForm(t, b, "")
	_, box := b.post("/flows/sample/listen", v, "HX-Request", "true")
	if !strings.Contains(box, "Give the webhook a path first") {
		t.Fatalf("listen without a path: %s", box)
	}
	v.Set("trigger.path", "leads")
	_, box = b.post("/flows/sample/listen", v, "HX-Request", "true")
	v.Set("_listen", listenIDRE.FindStringSubmatch(box)[1])
	_, box = b.post("/flows/sample/cancel", v, "HX-Request", "true")
	if !strings.Contains(box, `id="listen-canceled"`) {
		t.Fatalf("cancel: %s", box)
	}
	if r, _ := f.do(t, "POST", "/hooks-test/leads", "application/json", `{}`); r.StatusCode != 404 {
		t.Fatalf("test event after cancel: %d", r.StatusCode)
	}
	_, box = b.post("/flows/sample/wait", v, "HX-Request", "true")
	if !strings.Contains(box, `id="listen-canceled"`) {
		t.Fatalf("wait after cancel: %s", box)
	}
	v.Set("_listen", "nosuchlisten")
	if _, box = b.post("/flows/sample/wait", v, "HX-Request", "true"); !strings.Contains(box, `id="listen-expired"`) {
		t.Fatalf("wait on an unknown listen: %s", box)
	}
}

func TestSampleFromRecentEventAndPaste(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "d", "name": "d", "enabled": true, "trigger": {"type": "webhook", "path": "d"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": "{{ trigger.body.n }}"}}]}`)
	first := hook(t, f, "d", `{"first": true, "n": 1}`)
	waitRun(t, f.eng, first)
	waitRun(t, f.eng, hook(t, f, "d", `{"second": true, "n": 2}`))

	_, page := b.do("GET", "/flows/d/edit", nil)
	if !strings.Contains(page, `id="sample-run"`) || !strings.Contains(page, `value="`+first+`"`) || !strings.Contains(page, `data-ref="trigger.body.second"`) {
		t.Fatalf("builder of a flow with events lacks the picker or the latest sample:\n%.3000s", page)
	}
	v := formValues(t, page)
	v.Set("_sample_run", first)
	_, ans := b.post("/flows/sample/use", v, "HX-Request", "true")
	ans = html.UnescapeString(ans)
	if !strings.Contains(ans, `data-ref="trigger.body.first"`) || strings.Contains(ans, `data-ref="trigger.body.second"`) ||
		!strings.Contains(ans, `id="sample-payload" data-sample hx-swap-oob="true"`) || !strings.Contains(ans, `"first": true`) ||
		!strings.Contains(ans, `data-ref="steps.a.output.x"`) {
		t.Fatalf("picking an earlier event:\n%.3000s", ans)
	}

	v.Del("_sample_run")
	v.Set("_sample_paste", "1")
	v.Set("_test_payload", `{"pasted": {"deep": 1}}`)
	_, ans = b.post("/flows/sample/use", v, "HX-Request", "true")
	if !strings.Contains(ans, `data-ref="trigger.body.pasted.deep"`) || strings.Contains(ans, `id="sample-payload"`) {
		t.Fatalf("pasted payload:\n%.3000s", ans)
	}
	v.Set("_test_payload", `{"pasted": `)
	if _, ans = b.post("/flows/sample/use", v, "HX-Request", "true"); !strings.Contains(ans, "not valid JSON") {
		t.Fatalf("broken pasted payload:\n%.2000s", ans)
	}

	// The live check reads the form's sample, not only stored events.
	_, ans = b.post("/flows/check?flow=d&kind=condition&field=steps.0.if", url.Values{"steps.0.if": {"trigger.body.pasted.deep + 1"}, "_test_payload": {`{"pasted": {"deep": 41}}`}}, "HX-Request", "true")
	if !strings.Contains(ans, "42") {
		t.Fatalf("check against the form's sample: %s", ans)
	}
}

func TestFetchSampleLeavesSeenSetAlone(t *testing.T) {
	var calls atomic.Int32
	var items atomic.Value
	items.Store(`[{"id": 7, "subject": "Printer on fire"}, {"id": 8, "subject": "Coffee"}]`)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"tickets": ` + items.Load().(string) + `}`))
	}))
	defer api.Close()
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	createFlow(t, f, `{"id": "p", "name": "p", "enabled": true, "trigger": {"type": "poll", "cron": "@every 1h",
	  "request": {"url": "`+api.URL+`/tickets"}, "items": "response.body.tickets", "key": "item.id"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": "{{ trigger.body.subject }}"}}]}`)
	ctx := context.Background()
	// The first poll records what is there.
	if _, err := f.eng.PollNow(ctx, "p", false, false); err != nil {
		t.Fatal(err)
	}
	before, err := f.eng.ScheduleInfo(ctx, "p")
	if err != nil || before.SeenCount != 2 {
		t.Fatalf("seeded: %+v %v", before, err)
	}
	items.Store(`[{"id": 9, "subject": "Printer on fire"}, {"id": 7, "subject": "Old"}]`)

	_, page := b.do("GET", "/flows/p/edit", nil)
	if !strings.Contains(page, `id="fetch-sample"`) {
		t.Fatal("poll builder lacks Fetch sample")
	}
	v := formValues(t, page)
	_, ans := b.post("/flows/sample/fetch", v, "HX-Request", "true")
	ans = html.UnescapeString(ans)
	for _, want := range []string{`id="fetch-count"`, "Printer on fire", `data-ref="trigger.body.subject"`, `"subject": "Printer on fire"`, `id="fetch-use-1"`} {
		if !strings.Contains(ans, want) {
			t.Errorf("fetch answer lacks %s:\n%.3000s", want, ans)
		}
	}
	after, err := f.eng.ScheduleInfo(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if after.SeenCount != 2 || *after.Poll != *before.Poll {
		t.Fatalf("fetching a sample changed the poll state: %+v → %+v", before, after)
	}
	if runs, _ := f.eng.ListRuns(ctx, engine.RunFilter{}); len(runs.Runs) != 0 {
		t.Fatal("fetching a sample started runs")
	}
	// The item fetched as a sample is still new to the next real poll.
	res, err := f.eng.PollNow(ctx, "p", false, false)
	if err != nil || len(res.Runs) != 1 {
		t.Fatalf("poll after the sample: %d runs, %v", len(res.Runs), err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("source called %d times", n)
	}
}

func TestScheduleSampleIsTick(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := newBuilderForm(t, b, "")
	v.Set("trigger.type", "schedule")
	v.Set("trigger.cron", "0 9 * * 1-5")
	_, page := b.builder("/flows/new", v, "refresh")
	if !strings.Contains(page, `data-ref="trigger.body.tick"`) || !strings.Contains(page, `data-ref="trigger.body.timezone"`) {
		t.Fatalf("schedule builder lacks the tick fields:\n%.3000s", page)
	}
}

// With --hooks-addr the test URL lives on the hooks listener, like
// /hooks/, and the builder shows it there.
func TestTestURLOnHooksListener(t *testing.T) {
	f := newFixture(t, engine.Config{})
	hooksLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(f.eng, f.acc, Config{HooksAddr: hooksLn.Addr().String()})
	go func() { _ = srv.HooksApp().Listener(hooksLn) }()
	mainAddr := listen(t, srv)
	hooks := hooksLn.Addr().String()
	b := signIn(t, srv)
	v := newBuilderForm(t, b, "leads")
	_, box := b.post("/flows/sample/listen", v, "HX-Request", "true")
	if want := "http://example.com:" + hooks[strings.LastIndex(hooks, ":")+1:] + "/hooks-test/leads"; !strings.Contains(box, want) {
		t.Fatalf("listen box lacks the test URL %s: %s", want, box)
	}
	post := func(base string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Post("http://"+base+"/hooks-test/leads", "application/json", strings.NewReader(`{"a": 1}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, string(data)
	}
	if r, body := post(mainAddr); r.StatusCode != 404 || !strings.Contains(body, "hooks listener") {
		t.Fatalf("test URL on the main listener: %d %s", r.StatusCode, body)
	}
	r, body := post(hooks)
	if r.StatusCode != 200 || !strings.Contains(body, `"captured":true`) {
		t.Fatalf("test URL on the hooks listener: %d %s", r.StatusCode, body)
	}
	if csp := r.Header.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != hooksListenerPolicy || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("test URL answer headers: %v", r.Header)
	}
}

// A new flow saved with a sample opens with it, although no event has
// reached it yet.
func TestSampleKeptAcrossSave(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	v := newBuilderForm(t, b, "leads")
	_, page := b.builder("/flows/new", v, "add:steps:data.set")
	v = formValues(t, page)
	v["steps.0.with._any.k"] = []string{"who", ""}
	v["steps.0.with._any.v"] = []string{"{{ trigger.body.email }}", ""}
	v.Set("_test_payload", `{"email": "ada@example.com"}`)
	v.Set("_sample_note", "the test event received at 10:00:00")
	if r, page := b.builder("/flows/new", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save: %s", errorSummary(page))
	}
	_, page = b.do("GET", "/flows/leads/edit", nil)
	if !strings.Contains(page, `data-ref="trigger.body.email"`) || !strings.Contains(page, "the test event received at 10:00:00") {
		t.Fatalf("the saved flow's builder lost its sample:\n%.3000s", page)
	}
}
