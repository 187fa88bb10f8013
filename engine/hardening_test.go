package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/internal/testlog"
)

// panicConnector is a connector with a bug: it panics. Registered only in
// the engine's tests.
type panicConnector struct{}

func (panicConnector) Spec() connectors.Spec {
	return connectors.Spec{ID: "test.panic", Label: "Panics", SideEffects: true,
		Fields: []connectors.Field{{Name: "message", Label: "Message", Type: connectors.TypeString}}}
}

func (panicConnector) Execute(_ context.Context, in connectors.Input) (connectors.Result, error) {
	panic(fmt.Sprintf("connector bug: %v", in.Config["message"]))
}

func init() { connectors.Register(panicConnector{}) }

// TestStepPanicFailsTheStep: a connector that panics fails its step with
// "internal error (see log, id X)", the stack is in the log under that id
// and nowhere in the run, and the engine goes on running other runs.
func TestStepPanicFailsTheStep(t *testing.T) {
	logs := &testlog.Buffer{}
	te := startEngine(t, "", Config{Workers: 2, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	a := te.saveFlow(t, `{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"n": "{{ trigger.body.n }}"}},
	            {"id": "bug", "use": "test.panic", "if": "trigger.body.n > 1", "with": {"message": "n={{ trigger.body.n }}"}},
	            {"id": "after", "use": "data.set", "with": {"ok": true}}]}`)
	var ids []string
	for _, n := range []int{2, 1, 3} {
		acc, err := te.Accept(context.Background(), a, webhookEvent(fmt.Sprintf(`{"n": %d}`, n)), false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.RunID)
	}
	failed := te.waitFinal(t, ids[0])
	if ok := te.waitFinal(t, ids[1]); ok.Status != RunSucceeded {
		t.Fatalf("run without the bug: %s %s", ok.Status, ok.Error)
	}
	te.waitFinal(t, ids[2])
	if failed.Status != RunFailed || failed.ErrorStep != "bug" {
		t.Fatalf("run: %s at %q: %s", failed.Status, failed.ErrorStep, failed.Error)
	}
	step := failed.result("bug")
	m := regexp.MustCompile(`^internal error \(see log, id ([0-9a-f]+)\)$`).FindStringSubmatch(step.Error)
	if m == nil {
		t.Fatalf("step error %q", step.Error)
	}
	if strings.Contains(failed.Error, "goroutine") || strings.Contains(failed.Error, ".go:") {
		t.Errorf("the run's error holds a stack: %q", failed.Error)
	}
	log := logs.String()
	if !strings.Contains(log, "id="+m[1]) || !strings.Contains(log, "connector bug: n=2") || !strings.Contains(log, "panicConnector") {
		t.Errorf("the log lacks the panic's id, message or stack:\n%s", log)
	}
}

// TestRunOncePanic: `switchyard run` and flow tests recover too.
func TestRunOncePanic(t *testing.T) {
	cf := compileFlow(t, `{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "manual"},
	  "steps": [{"id": "bug", "use": "test.panic", "with": {"message": "x"}}]}`)
	run, err := RunOnce(context.Background(), cf, &Event{Source: "manual"}, RunOnceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != RunFailed || !strings.HasPrefix(run.Steps[0].Error, "internal error (see log, id ") {
		t.Fatalf("run: %s %q", run.Status, run.Steps[0].Error)
	}
}

// compileFlow decodes and compiles a flow.
func compileFlow(t *testing.T, raw string) *flows.Compiled {
	t.Helper()
	f, err := flows.Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := flows.Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

// TestExpressionLimitFailsTheStep: a template that would blow the memory
// when the webhook says so fails its step with the limit's message; the
// engine runs the next delivery as usual.
func TestExpressionLimitFailsTheStep(t *testing.T) {
	te := startEngine(t, "", Config{Workers: 2})
	a := te.saveFlow(t, `{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
	  "steps": [{"id": "blow", "use": "data.set",
	             "with": {"text": "{{ let a = repeat('x', trigger.body.n); len(repeat(a, trigger.body.n)) }}"}}]}`)
	big, err := te.Accept(context.Background(), a, webhookEvent(`{"n": 999999}`), false)
	if err != nil {
		t.Fatal(err)
	}
	small, err := te.Accept(context.Background(), a, webhookEvent(`{"n": 3}`), false)
	if err != nil {
		t.Fatal(err)
	}
	r := te.waitFinal(t, big.RunID)
	if r.Status != RunFailed || !strings.Contains(r.Error, "expression exceeded its memory limit of 32 MiB") {
		t.Fatalf("run: %s: %s", r.Status, r.Error)
	}
	if r := te.waitFinal(t, small.RunID); r.Status != RunSucceeded {
		t.Fatalf("small run: %s: %s", r.Status, r.Error)
	}
}

// TestStepJournalStopsCrashLoop: a run during whose step the engine
// stopped twice (simulated: the journal is put back as a dying process
// leaves it) is failed at the next start instead of running the step a
// third time; once is forgiven, and a clean stop counts nothing.
func TestStepJournalStopsCrashLoop(t *testing.T) {
	var hits atomic.Int32
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	journal := filepath.Join(dir, StepJournalFile)
	cfg := Config{Workers: 2, StepJournal: journal}

	// crashDuringStep starts the engine, waits until the step is in
	// flight, and stops it leaving the journal as a crash would.
	crashDuringStep := func(accept bool) string {
		te := startEngine(t, dir, cfg)
		var id string
		if accept {
			a := te.saveFlow(t, fmt.Sprintf(`{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
			  "steps": [{"id": "shape", "use": "data.set", "with": {"n": 1}},
			            {"id": "send", "use": "http.request", "with": {"url": "%s"}}]}`, srv.URL))
			acc, err := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
			if err != nil {
				t.Fatal(err)
			}
			id = acc.RunID
		}
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the step did not start")
		}
		left, err := os.ReadFile(journal)
		if err != nil {
			t.Fatal(err)
		}
		te.stopSteps()
		te.close()
		if err := os.WriteFile(journal, left, 0o600); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := crashDuringStep(true)
	crashDuringStep(false)

	te := startEngine(t, dir, cfg)
	r := te.waitFinal(t, id)
	if r.Status != RunFailed || r.ErrorStep != "send" || !strings.Contains(r.Error, "stopped: this step crashed the engine twice") {
		t.Fatalf("run: %s at %q: %s", r.Status, r.ErrorStep, r.Error)
	}
	if r.Crash == nil || r.Crash.Step != "send" || r.Crash.Count != 2 {
		t.Fatalf("crash count %+v", r.Crash)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("the step ran %d times, want 2", n)
	}

	// A clean stop in the middle of a step counts nothing.
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "g", "name": "g", "enabled": true, "trigger": {"type": "webhook", "path": "g"},
	  "steps": [{"id": "send", "use": "http.request", "with": {"url": "%s"}}]}`, srv.URL))
	acc, err := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	te.stopSteps()
	te.close()
	te = startEngine(t, dir, cfg)
	<-entered
	if r, _ := te.Run(context.Background(), acc.RunID); r.Crash != nil {
		t.Fatalf("a clean stop was counted: %+v", r.Crash)
	}
}

// TestRetryKeepsIdempotencyKeys: a retry sends the failed step (and the
// ones after it) with the keys of the run it retries, down a chain of
// retries, so the remote can recognise a step sent again after an
// ambiguous failure; a replay is a new run with new keys.
func TestRetryKeepsIdempotencyKeys(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	var fail atomic.Int32
	fail.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if r.URL.Path == "/two" && fail.Add(-1) >= 0 {
			w.WriteHeader(502) // ambiguous: it may have been applied
			return
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
	  "steps": [{"id": "one", "use": "http.request", "with": {"url": "%[1]s/one"}},
	            {"id": "two", "use": "http.request", "retry": {"attempts": 1}, "with": {"url": "%[1]s/two"}},
	            {"id": "three", "use": "http.request", "with": {"url": "%[1]s/three"}}]}`, srv.URL))
	acc, _ := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
	first := te.waitFinal(t, acc.RunID)
	retry1, err := te.RetryRun(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := te.waitFinal(t, retry1.ID); r.Status != RunFailed {
		t.Fatalf("first retry: %s", r.Status)
	}
	retry2, err := te.RetryRun(context.Background(), retry1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := te.waitFinal(t, retry2.ID); r.Status != RunSucceeded {
		t.Fatalf("second retry: %s %s", r.Status, r.Error)
	}
	replay, err := te.ReplayRun(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	te.waitFinal(t, replay.ID)
	A, R := first.ID, replay.ID
	want := []string{
		"/one " + A + ":one", "/two " + A + ":two", // the first run fails at two
		"/two " + A + ":two",                           // retry 1, same key, fails again
		"/two " + A + ":two", "/three " + A + ":three", // retry 2 of retry 1: still the first run's keys
		"/one " + R + ":one", "/two " + R + ":two", "/three " + R + ":three", // a replay is new
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(keys, "\n") != strings.Join(want, "\n") {
		t.Fatalf("keys the service saw:\n%s\nwant:\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
}

// TestDefaultRetry: a connector step that acts outside and sets no retry
// is tried 3 times, 2 s apart and then about 4 s (the clock is the
// executor's, so the test reads the due times rather than waiting); a
// step without side effects, or one that opts out, is tried once.
func TestDefaultRetry(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "f", "name": "f", "enabled": true, "trigger": {"type": "webhook", "path": "f"},
	  "steps": [{"id": "call", "use": "http.request", "with": {"url": "%s/x"}}]}`, srv.URL))
	acc, _ := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
	deadline := time.Now().Add(5 * time.Second)
	var due []time.Duration
	for time.Now().Before(deadline) && len(due) < 1 {
		r, _ := te.Run(context.Background(), acc.RunID)
		if r != nil && len(r.Steps) == 1 && r.Steps[0].Status == StepRetrying && r.Steps[0].NextAttemptAt != nil {
			due = append(due, r.Steps[0].NextAttemptAt.Sub(time.Now()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(due) != 1 || due[0] < time.Second || due[0] > 2*time.Second {
		t.Fatalf("the first retry is due in %v, want about 2 s (1.6 s to 2 s with jitter)", due)
	}
	r := te.waitFinal(t, acc.RunID)
	if r.Status != RunFailed || r.Steps[0].Attempts != 3 || hits.Load() != 3 {
		t.Fatalf("status %s, %d attempts, %d requests; want failed after 3", r.Status, r.Steps[0].Attempts, hits.Load())
	}
	hits.Store(0)
	b := te.saveFlow(t, fmt.Sprintf(`{"id": "g", "name": "g", "enabled": true, "trigger": {"type": "webhook", "path": "g"},
	  "steps": [{"id": "call", "use": "http.request", "retry": {"attempts": 1}, "with": {"url": "%s/x"}}]}`, srv.URL))
	acc, _ = te.Accept(context.Background(), b, webhookEvent(`{}`), false)
	if r := te.waitFinal(t, acc.RunID); r.Status != RunFailed || r.Steps[0].Attempts != 1 || hits.Load() != 1 {
		t.Fatalf("opted out: status %s, %d attempts, %d requests", r.Status, r.Steps[0].Attempts, hits.Load())
	}
}
