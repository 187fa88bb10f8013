package engine

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAccept measures durable ingest (each Accept is fsync'd) with the
// workers running the stored runs, from many goroutines at once as
// webhooks arrive. Compare with -cpu 1,2 and run with -benchtime.
func BenchmarkAccept(b *testing.B) {
	te := startEngineB(b)
	a, err := te.SaveFlow(context.Background(), []byte(`{"id": "bench", "name": "bench", "enabled": true,
	  "trigger": {"type": "webhook", "path": "bench"},
	  "steps": [{"id": "shape", "use": "data.set", "with": {"order": "{{ trigger.body.id }}", "total": "{{ trigger.body.total }}"}}]}`), false, "")
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS concurrent webhooks
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ev := &Event{Source: "webhook", Method: "POST", ContentType: "application/json",
				Body: []byte(fmt.Sprintf(`{"id":"o-%d","total":42}`, i)), Headers: map[string]string{"content-type": "application/json"}}
			if _, err := te.Accept(context.Background(), a, ev, false); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	deadline := time.Now().Add(30 * time.Second)
	for te.Stats().Pending > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

func startEngineB(b *testing.B) *testEngine { return startEngineBWith(b, Config{}) }

// startEngineBWith is startEngineB with more settings (HTTP, ...).
func startEngineBWith(b *testing.B, cfg Config) *testEngine {
	dir := b.TempDir()
	s, err := openTestStore(b, dir)
	if err != nil {
		b.Fatal(err)
	}
	// As serve runs it: with the step journal.
	cfg.Store, cfg.QueueLimit, cfg.StepJournal = s, 1<<20, filepath.Join(dir, StepJournalFile)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	te := &testEngine{Engine: e, store: s, dir: dir}
	b.Cleanup(te.close)
	return te
}

// BenchmarkStepJournal is what the step journal costs a step: the slot
// written before it starts (and, once per run, cleared).
func BenchmarkStepJournal(b *testing.B) {
	j, _, err := openStepJournal(filepath.Join(b.TempDir(), StepJournalFile), 8)
	if err != nil {
		b.Fatal(err)
	}
	defer j.close()
	for b.Loop() {
		if err := j.enter(3, "run_0000000000012345", "send_to_crm"); err != nil {
			b.Fatal(err)
		}
	}
}
