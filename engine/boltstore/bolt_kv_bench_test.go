package boltstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
)

// BenchmarkKVIncrement measures a named increment (what store.increment
// does: one bbolt transaction with the count and the write's name,
// committed before it returns), one writer at a time and from 128 at once
// on one key (whose transactions the applier shares).
func BenchmarkKVIncrement(b *testing.B) {
	for _, writers := range []int{1, 128} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := boltstore.Open(b.TempDir(), time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			inc := func() bool {
				i := n.Add(1)
				_, err := s.KVWrite(context.Background(), engine.KVWrite{Op: engine.KVIncrement, Namespace: "bench", Key: "count", By: 1,
					Once: fmt.Sprintf("run_%d:count#1", i)})
				if err != nil {
					b.Error(err)
				}
				return err == nil
			}
			b.ResetTimer()
			if writers == 1 {
				for range b.N {
					if !inc() {
						return
					}
				}
			} else {
				// RunParallel starts parallelism × GOMAXPROCS goroutines.
				b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() && inc() {
					}
				})
			}
			b.StopTimer()
			e, err := s.KVGet(context.Background(), "bench", "count", time.Now())
			if err != nil || string(e.Value) != fmt.Sprint(n.Load()) {
				b.Fatalf("count %s after %d increments (%v)", e.Value, n.Load(), err)
			}
		})
	}
}
