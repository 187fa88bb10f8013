//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package engine

import (
	"errors"
	"os"
)

// mapJournal is not available here: the journal writes its slots with
// pwrite instead.
func mapJournal(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapJournal([]byte) error { return nil }
