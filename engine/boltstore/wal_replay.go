package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// Replay of the write-ahead log at open, and its salvage by `switchyard
// recover`.
//
// LSNs are handed out one after the other, and every LSN the logger spent
// without writing its record (a group whose write failed) is named by a
// void record later on. So in a sound log the records past the one bbolt
// holds follow on without a hole, but for voided LSNs. A hole means that
// acknowledged records are missing: a frame in the middle of a segment
// that fails its checksum while intact frames follow it, the damaged last
// frame of a segment that later segments continue, or a segment file that
// is gone. Then the open stops (LogDamageError) rather than apply the
// rest and drop the missing records silently; recovery applies every
// intact record it can find, reads on after each damaged stretch at the
// next intact frame, and reports what was lost.
//
// What a crash leaves is not damage: a last frame cut short or half
// written at the end of the log (the tail of a write that was never
// acknowledged) hides no record after it and keeps being ignored.

// ErrLogDamaged is matched (errors.Is) by a LogDamageError.
var ErrLogDamaged = errors.New("write-ahead log is damaged")

// LogDamage is a damaged stretch of the write-ahead log that cost records
// the database does not hold.
type LogDamage struct {
	// Segment is the segment file the stretch is in; Offset and End bound
	// its unreadable bytes, [Offset, End). When records are missing with
	// no damaged bytes to show for it (a segment file that is gone),
	// Segment is the one that follows the hole and Offset = End = 0.
	Segment     string
	Offset, End int64
	// FirstLost and LastLost are the missing LSNs, of which Lost were
	// records (voided LSNs are not counted).
	FirstLost, LastLost uint64
	Lost                uint64
	// Looks describes, best effort, the records the damaged bytes seem to
	// hold (the damage may have changed any of it).
	Looks []string
	// Following counts the intact records after the stretch that the
	// database does not hold yet.
	Following int
}

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

// walReplay walks the log in order and judges every hole in it.
type walReplay struct {
	// prev is the newest LSN accounted for: held by bbolt, read or
	// skipped as older.
	prev  uint64
	voids []voidRecord // merged, in order
	// bad is the unreadable stretch met last, until the next intact frame
	// tells whether it cost anything.
	bad     *walStretch
	damages []LogDamage
	seen    []int // records read when each damage was found
	records int   // records read that bbolt does not hold
	// stop: apply nothing after the first damage (an open, not a
	// recovery); the rest is only counted.
	stop, salvage bool
}

// walStretch is an unreadable stretch of a segment.
type walStretch struct {
	seg      uint64
	off, end int
	looks    []string
}

func newWALReplay(applied uint64, voids []voidRecord, salvage bool) *walReplay {
	return &walReplay{prev: applied, voids: mergeVoids(voids), salvage: salvage}
}

