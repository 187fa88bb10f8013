package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/switchyard/switchyard/connectors/delay"
	_ "github.com/switchyard/switchyard/connectors/flowcall"
	"github.com/switchyard/switchyard/flows"
)

// recorder is a fake service that keeps each request's path and JSON body.
type recorder struct {
	mu   sync.Mutex
	got  []map[string]any
	path []string
	srv  *httptest.Server
}

func newRecorder(t *testing.T, answer string) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		json.Unmarshal(b, &v)
		rec.mu.Lock()
		rec.got = append(rec.got, v)
		rec.path = append(rec.path, r.URL.Path)
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) requests() ([]string, []map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.path...), append([]map[string]any(nil), r.got...)
}

const enrichFlow = `{"id": "enrich", "name": "Enrich", "enabled": true, "trigger": {"type": "call"},
  "steps": [{"id": "lookup", "use": "http.request", "with": {"url": "%s/lookup", "method": "POST", "body": {"email": "{{ trigger.body.email }}"}}},
            {"id": "answer", "use": "data.set", "with": {"company": "{{ steps.lookup.output.body.company }}", "email": "{{ trigger.body.email }}"}}]}`

// TestFlowCallReturnsResult: a flow.call step starts the called flow with
// its payload, waits for it, returns its last step's output, and both
// runs point at each other.
func TestFlowCallReturnsResult(t *testing.T) {
	svc := newRecorder(t, `{"company": "Acme"}`)
	te := startEngine(t, "", Config{Workers: 4})
	te.saveFlow(t, fmt.Sprintf(enrichFlow, svc.srv.URL))
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "intake", "name": "Intake", "enabled": true, "trigger": {"type": "webhook", "path": "intake"},
	  "steps": [{"id": "enrich", "use": "flow.call", "with": {"flow": "enrich", "payload": {"email": "{{ trigger.body.email }}"}}},
	            {"id": "crm", "use": "http.request", "with": {"url": "%s/crm", "method": "POST", "body": {"company": "{{ steps.enrich.output.company }}"}}}]}`, svc.srv.URL))
	acc, err := te.Accept(context.Background(), a, webhookEvent(`{"email": "ann@example.com"}`), false)
	if err != nil {
		t.Fatal(err)
	}
	r := te.waitFinal(t, acc.RunID)
	if r.Status != RunSucceeded {
		t.Fatalf("caller %s: %s", r.Status, r.Error)
	}
	step := r.Steps[0]
	if step.Calls == "" || step.Status != StepSucceeded {
		t.Fatalf("flow.call step %+v", step)
	}
	if out, _ := step.Output.(map[string]any); out["company"] != "Acme" || out["email"] != "ann@example.com" {
		t.Fatalf("flow.call output %#v", step.Output)
	}
	callee, err := te.Run(context.Background(), step.Calls)
	if err != nil {
		t.Fatal(err)
	}
	if callee.FlowID != "enrich" || callee.CalledBy == nil || callee.CalledBy.RunID != r.ID || callee.CalledBy.StepID != "enrich" || callee.CalledBy.Depth != 1 {
		t.Fatalf("callee link %+v", callee.CalledBy)
	}
	ev, _ := te.Event(context.Background(), callee.EventID)
	if ev.Source != SourceCall || string(ev.Body) != `{"email":"ann@example.com"}` {
		t.Fatalf("callee event %s %s", ev.Source, ev.Body)
	}
	paths, bodies := svc.requests()
	if strings.Join(paths, ",") != "/lookup,/crm" || bodies[0]["email"] != "ann@example.com" || bodies[1]["company"] != "Acme" {
		t.Fatalf("service got %v %v", paths, bodies)
	}
}

// TestFlowCallWaitsAcrossRestart: a caller parked while the called flow
// waits survives a stop and start, and the called flow runs once.
func TestFlowCallWaitsAcrossRestart(t *testing.T) {
	svc := newRecorder(t, `{"ok": true}`)
	dir := t.TempDir()
	te := startEngine(t, dir, Config{})
	te.saveFlow(t, fmt.Sprintf(`{"id": "slow", "name": "Slow", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "wait", "use": "flow.delay", "with": {"duration": "1s"}},
	            {"id": "hit", "use": "http.request", "with": {"url": "%s/slow", "method": "POST", "body": {"n": "{{ trigger.body.n }}"}}}]}`, svc.srv.URL))
	a := te.saveFlow(t, `{"id": "caller", "name": "Caller", "enabled": true, "trigger": {"type": "webhook", "path": "c"},
	  "steps": [{"id": "call", "use": "flow.call", "with": {"flow": "slow", "payload": {"n": 7}}}]}`)
	acc, err := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := te.Run(context.Background(), acc.RunID)
		if r != nil && len(r.Steps) == 1 && r.Steps[0].Status == StepWaiting && r.Steps[0].Calls != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("caller never parked: %+v", r)
		}
		time.Sleep(5 * time.Millisecond)
	}
	te.close()
	te = startEngine(t, dir, Config{})
	r := te.waitFinal(t, acc.RunID)
	if r.Status != RunSucceeded {
		t.Fatalf("caller after restart: %s %s", r.Status, r.Error)
	}
	paths, _ := svc.requests()
	if len(paths) != 1 {
		t.Fatalf("called flow's request sent %d times", len(paths))
	}
	page, _ := te.ListRuns(context.Background(), RunFilter{FlowID: "slow"})
	if len(page.Runs) != 1 {
		t.Fatalf("%d runs of the called flow, want 1", len(page.Runs))
	}
}

// TestFlowCallStartsOncePerAttempt: starting the same step's call twice
// (what a crash between the start and the checkpoint does) finds the run
// already started.
func TestFlowCallStartsOncePerAttempt(t *testing.T) {
	te := startEngine(t, "", Config{})
	te.Stop() // nothing runs: only the starts are looked at
	te.saveFlow(t, `{"id": "leaf", "name": "Leaf", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`)
	caller := &Run{ID: "run_caller", FlowID: "caller"}
	first, err := te.startCall(context.Background(), caller, "call", 1, "leaf", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	again, err := te.startCall(context.Background(), caller, "call", 1, "leaf", map[string]any{"n": 1})
	if err != nil || again != first {
		t.Fatalf("second start: %q %v, want %q", again, err, first)
	}
	// Before its first checkpoint the run is rebuilt from its summary,
	// which keeps the link (recovery after a crash reads it so).
	if r, err := te.Run(context.Background(), first); err != nil || r.CalledBy == nil || r.CalledBy.RunID != "run_caller" || r.CalledBy.Depth != 1 {
		t.Fatalf("unstarted called run %+v %v", r, err)
	}
	next, _ := te.startCall(context.Background(), caller, "call", 2, "leaf", nil)
	if next == first {
		t.Fatal("a new attempt reused the first attempt's run")
	}
	if _, err := te.startCall(context.Background(), caller, "call", 1, "nope", nil); err == nil || !strings.Contains(err.Error(), `flow "nope" does not exist`) {
		t.Fatalf("unknown flow: %v", err)
	}
}

// TestFlowCallDepthLimit: a chain of calls deeper than MaxCallDepth fails
// at the step that would go one deeper, and every run above it fails.
func TestFlowCallDepthLimit(t *testing.T) {
	te := startEngine(t, "", Config{Workers: 16})
	n := flows.MaxCallDepth + 2
	te.saveFlow(t, fmt.Sprintf(`{"id": "f%d", "name": "leaf", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "a", "use": "data.set", "with": {"x": 1}}]}`, n-1))
	for i := n - 2; i >= 0; i-- {
		typ := `"type": "call"`
		if i == 0 {
			typ = `"type": "webhook", "path": "top"`
		}
		te.saveFlow(t, fmt.Sprintf(`{"id": "f%d", "name": "f", "enabled": true, "trigger": {%s},
		  "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "f%d"}}]}`, i, typ, i+1))
	}
	a, _ := te.Flow("f0")
	acc, err := te.Accept(context.Background(), a, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	r := te.waitFinal(t, acc.RunID)
	if r.Status != RunFailed {
		t.Fatalf("top run %s", r.Status)
	}
	// Walk down to the run whose step refused to go deeper.
	for r.Steps[0].Calls != "" {
		next := te.waitFinal(t, r.Steps[0].Calls)
		r = next
	}
	if r.FlowID != fmt.Sprintf("f%d", flows.MaxCallDepth) || !strings.Contains(r.Steps[0].Error, "more than 8 flows deep") {
		t.Fatalf("deepest run %s: %s", r.FlowID, r.Steps[0].Error)
	}
	page, _ := te.ListRuns(context.Background(), RunFilter{FlowID: fmt.Sprintf("f%d", n-1)})
	if len(page.Runs) != 0 {
		t.Fatal("the flow beyond the limit ran")
	}
}

