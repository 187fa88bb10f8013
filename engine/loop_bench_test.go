package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors/egress"
)

// BenchmarkLoop100Items measures one run of a loop over a list, as cost
// per item: "http" items each shape a body (data.set) and POST it to a
// local server, so every item writes a durable checkpoint; "pure" items
// only shape data (folded into the loop's end, no checkpoint per item).
// items=10 beside items=100 shows how the cost per item grows with the
// list (the run's record, rewritten at each checkpoint, grows with it).
// "slow20ms" items call a remote that answers in 20 ms, one at a time and
// eight at a time.
func BenchmarkLoop100Items(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"id":"erp-1"}`)
	}))
	defer srv.Close()
	for _, kind := range []string{"http", "pure"} {
		for _, n := range []int{10, 100} {
			b.Run(fmt.Sprintf("%s/items=%d", kind, n), func(b *testing.B) {
				benchLoop(b, srv.URL, kind == "http", n, 1)
			})
		}
	}
	// A remote that takes 20 ms per call: what concurrency buys.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, `{"id":"erp-1"}`)
	}))
	defer slow.Close()
	for _, c := range []int{1, 8} {
		b.Run(fmt.Sprintf("slow20ms/items=100/concurrency=%d", c), func(b *testing.B) {
			benchLoop(b, slow.URL, true, 100, c)
		})
	}
}

func benchLoop(b *testing.B, url string, http bool, items, concurrency int) {
	te := startEngineBWith(b, Config{HTTP: egress.NewClient(egress.MustParseAllow("127.0.0.1/32"))})
	inner := `{"id": "shape", "use": "data.set", "with": {"sku": "{{ item.sku }}", "line": "{{ index + 1 }}", "order": "{{ trigger.body.id }}"}}`
	if http {
		inner += fmt.Sprintf(`, {"id": "book", "use": "http.request", "with": {"method": "POST", "url": "%s/lines", "idempotency_key": true,
		  "body": {"sku": "{{ steps.shape.output.sku }}", "line": "{{ steps.shape.output.line }}"}}}`, url)
	}
	a, err := te.SaveFlow(context.Background(), []byte(`{"id": "loop", "name": "loop", "enabled": true,
	  "trigger": {"type": "webhook", "path": "loop"},
	  "steps": [{"id": "lines", "for_each": "trigger.body.line_items", "concurrency": `+fmt.Sprint(concurrency)+`, "steps": [`+inner+`]}]}`), false, "")
	if err != nil {
		b.Fatal(err)
	}
	lines := make([]string, items)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"sku":"SKU-%d","qty":%d,"price":9.5}`, i, i%5+1)
	}
	body := []byte(`{"id":"o-1","line_items":[` + strings.Join(lines, ",") + `]}`)
	b.ResetTimer()
	for range b.N {
		acc, err := te.Accept(context.Background(), a, &Event{Source: "webhook", Method: "POST", ContentType: "application/json", Body: body}, true)
		if err != nil {
			b.Fatal(err)
		}
		if r := <-acc.Done; r.Status != RunSucceeded {
			b.Fatalf("run %s: %s", r.Status, r.Error)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(items)/1000, "µs/item")
}
