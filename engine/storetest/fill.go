package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// FillRuns stores n runs of flow created at created, from 64 writers at
// once, each with a JSON body of about size bytes: finished (succeeded,
// with one step), or with waiting unfinished (waiting for a retry due in a
// year, which no engine runs meanwhile). It returns their ids. Retention
// and compaction tests fill their stores with it, in creation order.
func FillRuns(t testing.TB, s engine.RunStore, flow string, n int, created time.Time, waiting bool, size int) []string {
	t.Helper()
	ctx := context.Background()
	// Random text: the store may compress what it keeps.
	pad := make([]byte, size/2+1)
	rand.Read(pad)
	body := []byte(`{"pad":"` + hex.EncodeToString(pad)[:size] + `"}`)
	ids := make([]string, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ev := &engine.Event{FlowID: flow, Source: "webhook", Method: "POST", Path: flow, ContentType: "application/json", Body: body, ReceivedAt: created}
				r := &engine.Run{FlowID: flow, FlowVersion: 1, Status: engine.RunQueued, CreatedAt: created}
				if _, err := s.Accept(ctx, ev, r, 0); err != nil {
					t.Error(err)
					failed.Store(true)
					return
				}
				ids[i] = r.ID
				if waiting {
					due := time.Now().Add(365 * 24 * time.Hour)
					r.Status, r.DueAt = engine.RunWaiting, &due
					r.Steps = []engine.StepResult{{ID: "call", Use: "http.request", Status: engine.StepRetrying, Attempts: 1, Error: "503 from the remote"}}
				} else {
					r.Status = engine.RunSucceeded
					r.Steps = []engine.StepResult{{ID: "shape", Use: "data.set", Status: engine.StepSucceeded, Attempts: 1, Output: map[string]any{"n": i}}}
				}
				if err := s.SaveRun(ctx, r); err != nil {
					t.Error(err)
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}
	return ids
}
