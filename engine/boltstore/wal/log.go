// Package wal is the bbolt store's write-ahead log: segment files of
// checksummed frames, appended in groups with one fdatasync each, void
// records for groups whose write failed, and the replay that judges every
// hole in a log after a crash or damage. It knows nothing of what its
// records hold: the store encodes them, numbering its record kinds from 1
// below KindVoid.
//
// The write-ahead log takes the hot writes (webhook ingest and run
// checkpoints) off bbolt's commit path: a group of them is appended to a
// segment file and made durable with one fdatasync, and only then is the
// caller answered. The same writes reach bbolt afterwards in much larger
// transactions (the store's applier); bbolt records the last log
// sequence number (LSN) it holds in the transaction that applies it, so
// after a crash exactly the records past it are applied again at open.
//
// A segment is a series of frames:
//
//	u32 LE  payload length
//	u32 LE  CRC-32C of the segment number (u64 LE) followed by the payload
//	payload u64 LE LSN, then the record (its first byte is its kind)
//
// The segment number in the checksum keeps a frame copied from another
// segment from passing as this one's. A frame that is cut short or fails
// its checksum with nothing intact after it is the tail of a write that a
// crash interrupted, which was never acknowledged; one that intact frames
// follow is damage, which replay refuses to skip silently (replay.go).
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/internal/fsutil"
)

const (
	// DirName is the log's directory in the data dir; Ext ends its
	// segments' file names.
	DirName = "wal"
	Ext     = ".wal"
	// SegmentSize is where a segment is closed and the next begins;
	// a segment is deleted once bbolt holds all of its records. The log
	// keeps the open segment and one released for reuse, so this bounds
	// its share of the disk (twice it, while the applier keeps up): 16
	// MiB rotates every few seconds at full ingest, which costs a rename
	// and a directory sync, and keeps the log at 32 MiB instead of the
	// 128 MiB that 64 MiB segments took (issue 16, disk per event).
	SegmentSize = 16 << 20
	frameHeader = 8
	lsnSize     = 8
	// maxRecord bounds one record, so a damaged length cannot make the
	// reader allocate without limit.
	maxRecord = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// FrameSize is the size on disk of a record of n bytes.
func FrameSize(n int) int { return frameHeader + lsnSize + n }

// AppendFrame frames rec, the LSN first, for segment seg.
func AppendFrame(dst []byte, seg, lsn uint64, rec []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(lsnSize+len(rec)))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // checksum, filled below
	dst = binary.LittleEndian.AppendUint64(dst, lsn)
	dst = append(dst, rec...)
	binary.LittleEndian.PutUint32(dst[start+4:], checksum(seg, dst[start+frameHeader:]))
	return dst
}

func checksum(seg uint64, payload []byte) uint32 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seg)
	return crc32.Update(crc32.Checksum(s[:], crcTable), crcTable, payload)
}

// LeadingVoids returns the void records segment seg (at path) begins
// with, reading no further than them. Voids stand only there (see
// Log.rotate), and replay needs them all before it applies anything,
// since a void follows the group it voids.
func LeadingVoids(path string, seg uint64) ([]Void, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	frame := make([]byte, FrameSize(len(Void{}.Encode())))
	var out []Void
	for {
		if _, err := io.ReadFull(r, frame); err != nil {
			return out, nil // the segment ends: so do its voids
		}
		end := 0
		ReadFrames(frame, seg, func(_ uint64, rec []byte) error {
			if v, ok := DecodeVoid(rec); ok {
				out, end = append(out, v), len(frame)
			}
			return nil
		})
		if end == 0 {
			return out, nil // the first frame that is not a void
		}
	}
}

// ReadFrames calls fn for each intact frame of segment seg in data, in
// order, and returns where the intact frames end. The rec passed to fn
// aliases data.
func ReadFrames(data []byte, seg uint64, fn func(lsn uint64, rec []byte) error) (int, error) {
	off := 0
	for {
		lsn, rec, n, ok := FrameAt(data, off, seg)
		if !ok {
			return off, nil
		}
		if err := fn(lsn, rec); err != nil {
			return off, err
		}
		off += n
	}
}

