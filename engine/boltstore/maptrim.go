package boltstore

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// mapTrimEvery is how often the store hands the pages of its database
// map back to the kernel (see trimLoop).
const mapTrimEvery = 5 * time.Second

// trimLoop keeps the database map out of the process's resident memory.
// bbolt reads through a shared read-only map of the file, and every page a
// transaction touches — each new leaf the applier appends to, each page of
// history a user reads — stays counted in the process's RSS until the
// kernel needs it back, so RSS grew with history (issue 16: 460 MiB after
// 200k events). Every mapTrimEvery the map's pages are dropped from the
// process (MADV_DONTNEED): the file's pages stay in the page cache, so the
// next read of a hot page is a minor fault, not a disk read, and what an
// operator's top or a container's RSS limit sees is the store's working
// set of the last few seconds. It stops when stop is closed.
func (s *Store) trimLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(mapTrimEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.trimMap()
		}
	}
}

// trimMap drops the map's pages once. The read transaction keeps bbolt
// from remapping the file meanwhile, so the range is the live map: it
// spans at least initialMapSize (bbolt maps that much at open and only
// grows the map) and at least the pages in use. Pages past those in use
// are dropped too: the kernel maps neighbours of a faulting page that
// are in the page cache (fault-around), pages bbolt has allocated but not
// yet filled among them.
func (s *Store) trimMap() {
	// Through dbView: a compaction may swap the file (compact.go); the
	// transaction's own DB is the map it holds.
	_ = s.dbView(func(tx *bolt.Tx) error {
		dropMappedPages(tx.DB().Info().Data, uintptr(max(tx.Size(), initialMapSize)))
		return nil
	})
}
