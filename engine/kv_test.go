package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	_ "github.com/switchyard/switchyard/connectors/store"
	"github.com/switchyard/switchyard/flows"
)

// The store.* steps over the bbolt store: concurrent runs count every
// event once, the flow's own namespace is its id, a shared one is seen by
// another flow, a refusal fails the step naming the field, and test runs
// (which share one run id) each write.
func TestStoreSteps(t *testing.T) {
	te := startEngine(t, "", Config{Workers: 8})
	ctx := context.Background()
	counter := te.saveFlow(t, `{"id": "counter", "name": "c", "enabled": true, "trigger": {"type": "webhook", "path": "c"},
	  "steps": [
	    {"id": "count", "use": "store.increment", "with": {"key": "conv:{{ trigger.body.conv }}"}},
	    {"id": "last", "use": "store.set", "with": {"key": "last", "namespace": "shared", "value": {"conv": "{{ trigger.body.conv }}", "n": "{{ steps.count.output.value }}"}}}]}`)
	const n = 20
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc, err := te.Accept(ctx, counter, webhookEvent(fmt.Sprintf(`{"conv": "c%d"}`, i%2)), false)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- acc.RunID
		}()
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		if r := te.waitFinal(t, id); r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Error)
		}
	}
	for _, key := range []string{"conv:c0", "conv:c1"} {
		e, err := te.KVGet(ctx, "counter", key)
		if err != nil || string(e.Value) != "10" {
			t.Errorf("counter/%s = %s, %v; want 10", key, e.Value, err)
		}
	}

	reader := te.saveFlow(t, `{"id": "reader", "name": "r", "enabled": true, "trigger": {"type": "webhook", "path": "r"},
	  "steps": [
	    {"id": "shared", "use": "store.get", "with": {"key": "last", "namespace": "shared"}},
	    {"id": "own", "use": "store.get", "with": {"key": "conv:c0", "default": -1}},
	    {"id": "drop", "use": "store.delete", "with": {"key": "last", "namespace": "shared"}},
	    {"id": "big", "use": "store.set", "with": {"key": "big", "value": "{{ repeat('x', 70000) }}"}}]}`)
	acc, err := te.Accept(ctx, reader, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	r := te.waitFinal(t, acc.RunID)
	out := func(id string) string {
		res := r.result(id)
		if res == nil {
			return ""
		}
		b, _ := json.Marshal(res.Output)
		return string(b)
	}
	if got := out("shared"); !strings.HasPrefix(got, `{"found":true,"value":{"conv":"c`) || !strings.Contains(got, `"n":`) {
		t.Errorf("shared value read by another flow: %s", got)
	}
	if got := out("own"); got != `{"found":false,"value":-1}` {
		t.Errorf("another flow's own namespace leaked: %s", got)
	}
	if got := out("drop"); got != `{"deleted":true,"key":"last"}` {
		t.Errorf("delete: %s", got)
	}
	big := r.result("big")
	if r.Status != RunFailed || big == nil || big.Status != StepFailed || !strings.Contains(big.Error, `store.set: field "value": larger than 64 KiB`) || big.Attempts != 1 {
		t.Errorf("over the value limit: run %s, step %+v", r.Status, big)
	}

	// A secret, or what a template computes from one, is not stored: the
	// Data store page and the API would show it.
	if _, err := te.PutConnection(ctx, "crm_key", "secret", map[string]string{"value": "s3cret-token-value"}); err != nil {
		t.Fatal(err)
	}
	leaky := te.saveFlow(t, `{"id": "leaky", "name": "l", "enabled": true, "trigger": {"type": "webhook", "path": "l"},
	  "steps": [{"id": "keep", "use": "store.set", "with": {"key": "k", "value": "Bearer {{ secrets.crm_key.value }}"}}]}`)
	acc, err = te.Accept(ctx, leaky, webhookEvent(`{}`), false)
	if err != nil {
		t.Fatal(err)
	}
	r = te.waitFinal(t, acc.RunID)
	if keep := r.result("keep"); r.Status != RunFailed || keep == nil || !strings.Contains(keep.Error, `field "value": holds a secret`) || strings.Contains(keep.Error, "s3cret") {
		t.Errorf("a secret stored: run %s, step %+v", r.Status, keep)
	}
	if _, err := te.KVGet(ctx, "leaky", "k"); err == nil {
		t.Error("the secret is in the data store")
	}

	// Test runs all have the id run_test: their writes are not named, or
	// the second would be taken for the first.
	cf, err := flows.Compile(counter.Compiled.Flow)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		run, err := te.TestRun(ctx, cf, webhookEvent(`{"conv": "t"}`), false)
		if err != nil || run.Status != RunSucceeded {
			t.Fatalf("test run: %v %+v", err, run)
		}
	}
	if e, err := te.KVGet(ctx, "counter", "conv:t"); err != nil || string(e.Value) != "2" {
		t.Errorf("two test runs counted %s, %v", e.Value, err)
	}
	// A dry test run changes nothing.
	if _, err := te.TestRun(ctx, cf, webhookEvent(`{"conv": "t"}`), true); err != nil {
		t.Fatal(err)
	}
	if e, _ := te.KVGet(ctx, "counter", "conv:t"); string(e.Value) != "2" {
		t.Errorf("a dry run counted: %s", e.Value)
	}
}
