package boltstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackupWaitsForTheLog: writes acknowledged but still only in the
// write-ahead log when a backup is asked for are in the copy, which waits
// for the applier; the copy has the size start was told, and restores
// into a dir a store opens with every one of those runs.
func TestBackupWaitsForTheLog(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	hold := make(chan struct{})
	s.holdApply = hold
	var ids []string
	for i := 0; i < 20; i++ {
		res, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.RunID)
	}
	var buf bytes.Buffer
	var told int64
	done := make(chan error, 1)
	go func() {
		n, err := s.Backup(ctx, func(size int64) (io.Writer, error) { told = size; return &buf, nil })
		if err == nil && n != told {
			err = errors.New("backup wrote another size than it announced")
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("backup finished while acknowledged writes were not applied: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != told {
		t.Fatalf("copy is %d bytes, announced %d", buf.Len(), told)
	}
	file := filepath.Join(t.TempDir(), "b.db")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Restore(file, dir, false); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, id := range ids {
		if _, err := r.Run(ctx, id); err != nil {
			t.Errorf("run %s not in the restored copy: %v", id, err)
		}
	}
	// The restored store goes on taking writes after the copy's position.
	if _, err := r.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0); err != nil {
		t.Fatal(err)
	}
}

// TestBackupStopsWithItsContext: a copy whose reader went away ends.
func TestBackupStopsWithItsContext(t *testing.T) {
	s := openTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Backup(ctx, func(int64) (io.Writer, error) { return io.Discard, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("backup with its context done: %v", err)
	}
}