// TestErrorFlow: a run that fails for good starts its on_failure flow with
// the failed run, step, error and trigger body (secrets masked); an error
// flow that fails starts nothing, not even the settings' default.
func TestErrorFlow(t *testing.T) {
	svc := newRecorder(t, `{}`)
	te := startEngine(t, "", Config{})
	if _, err := te.PutConnection(context.Background(), "tok", "secret", map[string]string{"value": "s3cr3t-token"}); err != nil {
		t.Fatal(err)
	}
	te.saveFlow(t, fmt.Sprintf(`{"id": "alert", "name": "Alert", "enabled": true, "trigger": {"type": "call"},
	  "steps": [{"id": "post", "use": "http.request", "with": {"url": "%s/alert", "method": "POST", "body": {"failed": "{{ trigger.body }}"}}},
	            {"id": "boom", "use": "http.request", "retry": {"attempts": 1}, "with": {"url": "http://127.0.0.1:1/"}}]}`, svc.srv.URL))
	if err := te.SaveSettings(context.Background(), Settings{OnFailure: &flows.FailureHandler{Flow: "alert"}}); err != nil {
		t.Fatal(err)
	}
	a := te.saveFlow(t, `{"id": "work", "name": "Work", "enabled": true, "trigger": {"type": "webhook", "path": "w"},
	  "on_failure": {"flow": "alert"},
	  "steps": [{"id": "send", "use": "http.request", "retry": {"attempts": 1}, "with": {"url": "http://127.0.0.1:1/", "headers": {"authorization": "Bearer {{ secrets.tok.value }}"}}}]}`)
	acc, err := te.Accept(context.Background(), a, webhookEvent(`{"lead": "ann", "token": "s3cr3t-token"}`), false)
	if err != nil {
		t.Fatal(err)
	}
	failed := te.waitFinal(t, acc.RunID)
	if failed.Status != RunFailed || failed.FailureRun == "" {
		t.Fatalf("failed run %s, failure run %q", failed.Status, failed.FailureRun)
	}
	alert := te.waitFinal(t, failed.FailureRun)
	if alert.FailureOf != failed.ID || alert.FlowID != "alert" || alert.Status != RunFailed || alert.FailureRun != "" {
		t.Fatalf("error flow run %+v", alert)
	}
	_, bodies := svc.requests()
	if len(bodies) != 1 {
		t.Fatalf("error flow posted %d times", len(bodies))
	}
	got := bodies[0]["failed"].(map[string]any)
	flow := got["flow"].(map[string]any)
	trig := got["trigger"].(map[string]any)
	if got["run_id"] != failed.ID || flow["id"] != "work" || got["failed_step"] != "send" || !strings.Contains(got["error"].(string), "send") || trig["lead"] != "ann" {
		t.Fatalf("error flow trigger %v", got)
	}
	if trig["token"] == "s3cr3t-token" {
		t.Fatal("the secret reached the error flow's trigger body")
	}
	time.Sleep(200 * time.Millisecond)
	page, _ := te.ListRuns(context.Background(), RunFilter{FlowID: "alert"})
	if len(page.Runs) != 1 {
		t.Fatalf("%d error flow runs, want 1 (its own failure starts none)", len(page.Runs))
	}
}

