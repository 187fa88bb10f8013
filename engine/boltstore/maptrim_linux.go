package boltstore

import "syscall"

// dropMappedPages tells the kernel the process no longer needs the pages
// of the shared file map at addr (MADV_DONTNEED): they leave its resident
// set and stay in the page cache. Errors are ignored: trimming is an
// economy, never needed for correctness.
func dropMappedPages(addr, size uintptr) {
	if addr == 0 || size == 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, size, syscall.MADV_DONTNEED)
}
