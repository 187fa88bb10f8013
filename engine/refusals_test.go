package engine

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A burst of refusals is admitted up to the rate's burst, refusals of no
// flow up to their own; the rest are counted as unrecorded, and what was
// admitted is listed newest first once written.
func TestRefusalAdmission(t *testing.T) {
	te := startEngine(t, t.TempDir(), Config{})
	admitted := 0
	for range 30 {
		if te.AdmitRefusal("") {
			admitted++
			te.RecordRefusal(Refusal{Reason: "no flow", Kind: "no_flow", Status: 404})
		}
	}
	if admitted != RefusalBurstNoFlow {
		t.Errorf("%d of 30 refusals of no flow admitted at once, want %d", admitted, RefusalBurstNoFlow)
	}
	for range RefusalRate {
		if te.AdmitRefusal("f") {
			admitted++
			te.RecordRefusal(Refusal{FlowID: "f", Reason: "bad", Kind: "malformed_body", Status: 400})
		}
	}
	// The flow's refusals share the one bucket with those of no flow.
	if want := RefusalRate; admitted != want {
		t.Errorf("%d refusals admitted in all, want %d", admitted, want)
	}
	st := te.Stats()
	if st.Refused != 30+RefusalRate || st.RefusalsDropped != int64(30+RefusalRate-admitted) {
		t.Errorf("stats: refused %d, unrecorded %d", st.Refused, st.RefusalsDropped)
	}
	p, err := te.ListRefusals(context.Background(), RefusalFilter{FlowID: "f", Limit: 500})
	if err != nil || len(p.Refusals) != RefusalsPerFlow {
		t.Fatalf("flow f lists %d refusals (%v), want the %d kept", len(p.Refusals), err, RefusalsPerFlow)
	}
	all, _ := te.ListRefusals(context.Background(), RefusalFilter{Limit: 500})
	if len(all.Refusals) != RefusalsPerFlow+RefusalBurstNoFlow {
		t.Errorf("%d refusals in all, want %d", len(all.Refusals), RefusalsPerFlow+RefusalBurstNoFlow)
	}
	// A second later the bucket holds tokens again.
	time.Sleep(50 * time.Millisecond)
	if !te.AdmitRefusal("f") {
		t.Error("no refusal admitted 50ms later (25 tokens due)")
	}
}

// BenchmarkRefusalFlood is what recording a refused request costs the
// webhook handler during a flood: admission (one lock), and for the
// admitted ones the record with a 1 KiB excerpt queued in memory; the
// writes happen in the background, as in the server.
func BenchmarkRefusalFlood(b *testing.B) {
	te := startEngineB(b)
	body := strings.Repeat("x", RefusalBodyMax)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if te.AdmitRefusal("flooded") {
				te.RecordRefusal(Refusal{FlowID: "flooded", Status: 400, Kind: "malformed_body", Reason: "malformed JSON body",
					Method: "POST", Path: "/hooks/flooded", Remote: "192.0.2.1", Body: body, Headers: map[string]string{"content-type": "application/json"}})
			}
		}
	})
}