// TestFlowRefsChecked: saving refuses unknown flows and call cycles, and
// deleting a flow others use is refused while they do.
func TestFlowRefsChecked(t *testing.T) {
	te := startEngine(t, "", Config{})
	te.saveFlow(t, `{"id": "b", "name": "B", "enabled": true, "trigger": {"type": "call"}, "steps": [{"id": "x", "use": "data.set", "with": {"x": 1}}]}`)
	te.saveFlow(t, `{"id": "a", "name": "A", "enabled": true, "trigger": {"type": "manual"}, "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "b"}}]}`)
	cases := map[string]struct{ raw, field, msg string }{
		"unknown flow": {`{"id": "u", "name": "U", "trigger": {"type": "manual"}, "steps": [{"id": "c", "use": "flow.call", "with": {"flow": "ghost"}}]}`,
			"steps[0].with.flow", `unknown flow "ghost"`},
		"unknown error flow": {`{"id": "u", "name": "U", "trigger": {"type": "manual"}, "on_failure": {"flow": "ghost"}, "steps": [{"id": "x", "use": "data.set", "with": {"x": 1}}]}`,
			"on_failure.flow", `unknown flow "ghost"`},
		"cycle through another": {`{"id": "b", "name": "B", "enabled": true, "trigger": {"type": "call"}, "steps": [{"id": "x", "use": "flow.call", "with": {"flow": "a"}}]}`,
			"steps[0].with.flow", "b → a → b"},
		"calls itself": {`{"id": "s", "name": "S", "trigger": {"type": "call"}, "steps": [{"id": "x", "use": "flow.call", "with": {"flow": "s"}}]}`,
			"steps[0].with.flow", "s → s"},
		"own error flow": {`{"id": "s", "name": "S", "trigger": {"type": "call"}, "on_failure": {"flow": "s"}, "steps": [{"id": "x", "use": "data.set", "with": {"x": 1}}]}`,
			"on_failure.flow", "its own failure flow"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := te.SaveFlow(context.Background(), []byte(c.raw), false, "")
			var ve *flows.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("saved: %v", err)
			}
			for _, d := range ve.Details {
				if d.Field == c.field && strings.Contains(d.Message, c.msg) {
					return
				}
			}
			t.Fatalf("no %s: %q in %v", c.field, c.msg, ve.Details)
		})
	}
	err := te.DeleteFlow(context.Background(), "b")
	var inUse *FlowInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrFlowInUse) || strings.Join(inUse.By, ",") != "flow a" {
		t.Fatalf("delete of a called flow: %v", err)
	}
	if err := te.DeleteFlow(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := te.DeleteFlow(context.Background(), "b"); err != nil {
		t.Fatalf("b is no longer called: %v", err)
	}
}