// FrameAt reads the frame of segment seg at data[off:]: its LSN, its
// record (aliasing data) and its size on disk. ok is false when no intact
// frame starts there.
func FrameAt(data []byte, off int, seg uint64) (lsn uint64, rec []byte, size int, ok bool) {
	if len(data)-off < frameHeader {
		return 0, nil, 0, false
	}
	n := int(binary.LittleEndian.Uint32(data[off:]))
	if n < lsnSize+1 || n > maxRecord || n > len(data)-off-frameHeader {
		return 0, nil, 0, false
	}
	payload := data[off+frameHeader : off+frameHeader+n]
	if binary.LittleEndian.Uint32(data[off+4:]) != checksum(seg, payload) {
		return 0, nil, 0, false
	}
	return binary.LittleEndian.Uint64(payload), payload[lsnSize:], frameHeader + n, true
}

// nextFrame finds the first intact frame of segment seg that starts at
// or after data[from:] and holds an LSN above after, and returns its offset,
// or -1. Frames are self-delimiting, so after a damaged stretch reading
// resumes there. The cheap tests come first: most offsets fail on the
// length, the record kind or the LSN before any checksum is computed. The
// LSN bound also passes over the frames a reused segment file holds from
// its earlier life: they are older than anything read before them.
func nextFrame(data []byte, from int, seg, after uint64) int {
	for off := from; len(data)-off >= frameHeader+lsnSize+1; off++ {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if n < lsnSize+1 || n > len(data)-off-frameHeader {
			continue
		}
		if k := data[off+frameHeader+lsnSize]; k < 1 || k > KindVoid {
			continue
		}
		if binary.LittleEndian.Uint64(data[off+frameHeader:]) <= after {
			continue
		}
		if _, _, _, ok := FrameAt(data, off, seg); ok {
			return off
		}
	}
	return -1
}

// Log is the open log: the segment being appended to and the closed
// segments the store does not hold completely yet. Room and Append run on
// one goroutine (the logger); Release may run on another.
type Log struct {
	dir   string
	limit int64 // SegmentSize but in tests
	f     *os.File
	seg   uint64 // number of the open segment
	off   int64
	last  uint64 // LSN of the newest record in the open segment
	// broken is set when a write or sync failed: the open segment may end
	// in a torn frame, so the next group starts a new segment.
	broken bool

	mu     sync.Mutex
	closed []segment // oldest first
	free   []string  // released segment files kept for reuse
}

type segment struct {
	no, last uint64
}

// SegmentName is the file name of segment no.
func SegmentName(no uint64) string { return fmt.Sprintf("%016x%s", no, Ext) }

// Segments lists the segment numbers in dir, oldest first.
func Segments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), Ext)
		if !ok || len(name) != 16 {
			continue
		}
		if no, err := strconv.ParseUint(name, 16, 64); err == nil {
			out = append(out, no)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Create starts a log in dir whose first segment is number seg.
func Create(dir string, seg uint64) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	removeFreeSegments(dir)
	w := &Log{dir: dir, seg: seg, limit: SegmentSize}
	if err := w.openSegment(); err != nil {
		return nil, err
	}
	return w, nil
}

// openSegment opens segment w.seg for writing from its start: a released
// segment renamed, when one is kept (see release), else a new file.
func (w *Log) openSegment() error {
	path := filepath.Join(w.dir, SegmentName(w.seg))
	w.mu.Lock()
	var reuse string
	if n := len(w.free); n > 0 {
		reuse, w.free = w.free[n-1], w.free[:n-1]
	}
	w.mu.Unlock()
	flags := os.O_CREATE | os.O_EXCL | os.O_WRONLY
	if reuse != "" {
		// Overwriting blocks the file already has changes neither its size
		// nor its block map, so fdatasync flushes the data alone: no
		// journal commit, about a third less time and CPU per sync on the
		// machine of docs/benchmarks.md. Old frames left behind name
		// another segment in their checksums, so reading stops at them.
		if err := os.Rename(reuse, path); err == nil {
			flags = os.O_WRONLY
		} else {
			_ = os.Remove(reuse)
		}
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return err
	}
	// The new name must survive a crash too, or its records would vanish
	// with it.
	if err := fsutil.SyncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.off, w.last, w.broken = f, 0, 0, false
	return nil
}

// Room makes sure a group of n bytes goes into a segment that can take it,
// and returns the number of that segment (which the frames' checksums
// name). A group never spans two segments.
func (w *Log) Room(n int) (uint64, error) {
	if w.f == nil || w.broken || (w.off > 0 && w.off+int64(n) > w.limit) {
		if err := w.rotate(); err != nil {
			return 0, err
		}
	}
	return w.seg, nil
}

