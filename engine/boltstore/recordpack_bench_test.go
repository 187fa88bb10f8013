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

// BenchmarkPackEncoders compares the small-record encoder with the S2
// library's dictionary encoder on the same records, output buffers reused.
func BenchmarkPackEncoders(b *testing.B) {
	ev, run := w0History()
	evJS := appendEventJSON(nil, ev)
	runJS, _ := appendRunJSON(nil, run)
	for _, c := range []struct {
		name string
		js   []byte
	}{{"event", evJS}, {"run", runJS}} {
		dst := make([]byte, 0, 4096)
		b.Run("small/"+c.name, func(b *testing.B) {
			for b.Loop() {
				dst = encodeSmallRecord(dst[:0], c.js)
			}
		})
		b.Run("s2lib/"+c.name, func(b *testing.B) {
			for b.Loop() {
				dst = recordDictV1.Encode(dst[:cap(dst)], c.js)
			}
		})
	}
}
