package engine

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// TestRateBucketsReserve: reservations beyond the burst are spread evenly
// in the order they were made; a kept reservation comes back to its
// holder instead of a new place in line; Allow refuses while the bucket
// is in debt.
func TestRateBucketsReserve(t *testing.T) {
	var b RateBuckets
	lim := flows.RateLimit{Requests: 2, Per: flows.Duration(time.Second)}
	t0 := time.Unix(1000, 0)
	var got []time.Duration
	for i := range 5 {
		at := b.Reserve("c", lim, "run:"+string(rune('a'+i)), t0)
		got = append(got, at.Sub(t0))
	}
	want := []time.Duration{0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	for i := range want {
		if d := got[i] - want[i]; d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("reservation %d at +%v, want +%v (all: %v)", i, got[i], want[i], got)
		}
	}
	if ok, wait := b.Allow("c", lim, t0); ok || wait < 1900*time.Millisecond {
		t.Fatalf("Allow in debt: %v, wait %v", ok, wait)
	}
	b.Keep("run:e", t0.Add(got[4]))
	if at := b.Reserve("c", lim, "run:e", t0.Add(got[4])); !at.Equal(t0.Add(got[4])) {
		t.Fatalf("kept reservation came back as +%v", at.Sub(t0))
	}
	// A changed limit starts a full bucket.
	if at := b.Reserve("c", flows.RateLimit{Requests: 5, Per: flows.Duration(time.Second)}, "run:f", t0); !at.Equal(t0) {
		t.Fatalf("new limit: +%v", at.Sub(t0))
	}
}
