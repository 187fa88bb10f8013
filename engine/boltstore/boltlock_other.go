//go:build !unix

package boltstore

import (
	"os"
	"time"
)

// lockFile does nothing where bbolt locks its file by other means: the
// check before bbolt's own lock then reads without one.
func lockFile(*os.File, time.Duration) error { return nil }
