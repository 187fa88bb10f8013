package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/internal/units"
)

// cmdCompact rewrites the database of a data dir no server runs on
// without its free pages (a running server compacts by itself, see
// --compact-free, or on POST /api/compact).
func cmdCompact(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("compact", &o, false)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"compact takes no arguments besides its flags"}
	}
	if o.database != "" {
		return usageError{"compact: --database names a PostgreSQL database, which compacts itself (autovacuum); compact works on a data dir"}
	}
	if _, err := os.Stat(filepath.Join(o.data, boltstore.DBFileName)); err != nil {
		return fmt.Errorf("compact: no database in %s: %w", o.data, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Opening takes the dir's lock (failing fast while a server holds
	// it) and applies whatever the write-ahead log still holds.
	store, err := openStore(&o, newLogger("warn", io.Discard))
	if err != nil {
		return err
	}
	c, ok := store.(engine.Compacter)
	if !ok {
		store.Close()
		return fmt.Errorf("compact: this store cannot be compacted")
	}
	rep, err := c.Compact(ctx)
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	fmt.Fprintf(stdout, "compacted %s: %s → %s\n", filepath.Join(o.data, boltstore.DBFileName), units.FormatBytes(rep.BeforeBytes), units.FormatBytes(rep.AfterBytes))
	return nil
}

// byteSize is a flag of a number of bytes: 1048576, 512KiB, 128MiB, 2GiB.
type byteSize struct{ n *int64 }

func (b byteSize) String() string {
	if b.n == nil || *b.n == 0 {
		return "0"
	}
	return units.FormatBytes(*b.n)
}

func (b byteSize) Set(v string) error {
	n, err := units.ParseBytes(v)
	if err != nil {
		return err
	}
	*b.n = n
	return nil
}
