package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBulkRetryPaced: after an outage, a bulk retry plans each chain of
// retries once (a run retried by hand is retried from its retry), starts
// the runs in the background never keeping more than twice the workers
// of them unfinished, delivers every lead once, and leaves nothing to
// retry.
func TestBulkRetryPaced(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(422)
			io.WriteString(w, `{"error":"down"}`)
			return
		}
		var b struct{ Email string }
		json.NewDecoder(r.Body).Decode(&b)
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		got[b.Email]++
		mu.Unlock()
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	te := startEngine(t, "", Config{Workers: 2})
	ctx := context.Background()
	a := te.saveFlow(t, fmt.Sprintf(`{"id": "leads", "name": "leads", "enabled": true, "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [{"id": "crm", "use": "http.request", "with": {"method": "POST", "url": %q, "body": {"email": "{{ trigger.body.email }}"}}}]}`, srv.URL))
	const n = 20
	var first string
	for i := range n {
		acc, err := te.Accept(ctx, a, webhookEvent(fmt.Sprintf(`{"email":"l%d@example.com"}`, i)), false)
		if err != nil {
			t.Fatal(err)
		}
		if te.waitFinal(t, acc.RunID).Status != RunFailed {
			t.Fatal("a lead did not fail during the outage")
		}
		if i == 0 {
			first = acc.RunID
		}
	}
	byHand, err := te.RetryRun(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	te.waitFinal(t, byHand.ID)

	plan, err := te.PlanBulk(ctx, BulkRequest{Action: BulkRetry, Filter: &RunFilter{FlowID: "leads"}})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Count != n || plan.Flows["leads"] != n || plan.SkippedCount != 1 {
		t.Fatalf("plan: count %d, flows %v, skipped %d %v; want %d, one skipped (the chain retried by hand)", plan.Count, plan.Flows, plan.SkippedCount, plan.Skipped, n)
	}
	for _, id := range plan.RunIDs {
		if id == first {
			t.Fatal("the run retried by hand is planned instead of its retry")
		}
	}

	down.Store(false)
	if err := te.StartBulk(ctx, plan); err != nil {
		t.Fatal(err)
	}
	peak := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		peak = max(peak, te.bulk.busy())
		if c, _, _ := te.CountUnresolved(ctx, 100); c == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("failures still unresolved 20 s after the bulk retry")
		}
		time.Sleep(time.Millisecond)
	}
	if peak > 2*2 || peak == 0 {
		t.Errorf("peak of unfinished bulk runs %d, want 1 to 4 (twice the workers)", peak)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("delivered %d leads, want %d: %v", len(got), n, got)
	}
	for email, k := range got {
		if k != 1 {
			t.Errorf("%s delivered %d times", email, k)
		}
	}
	if again, err := te.PlanBulk(ctx, BulkRequest{Action: BulkRetry, Filter: &RunFilter{FlowID: "leads"}}); err != nil || again.Count != 0 {
		t.Fatalf("second plan: %+v %v", again, err)
	}
}
