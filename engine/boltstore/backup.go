package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore/wal"
	"github.com/switchyard/switchyard/internal/fsutil"
)

// Backup writes a consistent copy of the database while the store keeps
// taking writes. It first waits until bbolt holds every logged write
// acknowledged before it was called (as a read of runs does), then copies
// the file inside one bbolt read transaction: writers go on meanwhile,
// and the copy is the database as of that transaction. Once the snapshot
// is taken, start is called with its exact size and returns where to
// write it; Backup returns the bytes written.
//
// The copy is a whole bbolt file, ready to be a data dir's database (see
// Restore). Its write-ahead log position is that of the snapshot, and the
// log itself is not needed: everything it held is in the copy. While the
// copy is written the pages it reads cannot be reused, so a slow reader
// makes the file grow by what is written meanwhile.
func (s *Store) Backup(ctx context.Context, start func(size int64) (io.Writer, error)) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.viewRuns(func(tx *bolt.Tx) error {
		w, err := start(tx.Size())
		if err != nil {
			return err
		}
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	return n, err
}

// ctxWriter stops a copy once its context ends (the client went away).
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// ErrNotDatabase is matched (errors.Is) when a file given to restore is
// not a Switchyard database.
var ErrNotDatabase = errors.New("not a Switchyard database backup")

// ErrDirNotEmpty is matched when restore would overwrite a data dir that
// holds something besides the key file, and was not forced.
var ErrDirNotEmpty = errors.New("data directory is not empty")

// CheckBackup checks that the file at path is a whole bbolt database with
// Switchyard's buckets, without changing it: what a backup must pass
// before it replaces FILE (backup) or a data dir's database (Restore).
func CheckBackup(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w: not a regular file", path, ErrNotDatabase)
	}
	if fi.Size() == 0 {
		return fmt.Errorf("%s: %w: the file is empty", path, ErrNotDatabase)
	}
	if err := checkBoltData(f, fi.Size()); err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrNotDatabase, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrNotDatabase, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketFlows, bucketRuns} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%s: %w: a bbolt file without Switchyard's %q bucket", path, ErrNotDatabase, b)
			}
		}
		return nil
	})
}

// Restore makes the backup at src the database of the data dir dir. It
// checks src first (CheckBackup) and touches nothing when that fails. A
// dir that holds anything besides the key file is refused with
// ErrDirNotEmpty unless force is set; forced, it takes the dir's lock
// (failing with engine.ErrLocked while a server holds it), removes the
// write-ahead log and the step journal, which belong to the database
// being replaced, and replaces the database. The key file is left alone:
// the restored database needs the key it was made with.
func Restore(src, dir string, force bool) error {
	if err := CheckBackup(src); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore: create data dir: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var others []string
	for _, e := range entries {
		if e.Name() != engine.KeyFileName {
			others = append(others, e.Name())
		}
	}
	dst := filepath.Join(dir, DBFileName)
	if len(others) > 0 {
		if !force {
			return fmt.Errorf("restore: %s: %w (it holds %s); restore into an empty directory, or pass --force to replace its database",
				dir, ErrDirNotEmpty, others[0])
		}
		// Hold the lock of the database being replaced until the new one
		// is in place, so no server starts on (or runs on) the dir meanwhile.
		if old, err := os.OpenFile(dst, os.O_RDWR, 0); err == nil {
			defer old.Close()
			if err := lockFile(old, time.Second); err != nil {
				if errors.Is(err, berrors.ErrTimeout) {
					return fmt.Errorf("restore: %s: %w (lock held; stop the server first)", dst, engine.ErrLocked)
				}
				return fmt.Errorf("restore: lock %s: %w", dst, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
		// The old log would be replayed onto the restored database.
		if err := os.RemoveAll(filepath.Join(dir, wal.DirName)); err != nil {
			return fmt.Errorf("restore: remove the old write-ahead log: %w", err)
		}
		// The journals name runs of the database being replaced.
		for _, j := range []string{engine.StepJournalFile, engine.BulkJournalFile} {
			if err := os.Remove(filepath.Join(dir, j)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("restore: remove the old %s: %w", j, err)
			}
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := fsutil.WriteFileAtomic(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	}); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}
