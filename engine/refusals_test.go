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
	begin := time.Now() // the overall bucket refills from here
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
	// One flow takes its burst (what it keeps), another too: a flood at
	// one flow leaves room for the others.
	for _, flow := range []string{"f", "g"} {
		n := 0
		for range RefusalRate {
			if te.AdmitRefusal(flow) {
				n++
				te.RecordRefusal(Refusal{FlowID: flow, Reason: "bad", Kind: "malformed_body", Status: 400})
			}
		}
		if n != RefusalsPerFlow {
			t.Errorf("flow %s: %d of %d admitted at once, want %d", flow, n, RefusalRate, RefusalsPerFlow)
		}
		admitted += n
	}
	st := te.Stats()
	if st.Refused != 30+2*RefusalRate || st.RefusalsDropped != int64(30+2*RefusalRate-admitted) {
		t.Errorf("stats: refused %d, unrecorded %d", st.Refused, st.RefusalsDropped)
	}
	p, err := te.ListRefusals(context.Background(), RefusalFilter{FlowID: "f", Limit: 500})
	if err != nil || len(p.Refusals) != RefusalsPerFlow {
		t.Fatalf("flow f lists %d refusals (%v), want the %d kept", len(p.Refusals), err, RefusalsPerFlow)
	}
	all, _ := te.ListRefusals(context.Background(), RefusalFilter{Limit: 500})
	if len(all.Refusals) != 2*RefusalsPerFlow+RefusalBurstNoFlow {
		t.Errorf("%d refusals in all, want %d", len(all.Refusals), 2*RefusalsPerFlow+RefusalBurstNoFlow)
	}
	// The overall bucket holds 512 - 420 = 92 tokens, and what refilled
	// meanwhile (512 a second): a third flow takes them and no more.
	n := 0
	for range RefusalRate {
		if te.AdmitRefusal("h") {
			n++
		}
	}
	refill := int(time.Since(begin).Seconds()*RefusalRate) + 1
	if want := RefusalRate - 2*RefusalsPerFlow - RefusalBurstNoFlow; n < want || n > want+refill {
		t.Errorf("flow h: %d admitted, want the %d left of the overall rate", n, want)
	}
	// Later the flow's bucket holds tokens again.
	time.Sleep(100 * time.Millisecond)
	if !te.AdmitRefusal("f") {
		t.Error("no refusal admitted 100ms later (6 of the flow's tokens due)")
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