// rotate closes the open segment, if any, and opens the next. When the
// next cannot be opened, w.f stays nil and the next group tries again, so
// a segment that failed once is never written after; and since a failed
// write also rotates, the group that voids a failed one (logLoop) is always
// the first of a segment (see LeadingVoids).
func (w *Log) rotate() error {
	if w.f != nil {
		// Every group in it was synced before it was answered: an error
		// closing it loses nothing that was acknowledged.
		_ = w.f.Close()
		w.f = nil
		w.mu.Lock()
		w.closed = append(w.closed, segment{no: w.seg, last: w.last})
		w.mu.Unlock()
	}
	w.seg++
	if err := w.openSegment(); err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	return nil
}

// Append writes a group of frames whose newest LSN is last and returns once
// they are on disk.
func (w *Log) Append(frames []byte, last uint64) error {
	if _, err := w.f.WriteAt(frames, w.off); err != nil {
		w.broken = true
		return fmt.Errorf("write-ahead log: %w", err)
	}
	if err := fdatasync(w.f); err != nil {
		w.broken = true
		return fmt.Errorf("write-ahead log sync: %w", err)
	}
	w.off += int64(len(frames))
	w.last = last
	return nil
}

// keepFree is how many released segments are kept for reuse.
const keepFree = 2

// freeExt names a released segment kept for reuse: not a segment, so
// never read, and deleted at open and close.
const freeExt = ".free"

// Release retires the closed segments whose records all have an LSN of at
// most applied: up to keepFree are kept for reuse, the rest deleted.
func (w *Log) Release(applied uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.closed) > 0 && w.closed[0].last <= applied {
		seg := w.closed[0]
		w.closed = w.closed[1:]
		path := filepath.Join(w.dir, SegmentName(seg.no))
		// A segment left behind is harmless: its records are skipped at
		// the next open as already applied, and then it is deleted.
		if len(w.free) < keepFree {
			free := filepath.Join(w.dir, fmt.Sprintf("%016x%s", seg.no, freeExt))
			if os.Rename(path, free) == nil {
				w.free = append(w.free, free)
				continue
			}
		}
		_ = os.Remove(path)
	}
}

// Close closes the open segment and, when bbolt holds all of the log,
// deletes every segment.
func (w *Log) Close(applied uint64) error {
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.mu.Lock()
		w.closed = append(w.closed, segment{no: w.seg, last: w.last})
		w.mu.Unlock()
	}
	w.Release(applied)
	w.mu.Lock()
	w.free = nil
	w.mu.Unlock()
	removeFreeSegments(w.dir)
	return err
}

// removeFreeSegments deletes segments kept for reuse by an earlier process.
func removeFreeSegments(dir string) {
	free, _ := filepath.Glob(filepath.Join(dir, "*"+freeExt))
	for _, p := range free {
		_ = os.Remove(p)
	}
}

// Void names the LSNs of a group whose write or sync failed: its
// callers were told so, and replay must not apply whatever of it reached
// the disk anyway.
type Void struct {
	First, Last uint64
}

// KindVoid is the kind (first byte) of a void record. The log's users
// number their own record kinds from 1 below it.
const KindVoid byte = 3

// DecodeVoid decodes rec when it is a void record.
func DecodeVoid(rec []byte) (Void, bool) {
	if len(rec) != 17 || rec[0] != KindVoid {
		return Void{}, false
	}
	return Void{First: binary.LittleEndian.Uint64(rec[1:]), Last: binary.LittleEndian.Uint64(rec[9:])}, true
}

// Encode is the void record as the log holds it.
func (v Void) Encode() []byte {
	b := append(make([]byte, 0, 17), KindVoid)
	b = binary.LittleEndian.AppendUint64(b, v.First)
	return binary.LittleEndian.AppendUint64(b, v.Last)
}

// KillFile closes the open segment's file under the log, as a disk that
// goes away would: the writes that follow fail until the log rotates.
// Tests only.
func (w *Log) KillFile() {
	if w.f != nil {
		w.f.Close()
	}
	w.broken = false
}

// ForceRotate makes the next group start a new segment. Tests only.
func (w *Log) ForceRotate() { w.broken = true }
