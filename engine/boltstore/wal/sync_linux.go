package wal

import (
	"os"
	"syscall"
)

// fdatasync flushes a file's data (and the size, when it grew) without the
// rest of its metadata.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
