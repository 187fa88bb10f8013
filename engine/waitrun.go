package engine

import (
	"context"
	"time"
)

// MaxRunWait caps how long WaitRun (GET /api/runs/{id}?wait=, POST
// /hooks/{path}?wait=) waits for a run to finish.
const MaxRunWait = 60 * time.Second

// WaitRun returns run id once it is final, or as it stands when d (at
// most MaxRunWait) has passed or ctx ended. It listens on the engine's
// update stream, so many callers may wait for the same run.
func (e *Engine) WaitRun(ctx context.Context, id string, d time.Duration) (*Run, error) {
	d = min(d, MaxRunWait)
	// Subscribed before the first read: an update between the read and
	// the wait is not missed.
	s := e.EventsAfter("")
	defer s.Close()
	run, err := e.store.Run(ctx, id)
	if err != nil || run.Status.Final() || d <= 0 {
		return run, err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	var buf []Update
	for {
		select {
		case <-ctx.Done():
			return e.store.Run(context.WithoutCancel(ctx), id)
		case <-timer.C:
			return e.store.Run(ctx, id)
		case <-s.Ready():
		}
		var lost bool
		buf, lost = s.Read(buf[:0])
		changed := lost
		for _, u := range buf {
			if u.RunID == id && u.Type == "run" && RunStatus(u.Status).Final() {
				changed = true
			}
		}
		if !changed {
			continue
		}
		if run, err = e.store.Run(ctx, id); err != nil || run.Status.Final() {
			return run, err
		}
	}
}
