package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/internal/testwait"
)

// holdRecorder is a fake downstream that notes, per request, the body's "n"
// and when it came, and how many requests it served at once at most.
type holdRecorder struct {
	srv      *httptest.Server
	mu       sync.Mutex
	ns       []int
	times    []time.Time
	flows    []string
	inflight atomic.Int32
	maxIn    atomic.Int32
	delay    time.Duration
}

func newHoldRecorder(t *testing.T, delay time.Duration) *holdRecorder {
	rec := &holdRecorder{delay: delay}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rec.inflight.Add(1)
		defer rec.inflight.Add(-1)
		for {
			m := rec.maxIn.Load()
			if n <= m || rec.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		var body struct {
			N    int    `json:"n"`
			Flow string `json:"flow"`
		}
		data, _ := io.ReadAll(r.Body)
		json.Unmarshal(data, &body)
		rec.mu.Lock()
		rec.ns = append(rec.ns, body.N)
		rec.times = append(rec.times, time.Now())
		rec.flows = append(rec.flows, body.Flow)
		rec.mu.Unlock()
		time.Sleep(rec.delay)
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *holdRecorder) got() ([]int, []time.Time, []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.ns), slices.Clone(rec.times), slices.Clone(rec.flows)
}

// postFlow is a webhook flow whose one step posts {"n", "flow"} to url.
func postFlow(id, url, extra, conn string) string {
	with := fmt.Sprintf(`"url": %q, "method": "POST", "body": {"n": "{{ trigger.body.n }}", "flow": %q}`, url, id)
	if conn != "" {
		with += fmt.Sprintf(`, "connection": %q, "auth": "bearer"`, conn)
	}
	return fmt.Sprintf(`{"id": %q, "name": %q, "enabled": true, "trigger": {"type": "webhook", "path": %q}%s,
	  "steps": [{"id": "post", "use": "http.request", "with": {%s}}]}`, id, id, id, extra, with)
}

func (te *testEngine) acceptN(t *testing.T, a *ActiveFlow, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		acc, err := te.Accept(context.Background(), a, webhookEvent(fmt.Sprintf(`{"n": %d}`, i)), false)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = acc.RunID
	}
	return ids
}

// TestPauseHoldsThenRunsInOrder: a paused flow's events are accepted and
// stored, nothing runs, the pause outlives a restart, and after Resume the
// runs execute in order of arrival.
func TestPauseHoldsThenRunsInOrder(t *testing.T) {
	rec := newHoldRecorder(t, 0)
	dir := t.TempDir()
	te := startEngine(t, dir, Config{Workers: 8})
	te.saveFlow(t, postFlow("held", rec.srv.URL, `, "concurrency": 1`, ""))
	if _, err := te.PauseFlow(context.Background(), "held"); err != nil {
		t.Fatal(err)
	}
	a, _ := te.Flow("held")
	ids := te.acceptN(t, a, 10)
	testwait.For(t, "10 runs held", func() bool { return te.FlowHold("held").Held == 10 })
	time.Sleep(100 * time.Millisecond)
	if ns, _, _ := rec.got(); len(ns) != 0 {
		t.Fatalf("a paused flow sent %d requests", len(ns))
	}
	r, err := te.Run(context.Background(), ids[3])
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != RunQueued || te.WaitingFor(r) != WaitingPaused {
		t.Fatalf("held run: status %s, waiting for %q", r.Status, te.WaitingFor(r))
	}

	// The pause and the held runs survive a restart.
	te.close()
	te = startEngine(t, dir, Config{Workers: 8})
	testwait.For(t, "10 runs held again", func() bool { return te.FlowHold("held").Held == 10 })
	if h := te.FlowHold("held"); !h.Paused || h.PausedAt == nil {
		t.Fatalf("after restart: %+v", h)
	}
	time.Sleep(100 * time.Millisecond)
	if ns, _, _ := rec.got(); len(ns) != 0 {
		t.Fatalf("a paused flow sent %d requests after a restart", len(ns))
	}

	if _, err := te.ResumeFlow(context.Background(), "held"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if r := te.waitFinal(t, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s %s", id, r.Status, r.Error)
		}
	}
	ns, _, _ := rec.got()
	if !slices.Equal(ns, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("requests in order %v, want arrival order", ns)
	}
	if h := te.FlowHold("held"); h.Paused || h.Held != 0 || h.InProgress != 0 {
		t.Fatalf("after resume: %+v", h)
	}
}

