package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/switchyard/switchyard/connectors/dataset"
	"github.com/switchyard/switchyard/connectors/egress"
	_ "github.com/switchyard/switchyard/connectors/httpreq"
	_ "github.com/switchyard/switchyard/connectors/respond"
	"github.com/switchyard/switchyard/flows"
)

type testEngine struct {
	*Engine
	store Store
	dir   string
}

func startEngine(t *testing.T, dir string, cfg Config) *testEngine {
	t.Helper()
	return startEngineOver(t, dir, cfg, nil)
}

// startEngineOver is startEngine with the engine over wrap(store) when
// wrap is set (a test watching what the engine asks of its store).
func startEngineOver(t *testing.T, dir string, cfg Config, wrap func(Store) Store) *testEngine {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := openTestStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		s = wrap(s)
	}
	key, _ := LoadOrCreateKey(dir, "")
	keys, _ := NewKeyring(key)
	cfg.Store, cfg.Keyring = s, keys
	cfg.HTTP = egress.NewClient(egress.MustParseAllow("127.0.0.1/32"))
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	te := &testEngine{Engine: e, store: s, dir: dir}
	t.Cleanup(te.close)
	return te
}

func (te *testEngine) close() {
	if te.store == nil {
		return
	}
	te.Stop()
	te.store.Close()
	te.store = nil
}

