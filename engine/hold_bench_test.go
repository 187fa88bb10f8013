package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngestBesideCappedFlow is what a flow capped at concurrency 1
// with a backlog costs the other flows: webhooks to another flow are
// accepted (fsync'd) and run to the end, from many goroutines at once,
// beside a capped flow holding 0 or 5,000 runs whose one step takes 20 ms.
// Compare the two sub-benchmarks of one run: held runs take no worker and
// no store read, so the ratio should stay near 1.
func BenchmarkIngestBesideCappedFlow(b *testing.B) {
	for _, backlog := range []int{0, 5000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			benchBesideCapped(b, backlog)
		})
	}
}

func benchBesideCapped(b *testing.B, backlog int) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer slow.Close()
	te := startEngineB(b)
	ctx := context.Background()
	capped, err := te.SaveFlow(ctx, fmt.Appendf(nil, `{"id": "capped", "name": "capped", "enabled": true, "concurrency": 1,
	  "trigger": {"type": "webhook", "path": "capped"},
	  "steps": [{"id": "crm", "use": "http.request", "with": {"url": %q, "method": "POST", "body": {"id": "{{ trigger.body.id }}"}}}]}`, slow.URL), false, "")
	if err != nil {
		b.Fatal(err)
	}
	other, err := te.SaveFlow(ctx, []byte(`{"id": "other", "name": "other", "enabled": true,
	  "trigger": {"type": "webhook", "path": "other"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"order": "{{ trigger.body.id }}", "total": "{{ trigger.body.total }}"}}]}`), false, "")
	if err != nil {
		b.Fatal(err)
	}
	event := func(i int64) *Event {
		return &Event{Source: "webhook", Method: "POST", ContentType: "application/json",
			Body: fmt.Appendf(nil, `{"id":"o-%d","total":42}`, i), Headers: map[string]string{"content-type": "application/json"}}
	}
	// The backlog, accepted from many goroutines so that it takes group
	// commits, not 5,000 fsyncs in a row.
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(backlog); i = next.Add(1) {
				if _, err := te.Accept(ctx, capped, event(i), false); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for backlog > 0 && te.FlowHold("capped").Held < backlog-50 {
		time.Sleep(time.Millisecond)
	}
	// Unfinished runs of the other flow: all unfinished runs less the
	// capped flow's (held or in progress).
	otherPending := func() int64 {
		h := te.FlowHold("capped")
		return te.Stats().Pending - int64(h.Held+h.InProgress)
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := te.Accept(ctx, other, event(n.Add(1)), false); err != nil {
				b.Error(err)
				return
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for otherPending() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if backlog > 0 && te.FlowHold("capped").InProgress > 1 {
		b.Fatalf("the capped flow ran %d at once", te.FlowHold("capped").InProgress)
	}
}