// TestPauseStopsARunBeforeItsNextStep: a run in progress when its flow is
// paused finishes the step it is in and waits before the next one.
func TestPauseStopsARunBeforeItsNextStep(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var second atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/one" {
			entered <- struct{}{}
			<-release
		} else {
			second.Add(1)
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{Workers: 2})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "two", "name": "two", "enabled": true, "trigger": {"type": "webhook", "path": "two"},
	  "steps": [{"id": "one", "use": "http.request", "with": {"url": "%[1]s/one"}},
	            {"id": "two", "use": "http.request", "with": {"url": "%[1]s/two"}}]}`, srv.URL))
	id := te.acceptN(t, a, 1)[0]
	<-entered
	if _, err := te.PauseFlow(context.Background(), "two"); err != nil {
		t.Fatal(err)
	}
	close(release)
	testwait.For(t, "the run to wait", func() bool {
		r, err := te.Run(context.Background(), id)
		return err == nil && r.Status == RunWaiting && r.WaitingFor == WaitingPaused && te.FlowHold("two").Held == 1
	})
	time.Sleep(100 * time.Millisecond)
	if second.Load() != 0 {
		t.Fatal("the second step ran while the flow was paused")
	}
	te.ResumeFlow(context.Background(), "two")
	if r := te.waitFinal(t, id); r.Status != RunSucceeded || r.WaitingFor != "" || second.Load() != 1 {
		t.Fatalf("after resume: %s %q, second step ran %d times", r.Status, r.WaitingFor, second.Load())
	}
}

// TestConcurrencyOneSerialises: a flow capped at one run in progress runs
// its backlog one at a time, in order, while another flow runs its own
// concurrently.
func TestConcurrencyOneSerialises(t *testing.T) {
	capped := newHoldRecorder(t, 20*time.Millisecond)
	free := newHoldRecorder(t, 20*time.Millisecond)
	te := startEngine(t, "", Config{Workers: 16})
	a := te.saveFlow(t, postFlow("capped", capped.srv.URL, `, "concurrency": 1`, ""))
	b := te.saveFlow(t, postFlow("free", free.srv.URL, "", ""))
	ids := te.acceptN(t, a, 10)
	others := te.acceptN(t, b, 10)
	sawLimit := false
	testwait.For(t, "a run held by the limit", func() bool {
		for _, id := range ids {
			if r, err := te.Run(context.Background(), id); err == nil && te.WaitingFor(r) == WaitingConcurrency {
				sawLimit = true
			}
		}
		return sawLimit
	})
	for _, id := range append(ids, others...) {
		if r := te.waitFinal(t, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Error)
		}
	}
	ns, _, _ := capped.got()
	if !slices.Equal(ns, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("capped flow's requests %v, want in order", ns)
	}
	if m := capped.maxIn.Load(); m != 1 {
		t.Fatalf("capped flow had %d requests in flight at once", m)
	}
	if m := free.maxIn.Load(); m < 2 {
		t.Fatalf("the uncapped flow never ran two at once (max %d): held behind the capped one?", m)
	}
	testwait.For(t, "slots freed", func() bool { return te.FlowHold("capped").InProgress == 0 })
}

// TestConnectionRateSharedAcrossFlows: two flows whose steps use the same
// connection share its rate limit: the fake service receives requests no
// faster than the limit allows, and a run waiting for it says so.
func TestConnectionRateSharedAcrossFlows(t *testing.T) {
	rec := newHoldRecorder(t, 0)
	te := startEngine(t, "", Config{Workers: 16})
	rate := &flows.RateLimit{Requests: 4, Per: flows.Duration(time.Second)}
	if _, err := te.PutConnectionRate(context.Background(), "crm", "http_bearer", map[string]string{"token": "tok"}, rate); err != nil {
		t.Fatal(err)
	}
	a := te.saveFlow(t, postFlow("fa", rec.srv.URL, "", "crm"))
	b := te.saveFlow(t, postFlow("fb", rec.srv.URL, "", "crm"))
	ids := append(te.acceptN(t, a, 6), te.acceptN(t, b, 6)...)
	sawWait := false
	testwait.For(t, "a run waiting for the rate limit", func() bool {
		for _, id := range ids {
			if r, err := te.Run(context.Background(), id); err == nil && r.Status == RunWaiting && te.WaitingFor(r) == "waiting for crm rate limit" {
				sawWait = true
			}
		}
		return sawWait
	})
	for _, id := range ids {
		if r := te.waitFinal(t, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Error)
		}
	}
	_, times, fl := rec.got()
	if len(times) != 12 || !slices.Contains(fl, "fa") || !slices.Contains(fl, "fb") {
		t.Fatalf("%d requests from %v", len(times), fl)
	}
	slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
	// A burst of 4, then one every 250 ms: request i comes no sooner than
	// (i-3) × 250 ms after the first (less a little for timer slack).
	for i := 4; i < len(times); i++ {
		min := time.Duration(i-3)*250*time.Millisecond - 30*time.Millisecond
		if got := times[i].Sub(times[0]); got < min {
			t.Fatalf("request %d came %v after the first, want ≥ %v (the limit was not kept)", i, got, min)
		}
	}
	// Nor is the limit much slower than it need be: 12 requests in about
	// 2 s (with room for a loaded machine).
	if total := times[11].Sub(times[0]); total > 8*time.Second {
		t.Fatalf("12 requests took %v", total)
	}
}

// TestConnectionRateValidated: a connection's rate limit is checked with
// field paths.
func TestConnectionRateValidated(t *testing.T) {
	te := startEngine(t, "", Config{})
	_, err := te.PutConnectionRate(context.Background(), "crm", "http_bearer", map[string]string{"token": "t"},
		&flows.RateLimit{Requests: 0, Per: flows.Duration(time.Millisecond)})
	ve, ok := err.(*flows.ValidationError)
	if !ok || len(ve.Details) != 2 || ve.Details[0].Field != "rate.per" || ve.Details[1].Field != "rate.requests" {
		t.Fatalf("got %v", err)
	}
}

// TestRaisedLimitReleasesHeldRuns: saving a flow with a higher limit lets
// the runs it held start at once, side by side.
func TestRaisedLimitReleasesHeldRuns(t *testing.T) {
	block := make(chan struct{})
	var entered atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		<-block
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	defer close(block)
	te := startEngine(t, "", Config{Workers: 8})
	a := te.saveFlow(t, postFlow("grow", srv.URL, `, "concurrency": 1`, ""))
	te.acceptN(t, a, 4)
	testwait.For(t, "one run in, three held", func() bool {
		h := te.FlowHold("grow")
		return entered.Load() == 1 && h.Held == 3 && h.InProgress == 1
	})
	te.saveFlow(t, postFlow("grow", srv.URL, `, "concurrency": 4`, ""))
	testwait.For(t, "all four in at once", func() bool { return entered.Load() == 4 })
	if h := te.FlowHold("grow"); h.Held != 0 || h.InProgress != 4 || h.Concurrency != 4 {
		t.Fatalf("after raising the limit: %+v", h)
	}
}

// TestSlotKeptAcrossRestart: a run of a flow capped at 1 that waits for
// a retry keeps its slot over a restart, whether its retry is due after
// the start or was due while the engine was down: the run queued behind
// it does not start first.
func TestSlotKeptAcrossRestart(t *testing.T) {
	for _, down := range []time.Duration{0, 1200 * time.Millisecond} {
		t.Run(fmt.Sprintf("down %v", down), func(t *testing.T) { slotKeptAcrossRestart(t, down) })
	}
}

func slotKeptAcrossRestart(t *testing.T, down time.Duration) {
	var mu sync.Mutex
	var seen []string
	failed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(data))
		if !failed {
			failed = true
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	te := startEngine(t, dir, Config{Workers: 4})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "one", "name": "one", "enabled": true, "concurrency": 1,
	  "trigger": {"type": "webhook", "path": "one"},
	  "steps": [{"id": "post", "use": "http.request", "retry": {"attempts": 3, "backoff": "1s"},
	             "with": {"url": %q, "method": "POST", "body": {"n": "{{ trigger.body.n }}"}}}]}`, srv.URL))
	ids := te.acceptN(t, a, 2)
	testwait.For(t, "the first run to wait for its retry", func() bool {
		r, err := te.Run(context.Background(), ids[0])
		return err == nil && r.Status == RunWaiting && te.FlowHold("one").Held == 1
	})
	te.close()
	time.Sleep(down)
	te = startEngine(t, dir, Config{Workers: 4})
	for _, id := range ids {
		if r := te.waitFinal(t, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{`{"n":0}`, `{"n":0}`, `{"n":1}`}; !slices.Equal(seen, want) {
		t.Fatalf("requests %v, want %v (the first run's retry before the second run)", seen, want)
	}
}
