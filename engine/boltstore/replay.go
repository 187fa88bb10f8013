package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore/wal"
	bolt "go.etcd.io/bbolt"
)

// LogDamage is a damaged stretch of the write-ahead log that cost records
// the database does not hold.
type LogDamage = wal.Damage

// ErrLogDamaged is matched (errors.Is) by a LogDamageError.
var ErrLogDamaged = errors.New("write-ahead log is damaged")

// LogDamageError stops an open: applying the log past a damaged stretch
// would drop acknowledged records silently. `switchyard recover` salvages
// what follows it.
type LogDamageError struct {
	Dir     string // the log's directory
	Damages []LogDamage
}

func (e *LogDamageError) Error() string {
	d := e.Damages[0]
	var b strings.Builder
	seg := filepath.Join(e.Dir, d.Segment)
	if d.End > d.Offset {
		fmt.Fprintf(&b, "write-ahead log segment %s is damaged at byte offset %d (%d bytes unreadable)", seg, d.Offset, d.End-d.Offset)
	} else {
		fmt.Fprintf(&b, "write-ahead log records are missing before segment %s", seg)
	}
	fmt.Fprintf(&b, ": %s unreadable (%s), and %d intact records follow it that the database does not hold yet",
		plural(d.Lost, "record"), lsnRange(d.FirstLost, d.LastLost), d.Following)
	if n := len(e.Damages) - 1; n > 0 {
		fmt.Fprintf(&b, " (and %d more damaged places)", n)
	}
	b.WriteString("; nothing after the damage was applied and the log was left as it is")
	return b.String()
}

// Is makes errors.Is(err, ErrLogDamaged) hold.
func (e *LogDamageError) Is(target error) bool { return target == ErrLogDamaged }

// RecoveryReport is what Recover did with the write-ahead log.
type RecoveryReport struct {
	// Segments is how many segment files the log had.
	Segments int
	// Applied is how many intact records went into the database.
	Applied int
	// Damages are the damaged stretches, in log order.
	Damages []LogDamage
	// Orphans are runs whose checkpoints could not be applied because
	// the record that stored the run was lost.
	Orphans []string
	// Kept are the damaged segment files, moved aside for inspection.
	Kept []string
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func lsnRange(first, last uint64) string {
	if first == last {
		return fmt.Sprintf("LSN %d", first)
	}
	return fmt.Sprintf("LSNs %d–%d", first, last)
}

// describeWALRecord names what a record holds, for a recovery report.
func describeWALRecord(rec []byte) string {
	r, err := decodeWALRecord(rec)
	if err != nil {
		return "unreadable"
	}
	switch r := r.(type) {
	case *acceptRecord:
		return fmt.Sprintf("the event and queued run %s of flow %q", formatID(runIDPrefix, seqOf(r.key)), r.flowID)
	case *saveRecord:
		var sum engine.RunSummary
		if decodeIndex(r.index, &sum) == nil {
			return fmt.Sprintf("a checkpoint of run %s of flow %q (status %s)", formatID(runIDPrefix, seqOf(r.key)), sum.FlowID, sum.Status)
		}
		return fmt.Sprintf("a checkpoint of run %s", formatID(runIDPrefix, seqOf(r.key)))
	case *voidRecord:
		return fmt.Sprintf("a void record (LSNs %d–%d)", r.First, r.Last)
	}
	return "unreadable"
}

// replay applies the log records bbolt does not hold yet, in order, and
// returns the number for the next segment. A damaged log stops it with a
// LogDamageError before anything after the damage is applied, leaving
// the log in place; with salvage (Recover) it applies every intact
// record instead, reports in s.recovery, and moves the damaged segments
// aside. Either way a segment is deleted only once bbolt holds all of its
// intact records.
func (s *Store) replay(walDir string, salvage bool) (uint64, error) {
	segs, err := wal.Segments(walDir)
	if err != nil {
		return 0, fmt.Errorf("store: list write-ahead log: %w", err)
	}
	var applied uint64
	if err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(walAppliedMeta); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("store: read write-ahead log position: %w", err)
	}
	// A void record follows the group it voids, in a later segment: take
	// them all first (they lead their segments, so that is a short read).
	var voids []wal.Void
	for _, no := range segs {
		v, err := wal.LeadingVoids(filepath.Join(walDir, wal.SegmentName(no)), no)
		if err != nil {
			return 0, fmt.Errorf("store: read write-ahead log: %w", err)
		}
		voids = append(voids, v...)
	}
	rp := wal.NewReplay(applied, voids, salvage, describeWALRecord)
	report := &RecoveryReport{Segments: len(segs)}
	var batch []walRecord
	var batchLast uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, r := range batch {
				if sr, ok := r.(*saveRecord); ok && salvage && appendBucket(tx, bucketRunIndex).Get(sr.key) == nil {
					report.Orphans = append(report.Orphans, formatID(runIDPrefix, seqOf(sr.key)))
				}
				if err := safeApply(func() error { return r.apply(s, tx) }); err != nil {
					return err
				}
			}
			return setApplied(tx, batchLast)
		})
		report.Applied += len(batch)
		batch = batch[:0]
		return err
	}
	for _, no := range segs {
		data, err := os.ReadFile(filepath.Join(walDir, wal.SegmentName(no)))
		if err != nil {
			return 0, fmt.Errorf("store: read write-ahead log: %w", err)
		}
		err = rp.Segment(no, data, func(lsn uint64, rec []byte) error {
			r, err := decodeWALRecord(rec)
			if err != nil {
				return fmt.Errorf("segment %s, LSN %d: %w", wal.SegmentName(no), lsn, err)
			}
			batch, batchLast = append(batch, r), lsn
			if len(batch) == maxApply {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return 0, fmt.Errorf("store: replay write-ahead log: %w", err)
		}
	}
	s.nextLSN = rp.Prev()
	report.Damages = rp.Finish()
	if len(report.Damages) > 0 && !salvage {
		return 0, &LogDamageError{Dir: walDir, Damages: report.Damages}
	}
	// bbolt holds every intact record now. Its position moves past the
	// voided and lost LSNs too: the next log goes on from there, and a
	// hole before it would read as damage.
	if rp.Prev() > applied {
		if err := s.db.Update(func(tx *bolt.Tx) error { return setApplied(tx, rp.Prev()) }); err != nil {
			return 0, fmt.Errorf("store: replay write-ahead log: %w", err)
		}
	}
	damaged := map[string]bool{}
	for _, d := range report.Damages {
		damaged[d.Segment] = d.End > d.Offset
	}
	var next uint64 = 1
	for _, no := range segs {
		name := wal.SegmentName(no)
		path := filepath.Join(walDir, name)
		if damaged[name] {
			kept, err := wal.KeepDamaged(walDir, name)
			if err != nil {
				return 0, fmt.Errorf("store: keep damaged write-ahead log segment: %w", err)
			}
			report.Kept = append(report.Kept, kept)
		} else if err := os.Remove(path); err != nil {
			return 0, fmt.Errorf("store: remove replayed write-ahead log: %w", err)
		}
		next = no + 1
	}
	s.applied.Store(s.nextLSN)
	s.durable.Store(s.nextLSN)
	s.recovery = report
	return next, nil
}
