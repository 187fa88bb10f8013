package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordingStore records each checkpoint of a run (SaveRun) as the steps
// it held, and can hold every save back a while.
type recordingStore struct {
	Store
	delay time.Duration
	mu    sync.Mutex
	saves []string // per save: "status:step=status,…"
	saved atomic.Int64
}

func (s *recordingStore) SaveRun(ctx context.Context, r *Run) error {
	time.Sleep(s.delay)
	desc := string(r.Status) + ":"
	for _, st := range r.Steps {
		desc += fmt.Sprintf("%s=%s,", st.ID, st.Status)
	}
	if err := s.Store.SaveRun(ctx, r); err != nil {
		return err
	}
	s.mu.Lock()
	s.saves = append(s.saves, desc)
	s.mu.Unlock()
	s.saved.Store(time.Now().UnixNano())
	return nil
}

func (s *recordingStore) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.saves...)
}

// TestCallCheckpointFoldedIntoFinal: a call followed only by pure steps to
// the end of the run is saved with the run's final checkpoint, not one of
// its own (W1's shape: a call, then the answer); the sync caller gets the
// answer only after that save; and a call followed by another call is
// saved before the second starts, so a crash during the second never sends
// the first again.
func TestCallCheckpointFoldedIntoFinal(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	var rs *recordingStore
	te := startEngineOver(t, "", Config{}, func(s Store) Store {
		rs = &recordingStore{Store: s, delay: 150 * time.Millisecond}
		return rs
	})
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "w1", "name": "w1", "enabled": true, "trigger": {"type": "webhook", "path": "w1", "respond": "sync"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"n": "{{ trigger.body.n }}"}},
	            {"id": "send", "use": "http.request", "with": {"url": "%s", "method": "POST", "body": {"n": "{{ steps.shape.output.n }}"}}},
	            {"id": "reply", "use": "webhook.respond", "with": {"status": 200, "body": {"sent": "{{ steps.send.output.status }}"}}}]}`, srv.URL))
	acc, err := te.Accept(context.Background(), a, webhookEvent(`{"n": 1}`), true)
	if err != nil {
		t.Fatal(err)
	}
	answered := <-acc.Done
	at := time.Now().UnixNano()
	if answered.Response == nil {
		t.Fatalf("no answer: %+v", answered)
	}
	if saved := rs.saved.Load(); saved == 0 || saved > at {
		t.Errorf("the caller was answered before the call's checkpoint was saved")
	}
	te.waitFinal(t, acc.RunID)
	if got := rs.list(); len(got) != 1 || got[0] != "succeeded:shape=succeeded,send=succeeded,reply=succeeded," {
		t.Errorf("checkpoints %q; want only the final one, holding the call", got)
	}

	// Two calls: the first is saved before the second starts.
	rs.mu.Lock()
	rs.saves = nil
	rs.mu.Unlock()
	a2 := te.saveFlow(t, fmt.Sprintf(`{"id": "two", "name": "two", "enabled": true, "trigger": {"type": "webhook", "path": "two"},
	  "steps": [{"id": "first", "use": "http.request", "with": {"url": "%s", "method": "POST"}},
	            {"id": "shape", "use": "data.set", "with": {"n": 1}},
	            {"id": "second", "use": "http.request", "with": {"url": "%s", "method": "POST"}}]}`, srv.URL, srv.URL))
	acc, err = te.Accept(context.Background(), a2, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	te.waitFinal(t, acc.RunID)
	want := []string{"running:first=succeeded,shape=succeeded,", "succeeded:first=succeeded,shape=succeeded,second=succeeded,"}
	if got := rs.list(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checkpoints %q; want %q", got, want)
	}
}