func (te *testEngine) saveFlow(t *testing.T, raw string) *ActiveFlow {
	t.Helper()
	a, err := te.SaveFlow(context.Background(), []byte(raw), false, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (te *testEngine) waitFinal(t *testing.T, id string) *Run {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r, err := te.Run(context.Background(), id)
		if err == nil && r.Status.Final() {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish", id)
	return nil
}

func webhookEvent(body string) *Event {
	return &Event{Source: "webhook", Method: "POST", ContentType: "application/json", Body: []byte(body),
		Headers: map[string]string{"x-test": "1"}}
}

// TestAcceptConcurrentRuns drives many concurrent ingests through the
// engine (under -race) and checks each ran once.
func TestAcceptConcurrentRuns(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{Workers: 8})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"n": "{{ trigger.body.n }}"}},
	            {"id": "b", "use": "http.request", "with": {"url": "%s", "method": "POST", "body": {"n": "{{ steps.a.output.n }}"}}}]}`, srv.URL))
	const n = 200
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			acc, err := te.Accept(context.Background(), a, webhookEvent(fmt.Sprintf(`{"n": %d}`, i)), false)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = acc.RunID
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		r := te.waitFinal(t, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Error)
		}
	}
	if hits.Load() != n {
		t.Fatalf("downstream hit %d times, want %d", hits.Load(), n)
	}
	// A run is final in the store a moment before the worker counts it.
	deadline := time.Now().Add(5 * time.Second)
	for te.Stats().Pending != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := te.Stats(); st.Accepted != n || st.Succeeded != n || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBackpressure: over the queue limit nothing is stored and Accept says
// the engine is saturated.
func TestBackpressure(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	te := startEngine(t, "", Config{Workers: 1, QueueLimit: 3})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
	  "steps": [{"id": "b", "use": "http.request", "with": {"url": "%s"}}]}`, srv.URL))
	for i := 0; i < 3; i++ {
		if _, err := te.Accept(context.Background(), a, webhookEvent(`{}`), false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := te.Accept(context.Background(), a, webhookEvent(`{}`), false); !errors.Is(err, ErrSaturated) {
		t.Fatalf("fourth accept: %v", err)
	}
	page, _ := te.ListRuns(context.Background(), RunFilter{})
	if len(page.Runs) != 3 {
		t.Fatalf("%d runs stored, want 3", len(page.Runs))
	}
}

// TestRecoveryResumesFromCheckpoint: a run whose first step finished before
// a crash resumes at its second step, and the first does not run again.
func TestRecoveryResumesFromCheckpoint(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	// Write the state a crash leaves: a run "running" with step one done.
	func() {
		te := startEngine(t, dir, Config{})
		a := te.saveFlow(t, fmt.Sprintf(`{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
		  "steps": [{"id": "one", "use": "http.request", "with": {"url": "%[1]s/one"}},
		            {"id": "two", "use": "http.request", "with": {"url": "%[1]s/two", "body": {"prev": "{{ steps.one.output.status }}"}}}]}`, srv.URL))
		te.Stop() // no workers: the run stays queued
		ev := webhookEvent(`{}`)
		run := &Run{FlowID: "f", FlowVersion: a.Record.Version, Status: RunQueued, CreatedAt: time.Now()}
		if _, err := te.store.Accept(context.Background(), ev, run, time.Hour); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		run.Status = RunRunning
		run.Steps = []StepResult{{ID: "one", Use: "http.request", Status: StepSucceeded, Attempts: 1, Output: map[string]any{"status": 200.0}, StartedAt: now, FinishedAt: &now}}
		if err := te.store.SaveRun(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		te.store.Close()
		te.store = nil
	}()
	te := startEngine(t, dir, Config{})
	page, _ := te.ListRuns(context.Background(), RunFilter{})
	r := te.waitFinal(t, page.Runs[0].ID)
	if r.Status != RunSucceeded || len(r.Steps) != 2 {
		t.Fatalf("recovered run: %+v", r)
	}
	if hits.Load() != 1 {
		t.Fatalf("downstream hit %d times, want 1 (only step two)", hits.Load())
	}
	if in := r.Steps[1].Input["body"].(map[string]any)["prev"]; in != 200.0 {
		t.Fatalf("step two saw step one's output as %v", in)
	}
}

// TestRetryAndReplay: retry resumes at the failed step of a new run and
// leaves the failed run as it was; replay starts over.
func TestRetryAndReplay(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var oneHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/one" {
			oneHits.Add(1)
		}
		if r.URL.Path == "/two" && fail.Load() {
			w.WriteHeader(422)
			io.WriteString(w, `{"error":"nope"}`)
			return
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
	  "steps": [{"id": "one", "use": "http.request", "with": {"url": "%[1]s/one"}},
	            {"id": "two", "use": "http.request", "with": {"url": "%[1]s/two"}}]}`, srv.URL))
	acc, _ := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
	failed := te.waitFinal(t, acc.RunID)
	if failed.Status != RunFailed || failed.ErrorStep != "two" {
		t.Fatalf("run %+v", failed)
	}
	if _, err := te.ReplayRun(context.Background(), "run_zzz"); err == nil {
		t.Fatal("replay of a malformed id succeeded")
	}
	fail.Store(false)
	retried, err := te.RetryRun(context.Background(), failed.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := te.waitFinal(t, retried.ID)
	if r.Status != RunSucceeded || r.RetryOf != failed.ID || r.EventID != failed.EventID {
		t.Fatalf("retried run %+v", r)
	}
	if oneHits.Load() != 1 {
		t.Fatalf("step one ran %d times; retry must resume at the failed step", oneHits.Load())
	}
	if _, err := te.RetryRun(context.Background(), r.ID); !errors.Is(err, ErrNotFailed) {
		t.Fatalf("retry of a succeeded run: %v", err)
	}
	again, _ := te.Run(context.Background(), failed.ID)
	if again.Status != RunFailed || len(again.Steps) != len(failed.Steps) {
		t.Fatal("the failed run changed")
	}
	replayed, err := te.ReplayRun(context.Background(), failed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := te.waitFinal(t, replayed.ID); r.Status != RunSucceeded || oneHits.Load() != 2 {
		t.Fatalf("replay: %s, step one hits %d", r.Status, oneHits.Load())
	}
}

// TestWrongKey: opening data sealed under one key with another fails with
// ErrWrongKey.
func TestWrongKey(t *testing.T) {
	dir := t.TempDir()
	s, _ := openTestStore(t, dir)
	k1, _ := NewKeyring(make([]byte, 32))
	if _, err := New(context.Background(), Config{Store: s, Keyring: k1}); err != nil {
		t.Fatal(err)
	}
	other := make([]byte, 32)
	other[0] = 1
	k2, _ := NewKeyring(other)
	if _, err := New(context.Background(), Config{Store: s, Keyring: k2}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	s.Close()
}

func TestKeyringSealOpen(t *testing.T) {
	k, _ := NewKeyring(make([]byte, 32))
	sealed := k.Seal([]byte("token"), []byte("conn-a"))
	if got, err := k.Open(sealed, []byte("conn-a")); err != nil || string(got) != "token" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := k.Open(sealed, []byte("conn-b")); !errors.Is(err, ErrWrongKey) {
		t.Fatal("a sealed value moved to another record opened")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, []byte("conn-a")); !errors.Is(err, ErrWrongKey) {
		t.Fatal("tampered value opened")
	}
	for _, bad := range []string{"", "abc", "zz"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestBackoffGrows(t *testing.T) {
	p := &flowsRetry{Attempts: 6, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	var prev time.Duration
	for attempt := 1; attempt <= 3; attempt++ {
		d := backoff(p.std(), attempt, 0)
		if d <= prev {
			t.Fatalf("attempt %d: %s not longer than %s", attempt, d, prev)
		}
		prev = d
	}
	if d := backoff(p.std(), 10, 0); d > time.Second {
		t.Fatalf("max backoff exceeded: %s", d)
	}
	if d := backoff(p.std(), 1, 5*time.Second); d != 5*time.Second {
		t.Fatalf("Retry-After ignored: %s", d)
	}
}

type flowsRetry struct {
	Attempts            int
	Backoff, MaxBackoff time.Duration
}

func (r flowsRetry) std() *flows.Retry {
	return &flows.Retry{Attempts: r.Attempts, Backoff: flows.Duration(r.Backoff), MaxBackoff: flows.Duration(r.MaxBackoff)}
}

// TestVersionCacheBounded: saving a flow many times keeps the compiled
// version cache bounded, and a run of an evicted version still runs.
func TestVersionCacheBounded(t *testing.T) {
	te := startEngine(t, "", Config{})
	te.Stop() // keep the first run queued while the flow is edited
	flow := func(v int) string {
		return fmt.Sprintf(`{"id": "f", "name": "v%d", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
		  "steps": [{"id": "a", "use": "data.set", "with": {"v": %d}}]}`, v, v)
	}
	a := te.saveFlow(t, flow(1))
	acc, err := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	for v := 2; v <= maxCachedVersions+50; v++ {
		te.saveFlow(t, flow(v))
	}
	te.flows.mu.RLock()
	n := len(te.flows.versions)
	te.flows.mu.RUnlock()
	if n > maxCachedVersions {
		t.Fatalf("%d compiled versions cached", n)
	}
	if err := te.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := te.waitFinal(t, acc.RunID)
	if r.Status != RunSucceeded || r.Steps[0].Output.(map[string]any)["v"] != 1.0 {
		t.Fatalf("run of version 1: %+v", r)
	}
}
