package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/internal/fsutil"
)

// Compaction: bbolt never gives a file's free pages back to the file
// system, so after retention deleted much of the history the file keeps its
// size. Compact copies the live data into a new file, packed full, and puts
// it in place of the old one, while the store keeps taking webhooks:
//
//   - It runs on the applier, between two of its transactions, so bbolt
//     does not change under the copy and nothing written is missed.
//   - Meanwhile the logger goes on logging and acknowledging webhooks and
//     checkpoints (they are durable in the write-ahead log); a drainer keeps
//     taking the groups it hands on, so its queue never fills and ingest
//     does not wait. They are applied, in order, once the copy is in place.
//   - Writes that need bbolt's answer (flows, tokens, dedupe-checked
//     webhooks, ...) and reads of runs (which must see every acknowledged
//     write) wait for the copy, the latter at most readWait.
//   - The new file is written beside the old one (switchyard.db.compact),
//     synced, opened (which locks it), renamed over the old one and the
//     directory synced: a crash at any point leaves either the old file or
//     the whole new one. Reads that began on the old file finish on it.

// compactTxMax bounds the size of each transaction of the copy.
const compactTxMax = 64 << 20

// compactSuffix names the file a compaction writes before the rename.
const compactSuffix = ".compact"

// Space reports the database file's size and how much of it is free: free
// pages and the unused tail bbolt grew the file by. Compaction returns
// about the free part to the file system.
func (s *Store) Space() (engine.StoreSpace, error) {
	var sp engine.StoreSpace
	err := s.dbView(func(tx *bolt.Tx) error {
		fi, err := os.Stat(filepath.Join(s.dir, DBFileName))
		if err != nil {
			return err
		}
		st := tx.DB().Stats()
		sp.FileBytes = fi.Size()
		used := tx.Size() - int64(st.FreeAlloc)
		sp.FreeBytes = max(0, sp.FileBytes-used)
		return nil
	})
	if err != nil {
		return sp, fmt.Errorf("store: space: %w", err)
	}
	return sp, nil
}

// Compact rewrites the database without its free pages (see above) and
// reports the sizes before and after and how long writes that need bbolt
// waited.
func (s *Store) Compact(ctx context.Context) (engine.CompactReport, error) {
	var rep engine.CompactReport
	op := &writeOp{errc: make(chan error, 1), exclusive: func() error {
		var err error
		rep, err = s.compact()
		return err
	}}
	if err := s.submit(ctx, op); err != nil {
		return rep, fmt.Errorf("store: compact: %w", err)
	}
	return rep, nil
}

// runExclusive runs fn on the applier while a drainer takes the groups the
// logger hands on; they are stashed to be applied next, in order.
func (s *Store) runExclusive(fn func() error) error {
	stop := make(chan struct{})
	drained := make(chan []*writeOp)
	go func() {
		var got []*writeOp
		for {
			select {
			case g, ok := <-s.applyq:
				if !ok {
					// Closing: whatever came stays in order below; the
					// applier sees the closed queue after the stash.
					<-stop
					drained <- got
					return
				}
				got = append(got, g...)
			case <-stop:
				drained <- got
				return
			}
		}
	}()
	err := fn()
	close(stop)
	s.stash = append(s.stash, <-drained...)
	return err
}

// compact is Compact on the applier's goroutine.
func (s *Store) compact() (engine.CompactReport, error) {
	began := time.Now()
	path := filepath.Join(s.dir, DBFileName)
	tmp := path + compactSuffix
	var rep engine.CompactReport
	if fi, err := os.Stat(path); err == nil {
		rep.BeforeBytes = fi.Size()
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, err
	}
	dst, err := openBoltFile(tmp, time.Second)
	if err != nil {
		return rep, fmt.Errorf("create %s: %w", tmp, err)
	}
	fail := func(err error) (engine.CompactReport, error) {
		dst.Close()
		os.Remove(tmp)
		return rep, err
	}
	if err := safeApply(func() error { return bolt.Compact(dst, s.db, compactTxMax) }); err != nil {
		return fail(fmt.Errorf("copy: %w", err))
	}
	// bbolt synced each commit; the file's length and the rename must be
	// durable too before the old file goes.
	if err := dst.Sync(); err != nil {
		return fail(fmt.Errorf("sync %s: %w", tmp, err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("rename %s: %w", tmp, err))
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		// The rename happened: the new file is the database from now on
		// whatever this says, so go on with it.
		s.logger.Warn("store: compaction: syncing the data dir failed", "err", err)
	}
	s.dbMu.Lock()
	old := s.db
	s.db = dst
	s.dbMu.Unlock()
	// Reads still on the old file hold it open; Close waits for them.
	go old.Close()
	if fi, err := os.Stat(path); err == nil {
		rep.AfterBytes = fi.Size()
	}
	rep.Took = time.Since(began)
	return rep, nil
}

var _ engine.Compacter = (*Store)(nil)
