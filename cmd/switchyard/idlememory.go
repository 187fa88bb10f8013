package main

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// idleCheckEvery is how often releaseMemoryWhenIdle looks for a quiet
// engine.
const idleCheckEvery = 5 * time.Second

// releaseMemoryWhenIdle gives the heap a burst of work left behind back
// to the operating system once the engine has gone quiet: nothing
// accepted, run or refused for a whole check and nothing pending. Go's
// own scavenger returns such memory only over minutes, and until then a
// server idle after a busy hour shows the busy hour's RSS (issue 16). It
// runs once per quiet spell, not on every check, so an idle server does
// no work.
func releaseMemoryWhenIdle(ctx context.Context, stats func() engine.Stats) {
	t := time.NewTicker(idleCheckEvery)
	defer t.Stop()
	activity := func(s engine.Stats) int64 { return s.Accepted + s.Succeeded + s.Failed + s.Steps + s.Refused }
	last, released := activity(stats()), true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := stats()
		now := activity(s)
		switch {
		case now != last || s.Pending > 0:
			last, released = now, false
		case !released:
			debug.FreeOSMemory()
			released = true
		}
	}
}
