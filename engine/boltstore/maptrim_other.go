//go:build !linux

package boltstore

// dropMappedPages does nothing where MADV_DONTNEED on a shared file map
// is not known to keep the file's pages: there the map stays resident as
// the kernel decides.
func dropMappedPages(addr, size uintptr) {}
