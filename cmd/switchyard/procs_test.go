package main

import (
	"runtime"
	"testing"
)

// serve doubles the processors the runtime chose, and an operator's
// GOMAXPROCS wins.
func TestRaiseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(3)
	if got := raiseProcs(); got != 6 || runtime.GOMAXPROCS(0) != 6 {
		t.Fatalf("raiseProcs with 3 chosen: returned %d, GOMAXPROCS %d; want 6", got, runtime.GOMAXPROCS(0))
	}
	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3)
	if got := raiseProcs(); got != 3 || runtime.GOMAXPROCS(0) != 3 {
		t.Fatalf("raiseProcs with GOMAXPROCS=3 set: returned %d, GOMAXPROCS %d; want 3 kept", got, runtime.GOMAXPROCS(0))
	}
}
