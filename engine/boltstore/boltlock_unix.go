//go:build unix

package boltstore

import (
	"errors"
	"os"
	"syscall"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

// lockFile takes the exclusive lock bbolt takes on its file, waiting up to
// wait (0: for ever) like bbolt does, and fails with bbolt's ErrTimeout.
func lockFile(f *os.File, wait time.Duration) error {
	const retry = 50 * time.Millisecond
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if wait != 0 && time.Since(start) > wait-retry {
			return berrors.ErrTimeout
		}
		time.Sleep(retry)
	}
}
