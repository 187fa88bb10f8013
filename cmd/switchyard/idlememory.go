package main

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// idleCheckEvery is how often releaseMemoryWhenIdle looks for a quiet
// server.
const idleCheckEvery = 5 * time.Second

// idleCPUMax is the most CPU time the process may use during a check for
// the check to count as quiet: 1 % of one CPU.
const idleCPUMax = idleCheckEvery / 100

// releaseMemoryWhenIdle gives the heap a burst of work left behind back
// to the operating system once the server has gone quiet: nothing
// accepted, run or refused for a whole check, nothing pending, and the
// process nearly without CPU (background work such as the search index
// catching up after a burst, or retention, counts as work too: a release
// while the indexer still worked was undone by it, and the idle RSS after
// a million events stayed at 72 MiB). Go's own scavenger returns such
// memory only over minutes, and until then a server idle after a busy
// hour shows the busy hour's RSS (issue 16). It runs once per quiet spell,
// not on every check, so an idle server does no work.
func releaseMemoryWhenIdle(ctx context.Context, stats func() engine.Stats) {
	t := time.NewTicker(idleCheckEvery)
	defer t.Stop()
	w := newIdleWatch(activityOf(stats()), processCPU())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := stats()
		if w.quiet(activityOf(s), s.Pending, processCPU()) {
			debug.FreeOSMemory()
			// The release's own CPU is not the next check's activity.
			w.released(processCPU())
		}
	}
}

func activityOf(s engine.Stats) int64 {
	return s.Accepted + s.Succeeded + s.Failed + s.Steps + s.Refused
}

// idleWatch decides, check by check, when the server has gone quiet.
type idleWatch struct {
	activity int64
	cpu      time.Duration
	done     bool // released during this quiet spell
}

// newIdleWatch starts as if just released: a fresh server holds nothing
// to give back.
func newIdleWatch(activity int64, cpu time.Duration) *idleWatch {
	return &idleWatch{activity: activity, cpu: cpu, done: true}
}

// quiet takes one check's readings and reports whether to release now.
func (w *idleWatch) quiet(activity, pending int64, cpu time.Duration) bool {
	busy := activity != w.activity || pending > 0 || cpu-w.cpu > idleCPUMax
	w.activity, w.cpu = activity, cpu
	if busy {
		w.done = false
		return false
	}
	return !w.done
}

// released records a release and the CPU time after it.
func (w *idleWatch) released(cpu time.Duration) {
	w.done, w.cpu = true, cpu
}
