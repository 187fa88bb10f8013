package wal

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/switchyard/switchyard/internal/fsutil"
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

// Damage is a damaged stretch of the write-ahead log that cost records
// the database does not hold.
type Damage struct {
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

// Replay walks the log in order and judges every hole in it.
type Replay struct {
	// prev is the newest LSN accounted for: held by bbolt, read or
	// skipped as older.
	prev  uint64
	voids []Void // merged, in order
	// bad is the unreadable stretch met last, until the next intact frame
	// tells whether it cost anything.
	bad     *stretch
	damages []Damage
	seen    []int // records read when each damage was found
	records int   // records read that bbolt does not hold
	// stop: apply nothing after the first damage (an open, not a
	// recovery); the rest is only counted.
	stop, salvage bool
	describe      func(rec []byte) string
}

// stretch is an unreadable stretch of a segment.
type stretch struct {
	seg      uint64
	off, end int
	looks    []string
}

// NewReplay starts a replay of a log whose records up to applied are
// held already. voids are the void records of all its segments
// (LeadingVoids); salvage applies every intact record rather than stop at
// the first damage; describe names what a record holds, for the report of
// a damaged stretch.
func NewReplay(applied uint64, voids []Void, salvage bool, describe func(rec []byte) string) *Replay {
	return &Replay{prev: applied, voids: mergeVoids(voids), salvage: salvage, describe: describe}
}

// Prev is the newest LSN accounted for: held already, read, or skipped as
// older.
func (rp *Replay) Prev() uint64 { return rp.prev }

// mergeVoids sorts voided ranges and joins those that touch, so that a
// long run of failed groups costs one range.
func mergeVoids(voids []Void) []Void {
	slices.SortFunc(voids, func(a, b Void) int {
		switch {
		case a.First < b.First:
			return -1
		case a.First > b.First:
			return 1
		}
		return 0
	})
	out := voids[:0]
	for _, v := range voids {
		if n := len(out); n > 0 && v.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, v.Last)
			continue
		}
		out = append(out, v)
	}
	return out
}

// voided reports whether lsn belongs to a group whose write failed.
func (rp *Replay) voided(lsn uint64) bool {
	i, _ := slices.BinarySearchFunc(rp.voids, lsn, func(v Void, lsn uint64) int {
		switch {
		case v.Last < lsn:
			return -1
		case v.First > lsn:
			return 1
		}
		return 0
	})
	return i < len(rp.voids) && rp.voids[i].First <= lsn && lsn <= rp.voids[i].Last
}

// unvoided counts the LSNs in [first, last] that no void names.
func (rp *Replay) unvoided(first, last uint64) uint64 {
	n := last - first + 1
	for _, v := range rp.voids {
		lo, hi := max(v.First, first), min(v.Last, last)
		if lo <= hi {
			n -= hi - lo + 1
		}
	}
	return n
}

// Segment walks segment no, whose bytes are data, calling apply for each
// record to apply, in order.
func (rp *Replay) Segment(no uint64, data []byte, apply func(lsn uint64, rec []byte) error) error {
	off := 0
	for off < len(data) {
		lsn, rec, n, ok := FrameAt(data, off, no)
		if ok {
			if err := rp.frame(no, lsn, rec, apply); err != nil {
				return err
			}
			off += n
			continue
		}
		next := nextFrame(data, off+1, no, rp.prev)
		end := next
		if next < 0 {
			end = len(data)
		}
		rp.bad = &stretch{seg: no, off: off, end: end, looks: rp.describeStretch(data[off:end])}
		if next < 0 {
			break
		}
		off = next
	}
	return nil
}

func (rp *Replay) frame(no, lsn uint64, rec []byte, apply func(lsn uint64, rec []byte) error) error {
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
	if len(rec) > 0 && rec[0] != KindVoid {
		rp.records++
	}
	if rp.stop {
		return nil
	}
	return apply(lsn, rec)
}

func (rp *Replay) damage(no, first, last, lost uint64) {
	d := Damage{Segment: SegmentName(no), FirstLost: first, LastLost: last, Lost: lost}
	if b := rp.bad; b != nil {
		d.Segment, d.Offset, d.End, d.Looks = SegmentName(b.seg), int64(b.off), int64(b.end), b.looks
	}
	rp.damages = append(rp.damages, d)
	rp.seen = append(rp.seen, rp.records)
	if !rp.salvage {
		rp.stop = true
	}
}

// Finish returns the damages found, each with the records that follow it.
// An unreadable stretch still pending is the torn tail of the log.
func (rp *Replay) Finish() []Damage {
	for i := range rp.damages {
		rp.damages[i].Following = rp.records - rp.seen[i]
	}
	return rp.damages
}

// describeStretch tells what an unreadable stretch seems to hold, going
// by the lengths its frame headers give, for as long as they fit.
func (rp *Replay) describeStretch(b []byte) []string {
	var out []string
	for off := 0; len(out) < 8 && len(b)-off >= frameHeader+lsnSize+1; {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n < lsnSize+1 || n > len(b)-off-frameHeader {
			break
		}
		payload := b[off+frameHeader : off+frameHeader+n]
		out = append(out, fmt.Sprintf("LSN %d: %s", binary.LittleEndian.Uint64(payload), rp.describe(payload[lsnSize:])))
		off += frameHeader + n
	}
	return out
}

// DamagedDirName is where recovery moves damaged segments, beside the
// log: never read again, kept for whoever wants to look.
const DamagedDirName = "wal-damaged"

// KeepDamaged moves the damaged segment name of the log in walDir aside
// (DamagedDirName) and returns where it went.
func KeepDamaged(walDir, name string) (string, error) {
	dir := filepath.Join(filepath.Dir(walDir), DamagedDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	kept := filepath.Join(dir, time.Now().UTC().Format("20060102T150405Z")+"-"+name)
	if err := os.Rename(filepath.Join(walDir, name), kept); err != nil {
		return "", err
	}
	return kept, fsutil.SyncDir(dir)
}