// mergeVoids sorts voided ranges and joins those that touch, so that a
// long run of failed groups costs one range.
func mergeVoids(voids []voidRecord) []voidRecord {
	slices.SortFunc(voids, func(a, b voidRecord) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	out := voids[:0]
	for _, v := range voids {
		if n := len(out); n > 0 && v.first <= out[n-1].last+1 {
			out[n-1].last = max(out[n-1].last, v.last)
			continue
		}
		out = append(out, v)
	}
	return out
}

// voided reports whether lsn belongs to a group whose write failed.
func (rp *walReplay) voided(lsn uint64) bool {
	i, _ := slices.BinarySearchFunc(rp.voids, lsn, func(v voidRecord, lsn uint64) int {
		switch {
		case v.last < lsn:
			return -1
		case v.first > lsn:
			return 1
		}
		return 0
	})
	return i < len(rp.voids) && rp.voids[i].first <= lsn && lsn <= rp.voids[i].last
}

// unvoided counts the LSNs in [first, last] that no void names.
func (rp *walReplay) unvoided(first, last uint64) uint64 {
	n := last - first + 1
	for _, v := range rp.voids {
		lo, hi := max(v.first, first), min(v.last, last)
		if lo <= hi {
			n -= hi - lo + 1
		}
	}
	return n
}

// segment walks segment no, whose bytes are data, calling apply for each
// record to apply, in order.
func (rp *walReplay) segment(no uint64, data []byte, apply func(lsn uint64, rec []byte) error) error {
	off := 0
	for off < len(data) {
		lsn, rec, n, ok := walFrameAt(data, off, no)
		if ok {
			if err := rp.frame(no, lsn, rec, apply); err != nil {
				return err
			}
			off += n
			continue
		}
		next := nextWALFrame(data, off+1, no, rp.prev)
		end := next
		if next < 0 {
			end = len(data)
		}
		rp.bad = &walStretch{seg: no, off: off, end: end, looks: describeWALStretch(data[off:end])}
		if next < 0 {
			break
		}
		off = next
	}
	return nil
}

func (rp *walReplay) frame(no, lsn uint64, rec []byte, apply func(lsn uint64, rec []byte) error) error {
	if lsn <= rp.prev {
		// In bbolt already: whatever the stretch before it held was too.
		rp.bad = nil
		return nil
	}
	if lsn > rp.prev+1 {
		if lost := rp.unvoided(rp.prev+1, lsn-1); lost > 0 {
			rp.damage(no, rp.prev+1, lsn-1, lost)
		}
	}
	rp.bad, rp.prev = nil, lsn
	if rp.voided(lsn) {
		return nil
	}
	if len(rec) > 0 && rec[0] != walVoid {
		rp.records++
	}
	if rp.stop {
		return nil
	}
	return apply(lsn, rec)
}

func (rp *walReplay) damage(no, first, last, lost uint64) {
	d := LogDamage{Segment: walSegmentName(no), FirstLost: first, LastLost: last, Lost: lost}
	if b := rp.bad; b != nil {
		d.Segment, d.Offset, d.End, d.Looks = walSegmentName(b.seg), int64(b.off), int64(b.end), b.looks
	}
	rp.damages = append(rp.damages, d)
	rp.seen = append(rp.seen, rp.records)
	if !rp.salvage {
		rp.stop = true
	}
}

// finish returns the damages found, each with the records that follow it.
// An unreadable stretch still pending is the torn tail of the log.
func (rp *walReplay) finish() []LogDamage {
	for i := range rp.damages {
		rp.damages[i].Following = rp.records - rp.seen[i]
	}
	return rp.damages
}

// describeWALStretch tells what an unreadable stretch seems to hold, going
// by the lengths its frame headers give, for as long as they fit.
func describeWALStretch(b []byte) []string {
	var out []string
	for off := 0; len(out) < 8 && len(b)-off >= walFrameHeader+walLSNSize+1; {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n < walLSNSize+1 || n > len(b)-off-walFrameHeader {
			break
		}
		payload := b[off+walFrameHeader : off+walFrameHeader+n]
		out = append(out, fmt.Sprintf("LSN %d: %s", binary.LittleEndian.Uint64(payload), describeWALRecord(payload[walLSNSize:])))
		off += walFrameHeader + n
	}
	return out
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
		return fmt.Sprintf("a void record (LSNs %d–%d)", r.first, r.last)
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
	segs, err := walSegments(walDir)
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
	var voids []voidRecord
	for _, no := range segs {
		v, err := walLeadingVoids(filepath.Join(walDir, walSegmentName(no)), no)
		if err != nil {
			return 0, fmt.Errorf("store: read write-ahead log: %w", err)
		}
		voids = append(voids, v...)
	}
	rp := newWALReplay(applied, voids, salvage)
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
		data, err := os.ReadFile(filepath.Join(walDir, walSegmentName(no)))
		if err != nil {
			return 0, fmt.Errorf("store: read write-ahead log: %w", err)
		}
		err = rp.segment(no, data, func(lsn uint64, rec []byte) error {
			r, err := decodeWALRecord(rec)
			if err != nil {
				return fmt.Errorf("segment %s, LSN %d: %w", walSegmentName(no), lsn, err)
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
	s.nextLSN = rp.prev
	report.Damages = rp.finish()
	if len(report.Damages) > 0 && !salvage {
		return 0, &LogDamageError{Dir: walDir, Damages: report.Damages}
	}
	// bbolt holds every intact record now. Its position moves past the
	// voided and lost LSNs too: the next log goes on from there, and a
	// hole before it would read as damage.
	if rp.prev > applied {
		if err := s.db.Update(func(tx *bolt.Tx) error { return setApplied(tx, rp.prev) }); err != nil {
			return 0, fmt.Errorf("store: replay write-ahead log: %w", err)
		}
	}
	damaged := map[string]bool{}
	for _, d := range report.Damages {
		damaged[d.Segment] = d.End > d.Offset
	}
	var next uint64 = 1
	for _, no := range segs {
		name := walSegmentName(no)
		path := filepath.Join(walDir, name)
		if damaged[name] {
			kept, err := keepDamagedSegment(walDir, name)
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

// walDamagedDirName is where recovery moves damaged segments, beside the
// log: never read again, kept for whoever wants to look.
const walDamagedDirName = "wal-damaged"

func keepDamagedSegment(walDir, name string) (string, error) {
	dir := filepath.Join(filepath.Dir(walDir), walDamagedDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	kept := filepath.Join(dir, time.Now().UTC().Format("20060102T150405Z")+"-"+name)
	if err := os.Rename(filepath.Join(walDir, name), kept); err != nil {
		return "", err
	}
	return kept, syncDir(dir)
}
