package boltstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/internal/testlog"
	"github.com/switchyard/switchyard/internal/testwait"
)

// openFaultyStore opens a store whose applier transactions fail with fault
// while it returns an error, logging into the returned buffer.
func openFaultyStore(t *testing.T, fault func() error) (*Store, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	s, err := OpenWith(t.TempDir(), Options{LockWait: time.Second, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// The applier reads it only once a write reaches it, after this.
	s.applyFault = fault
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// TestStuckApplier: with bbolt refusing every write (fdatasync failing on
// the database file), webhooks went on being acknowledged from the log
// until the backlog filled, then hung; so did every read of runs, and
// nothing was logged. Now the stuck applier is logged (once, not per
// retry), reported by Health, reads and writes that need bbolt give up at
// once, acknowledgements stop at the backlog bound with
// ErrStoreUnavailable, and everything acknowledged goes in once bbolt takes
// writes again.
func TestStuckApplier(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	s, logs := openFaultyStore(t, func() error {
		if failing.Load() {
			return fmt.Errorf("fdatasync %s: %w", DBFileName, syscall.EIO)
		}
		return nil
	})
	s.backlogMax = 10
	ctx := context.Background()
	var acked []string
	for i := 0; ; i++ {
		start := time.Now()
		res, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"i":%d}`, i)), newRun("f"), 0)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("accept %d took %s", i, took)
		}
		if err != nil {
			if !errors.Is(err, engine.ErrStoreUnavailable) {
				t.Fatalf("accept %d: %v, want ErrStoreUnavailable", i, err)
			}
			break
		}
		acked = append(acked, res.RunID)
		if i == 0 {
			testwait.For(t, "the applier to get stuck", func() bool { return s.Health().Stuck })
		}
		if i > 100 {
			t.Fatal("more than 100 writes acknowledged over a backlog bound of 10")
		}
	}
	if len(acked) != 10 {
		t.Fatalf("%d webhooks acknowledged, want the backlog bound of 10", len(acked))
	}
	h := s.Health()
	if !h.Stuck || h.Backlog != 10 || !errors.Is(h.Cause, syscall.EIO) {
		t.Fatalf("health %+v; want stuck on EIO with a backlog of 10", h)
	}
	start := time.Now()
	if _, err := s.ListRuns(ctx, engine.RunFilter{}); !errors.Is(err, engine.ErrStoreUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("list runs while stuck: %v after %s, want ErrStoreUnavailable at once", err, time.Since(start))
	}
	if _, err := s.PutFlow(ctx, "f", []byte(`{}`)); !errors.Is(err, engine.ErrStoreUnavailable) {
		t.Fatalf("a bbolt write while stuck: %v, want ErrStoreUnavailable", err)
	}
	time.Sleep(1500 * time.Millisecond) // several retries
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "input/output error") {
		t.Fatalf("%d ERROR lines, want 1 naming the cause:\n%s", n, logs)
	}

	failing.Store(false)
	testwait.For(t, "the applier to catch up", func() bool { return !s.Health().Stuck && s.Health().Backlog == 0 })
	for _, id := range acked {
		if _, err := s.Run(ctx, id); err != nil {
			t.Fatalf("acknowledged run %s: %v", id, err)
		}
	}
	if _, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0); err != nil {
		t.Fatalf("accept after recovery: %v", err)
	}
	if !strings.Contains(logs.String(), "takes writes again") {
		t.Errorf("recovery not logged:\n%s", logs)
	}
}

// TestApplierRecoversPanic: a panic while applying used to end the process;
// now it is logged with its stack and retried like any refused write.
func TestApplierRecoversPanic(t *testing.T) {
	var panics atomic.Int32
	panics.Store(3)
	s, logs := openFaultyStore(t, func() error {
		if panics.Add(-1) >= 0 {
			panic("boom in apply")
		}
		return nil
	})
	ctx := context.Background()
	res, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the write to go in", func() bool { return s.applied.Load() >= 1 })
	if _, err := s.Run(ctx, res.RunID); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "boom in apply") || !strings.Contains(out, "bolt_apply.go") {
		t.Fatalf("the panic was not logged with its stack:\n%s", out)
	}
}

// TestReadsGiveUpWhenBehind: a read that waits for an applier that does
// not move (but is not failing) gives up after readWait.
func TestReadsGiveUpWhenBehind(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	hold := make(chan struct{})
	s.holdApply = hold
	defer close(hold)
	s.readWait = 200 * time.Millisecond
	if _, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := s.ListRuns(ctx, engine.RunFilter{})
	if !errors.Is(err, engine.ErrStoreUnavailable) {
		t.Fatalf("read behind a held applier: %v, want ErrStoreUnavailable", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 3*time.Second {
		t.Fatalf("gave up after %s, want about 200ms", took)
	}
}

// TestLogWriteFailureIsUnavailable: a write the log refuses (a full disk)
// fails with ErrStoreUnavailable, logged once however often it recurs.
func TestLogWriteFailureIsUnavailable(t *testing.T) {
	logs := &testlog.Buffer{}
	s, err := OpenWith(t.TempDir(), Options{LockWait: time.Second, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for range 3 {
		s.log.KillFile()
		if _, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0); !errors.Is(err, engine.ErrStoreUnavailable) {
			t.Fatalf("accept over a failing log: %v, want ErrStoreUnavailable", err)
		}
	}
	s.log.ForceRotate()
	if _, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Count(out, "level=ERROR") != 1 || !strings.Contains(out, "takes writes again") {
		t.Fatalf("want one ERROR line and a recovery line:\n%s", out)
	}
}
