package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	crm := newLeadCRM(t, 20*time.Millisecond)
	te := startEngine(t, "", Config{Workers: 2})
	ctx := context.Background()
	a := te.saveFlow(t, crm.flow())
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

	crm.down.Store(false)
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
	crm.expectEachOnce(t, n)
	if again, err := te.PlanBulk(ctx, BulkRequest{Action: BulkRetry, Filter: &RunFilter{FlowID: "leads"}}); err != nil || again.Count != 0 {
		t.Fatalf("second plan: %+v %v", again, err)
	}
}

// TestBulkResumesAfterStop: a bulk retry or replay cut short by a stop
// goes on when the engine starts again, from its journal: every lead is
// delivered exactly once (the runs acted on before the stop are found and
// left out: a replay, unlike a retry, would otherwise be made again), and
// the journal is gone once the action is done. A damaged journal does not
// keep the engine from starting.
func TestBulkResumesAfterStop(t *testing.T) {
	for _, action := range []string{BulkRetry, BulkReplay} {
		t.Run(action, func(t *testing.T) { testBulkResumesAfterStop(t, action) })
	}
}

func testBulkResumesAfterStop(t *testing.T, action string) {
	crm := newLeadCRM(t, 25*time.Millisecond)
	delivered := func() int {
		n := 0
		for _, k := range crm.counts() {
			n += k
		}
		return n
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, BulkJournalFile)
	cfg := Config{Workers: 1, BulkJournal: journal}
	te := startEngine(t, dir, cfg)
	ctx := context.Background()
	a := te.saveFlow(t, crm.flow())
	const n = 30
	for i := range n {
		acc, err := te.Accept(ctx, a, webhookEvent(fmt.Sprintf(`{"email":"l%d@example.com"}`, i)), false)
		if err != nil {
			t.Fatal(err)
		}
		te.waitFinal(t, acc.RunID)
	}
	plan, err := te.PlanBulk(ctx, BulkRequest{Action: action, Filter: &RunFilter{FlowID: "leads"}})
	if err != nil || plan.Count != n {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	crm.down.Store(false)
	if err := te.StartBulk(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(journal); err != nil {
		t.Fatalf("the started action is not in the journal: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); delivered() < 5; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bulk retry delivered nothing")
		}
	}
	te.close()
	if d := delivered(); d >= n {
		t.Fatalf("every lead was delivered (%d) before the stop: nothing to resume", d)
	}

	te = startEngine(t, dir, cfg)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, _, _ := te.CountUnresolved(ctx, 100); c == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("failures still unresolved 20 s after the restart; %d delivered", delivered())
		}
	}
	crm.expectEachOnce(t, n)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(journal); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the journal outlived the finished action")
		}
	}
	te.close()

	if err := os.WriteFile(journal, []byte(`{"actions": [{"act`), 0o600); err != nil {
		t.Fatal(err)
	}
	te = startEngine(t, dir, cfg)
	if err := te.StartBulk(ctx, &BulkPlan{Action: action, Count: 1, RunIDs: []string{"run_0000000000000001"}}); err != nil {
		t.Fatalf("after a damaged journal: %v", err)
	}
}

// leadCRM is the service of the bulk tests' lead flow: it refuses leads
// (422) while down, else takes each after a delay and counts it by email.
type leadCRM struct {
	*httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  map[string]int
}

func newLeadCRM(t *testing.T, delay time.Duration) *leadCRM {
	c := &leadCRM{got: map[string]int{}}
	c.down.Store(true)
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.down.Load() {
			w.WriteHeader(422)
			io.WriteString(w, `{"error":"down"}`)
			return
		}
		var b struct{ Email string }
		json.NewDecoder(r.Body).Decode(&b)
		time.Sleep(delay)
		c.mu.Lock()
		c.got[b.Email]++
		c.mu.Unlock()
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(c.Close)
	return c
}

// flow sends each lead's email to the CRM.
func (c *leadCRM) flow() string {
	return fmt.Sprintf(`{"id": "leads", "name": "leads", "enabled": true, "trigger": {"type": "webhook", "path": "leads"},
	  "steps": [{"id": "crm", "use": "http.request", "with": {"method": "POST", "url": %q, "body": {"email": "{{ trigger.body.email }}"}}}]}`, c.URL)
}

// counts is how often each email was taken.
func (c *leadCRM) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.got)
}

// expectEachOnce checks that n distinct leads were taken, each once.
func (c *leadCRM) expectEachOnce(t *testing.T, n int) {
	t.Helper()
	got := c.counts()
	if len(got) != n {
		t.Errorf("delivered %d leads, want %d: %v", len(got), n, got)
	}
	for email, k := range got {
		if k != 1 {
			t.Errorf("%s delivered %d times", email, k)
		}
	}
}
