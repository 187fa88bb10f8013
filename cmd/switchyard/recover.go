package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/switchyard/switchyard/engine/boltstore"
)

// cmdRecover salvages a damaged write-ahead log: every intact record goes
// into the database, reading on after each damaged stretch at the next
// intact frame, and what was lost is printed. Like token create it works
// on the data dir directly and fails fast while a server holds it.
func cmdRecover(args []string, stdout io.Writer) error {
	var o options
	fs := newFlagSet("recover", &o, false)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"recover takes no arguments besides --data"}
	}
	if err := dataDirOnly(&o, "recover"); err != nil {
		return err
	}
	report, err := boltstore.Recover(o.data, lockWait)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	printRecovery(stdout, filepath.Join(o.data, "wal"), report)
	return nil
}

// printRecovery tells what recovery did, damage by damage.
func printRecovery(w io.Writer, walDir string, r *boltstore.RecoveryReport) {
	var b strings.Builder
	fmt.Fprintf(&b, "write-ahead log %s: %d segment(s) read, %d intact record(s) applied to the database\n",
		walDir, r.Segments, r.Applied)
	if len(r.Damages) == 0 {
		b.WriteString("the log is intact: nothing was lost\n")
	}
	for _, d := range r.Damages {
		if d.End > d.Offset {
			fmt.Fprintf(&b, "\ndamaged: segment %s, bytes %d to %d (%d bytes unreadable)\n", d.Segment, d.Offset, d.End, d.End-d.Offset)
		} else {
			fmt.Fprintf(&b, "\nmissing: records before segment %s (no segment file holds them)\n", d.Segment)
		}
		lsns := fmt.Sprintf("LSN %d", d.FirstLost)
		if d.LastLost != d.FirstLost {
			lsns = fmt.Sprintf("LSNs %d to %d", d.FirstLost, d.LastLost)
		}
		fmt.Fprintf(&b, "  lost: %d record(s), %s\n", d.Lost, lsns)
		for _, l := range d.Looks {
			fmt.Fprintf(&b, "  the damaged bytes seem to hold %s\n", l)
		}
		fmt.Fprintf(&b, "  salvaged after it: %d intact record(s)\n", d.Following)
	}
	if len(r.Damages) > 0 {
		b.WriteString("\nA lost checkpoint sends its run back to the checkpoint before it: the steps since then run again,\n" +
			"with the same idempotency keys. A lost event takes its run with it.\n")
	}
	if len(r.Orphans) > 0 {
		fmt.Fprintf(&b, "runs whose event was lost, so their later checkpoints could not be applied: %s\n", strings.Join(r.Orphans, ", "))
	}
	for _, k := range r.Kept {
		fmt.Fprintf(&b, "damaged segment kept for inspection: %s\n", k)
	}
	b.WriteString("the server can start now\n")
	io.WriteString(w, b.String())
}
