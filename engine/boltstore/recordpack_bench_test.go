package boltstore

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// BenchmarkPackRecord is the cost packing adds per record written: a W0
// event writes an event and an index value at accept, and a run and an
// index value at its checkpoint.
func BenchmarkPackRecord(b *testing.B) {
	ev := newEvent("bench", `{"id":"o-123","total":42}`)
	ev.ID, ev.Method, ev.Path, ev.RemoteAddr = "evt_00000000000000a1", "POST", "bench", "127.0.0.1"
	ev.Headers = map[string]string{"content-length": "25", "content-type": "application/json", "host": "127.0.0.1:8080"}
	fin := ev.ReceivedAt.Add(time.Millisecond)
	run := &engine.Run{ID: "run_00000000000000a1", FlowID: "bench", FlowVersion: 1, EventID: ev.ID, Status: engine.RunSucceeded,
		CreatedAt: ev.ReceivedAt, StartedAt: &ev.ReceivedAt, FinishedAt: &fin,
		Steps: []engine.StepResult{{ID: "shape", Use: "data.set", Status: engine.StepSucceeded, Attempts: 1,
			Input: map[string]any{"order": "o-123", "total": "42"}, Output: map[string]any{"order": "o-123", "total": "42"}, StartedAt: ev.ReceivedAt, FinishedAt: &fin, DurationMS: 0.01}}}
	evJS := appendEventJSON(nil, ev)
	runJS, _ := appendRunJSON(nil, run)
	sum := run.Summary()
	sumJS := appendSummaryJSON(nil, &sum)
	for _, c := range []struct {
		name string
		js   []byte
	}{{"event", evJS}, {"run", runJS}, {"summary", sumJS}} {
		b.Run("pack/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.js)))
			for b.Loop() {
				packRecord(nil, c.js)
			}
		})
		packed := packRecord(nil, c.js)
		b.Run("unpack/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.js)))
			for b.Loop() {
				if _, err := unpackRecord(packed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
