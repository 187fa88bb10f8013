// Package testwait holds what tests use to wait for work done in other
// goroutines (workers, the store's applier) without sleeping a fixed time.
package testwait

import (
	"testing"
	"time"
)

// For polls cond every 5 ms until it holds, failing the test after 10 s
// with what it waited for.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
