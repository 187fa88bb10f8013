package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/switchyard/switchyard/engine/boltstore"
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
	rep, err := store.Compact(ctx)
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	fmt.Fprintf(stdout, "compacted %s: %s → %s\n", filepath.Join(o.data, boltstore.DBFileName), formatBytes(rep.BeforeBytes), formatBytes(rep.AfterBytes))
	return nil
}

// byteSize is a flag of a number of bytes: 1048576, 512KiB, 128MiB, 2GiB
// (KB, MB, GB are taken as the same powers of two).
type byteSize struct{ n *int64 }

func (b byteSize) String() string {
	if b.n == nil || *b.n == 0 {
		return "0"
	}
	return formatBytes(*b.n)
}

func (b byteSize) Set(v string) error {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<62 {
		return fmt.Errorf("want a size such as 2GiB, 500MiB or 1048576")
	}
	*b.n = int64(n * float64(mult))
	return nil
}

// formatBytes writes n in the largest binary unit that keeps it ≥ 1.
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", f), "0"), ".0") + units[i]
}
