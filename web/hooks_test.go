package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

// A sync webhook whose run fails tells its caller that it failed and the
// run id; the step's error, with the internal host and the remote's words,
// stays in the run history.
func TestSyncFailureAnswerIsGeneric(t *testing.T) {
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error": "replica db-7.corp.internal refused user billing_rw"}`))
	}))
	defer internal.Close()
	f := newFixture(t, engine.Config{})
	createFlow(t, f, `{"id": "sf", "name": "sf", "enabled": true,
	  "trigger": {"type": "webhook", "path": "sf", "respond": "sync"},
	  "steps": [{"id": "call", "use": "http.request", "with": {"method": "POST", "url": "`+internal.URL+`/private/ledger"}}]}`)
	resp, body := f.do(t, "POST", "/hooks/sf", "application/json", `{"n": 1}`)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got errorBody
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.RunID == "" || got.Error != syncFailed(got.RunID) {
		t.Fatalf("want the generic message and the run id: %s (%v)", body, err)
	}
	for _, leak := range []string{"db-7", "billing_rw", "/private/ledger", "127.0.0.1", "400", "http.request"} {
		if strings.Contains(body, leak) {
			t.Errorf("the answer tells the caller %q: %s", leak, body)
		}
	}
	run := waitRun(t, f.eng, got.RunID)
	if run.Status != engine.RunFailed || !strings.Contains(run.Error+run.Steps[0].Error, "db-7.corp.internal") {
		t.Fatalf("the run history lost the detail: %s %q %q", run.Status, run.Error, run.Steps[0].Error)
	}
}
