package boltstore

import (
	"testing"
)

// BenchmarkPackRecord is the cost packing adds per record written: a W0
// event writes an event and an index value at accept, and a run and an
// index value at its checkpoint.
func BenchmarkPackRecord(b *testing.B) {
	ev, run := w0History()
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
