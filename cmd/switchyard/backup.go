package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/internal/fsutil"
)

// cmdBackup writes a consistent copy of the database to --out: from a
// running server over GET /api/backup (--server, --token), or offline
// from a data dir (--data), taking its lock and applying its write-ahead
// log first. FILE is written beside itself and renamed into place once
// whole, synced and checked, so a failed backup never leaves a FILE cut
// short. The key file is never part of it (docs/operations.md, "Backups").
func cmdBackup(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("backup", &o, false)
	var rf remoteFlags
	addRemoteFlags(fs, &rf)
	var out string
	fs.StringVar(&out, "out", "", "file to write the backup to (written whole or not at all)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"backup takes no arguments besides its flags"}
	}
	if out == "" {
		return usageError{"backup: --out FILE is required"}
	}
	srv, err := rf.pick("backup", args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var n int64
	if srv != nil {
		n, err = backupFromServer(ctx, srv, out)
	} else {
		n, err = backupOffline(ctx, &o, out)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup written to %s (%d bytes). It does not hold the key file %s: keep a copy of that apart, restoring needs it.\n",
		out, n, engine.KeyFileName)
	return nil
}

// backupOffline copies the database of a data dir no server runs on.
// Opening the store takes the dir's lock (failing fast while a server
// holds it) and applies whatever the write-ahead log still holds.
func backupOffline(ctx context.Context, o *options, out string) (int64, error) {
	if err := dataDirOnly(o, "backup without --server"); err != nil {
		return 0, err
	}
	if _, err := os.Stat(filepath.Join(o.data, boltstore.DBFileName)); err != nil {
		return 0, fmt.Errorf("no database in %s: %w", o.data, err)
	}
	store, err := boltstore.OpenWith(o.data, boltstore.Options{LockWait: lockWait})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	var n int64
	err = fsutil.WriteFileAtomic(out, func(w io.Writer) error {
		var err error
		n, err = store.Backup(ctx, func(int64) (io.Writer, error) { return w, nil })
		return err
	}, checkCopy(out))
	return n, err
}

// backupFromServer fetches GET /api/backup into out.
func backupFromServer(ctx context.Context, srv *remote, out string) (int64, error) {
	resp, err := srv.send(ctx, http.MethodGet, "/api/backup", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n int64
	err = fsutil.WriteFileAtomic(out, func(w io.Writer) error {
		var err error
		n, err = io.Copy(w, resp.Body)
		if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
			err = fmt.Errorf("the copy was cut short at %d of %d bytes; %s was left as it was", n, resp.ContentLength, out)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("the copy was cut short at %d of %d bytes (%w); %s was left as it was", n, resp.ContentLength, err, out)
		}
		return err
	}, checkCopy(out))
	return n, err
}

// checkCopy refuses a copy that is not a whole database before it would
// replace out.
func checkCopy(out string) func(tmp string) error {
	return func(tmp string) error {
		if err := boltstore.CheckBackup(tmp); err != nil {
			return fmt.Errorf("the copy is not a whole database, so %s was left as it was: %w", out, err)
		}
		return nil
	}
}

// cmdRestore makes a backup the database of a data dir. It checks the
// file before touching anything and refuses a dir that holds anything
// besides the key file unless --force is given.
func cmdRestore(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("restore", &o, false)
	var force bool
	fs.BoolVar(&force, "force", false, "replace the database of a data dir that is not empty (its write-ahead log and step journal go too)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: switchyard restore FILE --data DIR [--force]"}
	}
	if err := dataDirOnly(&o, "restore"); err != nil {
		return err
	}
	if err := boltstore.Restore(pos[0], o.data, force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s. Put the key file the backup was made with at %s before starting the server.\n",
		pos[0], o.data, filepath.Join(o.data, engine.KeyFileName))
	return nil
}
