//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package engine

import (
	"os"
	"syscall"
)

// mapJournal maps the journal file shared and writable: a slot's update is
// then a store into the page cache, which outlives the process, with no
// system call.
func mapJournal(f *os.File, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
}

func unmapJournal(mem []byte) error { return syscall.Munmap(mem) }
