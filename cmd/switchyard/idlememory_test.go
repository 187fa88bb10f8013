package main

import (
	"testing"
	"time"
)

// The heap is released once per quiet spell, and only when the process
// has also stopped working in the background (the search indexer after a
// burst), not merely when no events arrive.
func TestIdleWatch(t *testing.T) {
	w := newIdleWatch(0, 0)
	cpu := time.Duration(0)
	check := func(activity, pending int64, used time.Duration) bool {
		cpu += used
		return w.quiet(activity, pending, cpu)
	}
	if check(0, 0, 0) {
		t.Fatal("a fresh server released")
	}
	if check(100, 5, time.Second) || check(200, 0, time.Second) {
		t.Fatal("released while events arrived")
	}
	// No events, but the indexer works: not quiet.
	if check(200, 0, 800*time.Millisecond) || check(200, 0, 300*time.Millisecond) {
		t.Fatal("released while the process still worked")
	}
	if !check(200, 0, 10*time.Millisecond) {
		t.Fatal("not released once quiet")
	}
	cpu += 40 * time.Millisecond // the release itself
	w.released(cpu)
	if check(200, 0, 0) || check(200, 0, 0) {
		t.Fatal("released twice in one quiet spell")
	}
	if check(201, 0, 0) || !check(201, 0, 0) {
		t.Fatal("a new quiet spell after work did not release once")
	}
}
