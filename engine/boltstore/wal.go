package boltstore

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

	"github.com/switchyard/switchyard/engine"
)

// The write-ahead log takes the hot writes (webhook ingest and run
// checkpoints) off bbolt's commit path: a group of them is appended to a
// segment file and made durable with one fdatasync, and only then is the
// caller answered. The same writes reach bbolt afterwards in much larger
// transactions (see Store.applyLoop); bbolt records the last log
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
// follow is damage, which replay refuses to skip silently (wal_replay.go).

const (
	walDirName = "wal"
	walExt     = ".wal"
	// walSegmentSize is where a segment is closed and the next begins;
	// a segment is deleted once bbolt holds all of its records.
	walSegmentSize = 64 << 20
	walFrameHeader = 8
	walLSNSize     = 8
	// walMaxRecord bounds one record, so a damaged length cannot make the
	// reader allocate without limit.
	walMaxRecord = 1 << 30
)

var walCRC = crc32.MakeTable(crc32.Castagnoli)

// walFrameSize is the size on disk of a record of n bytes.
func walFrameSize(n int) int { return walFrameHeader + walLSNSize + n }

// appendWALFrame frames rec, the LSN first, for segment seg.
func appendWALFrame(dst []byte, seg, lsn uint64, rec []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(walLSNSize+len(rec)))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // checksum, filled below
	dst = binary.LittleEndian.AppendUint64(dst, lsn)
	dst = append(dst, rec...)
	binary.LittleEndian.PutUint32(dst[start+4:], walChecksum(seg, dst[start+walFrameHeader:]))
	return dst
}

func walChecksum(seg uint64, payload []byte) uint32 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seg)
	return crc32.Update(crc32.Checksum(s[:], walCRC), walCRC, payload)
}

// walLeadingVoids returns the void records segment seg (at path) begins
// with, reading no further than them. Voids stand only there (see
// walLog.rotate), and replay needs them all before it applies anything,
// since a void follows the group it voids.
func walLeadingVoids(path string, seg uint64) ([]voidRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	frame := make([]byte, walFrameSize(len((&voidRecord{}).encode())))
	var out []voidRecord
	for {
		if _, err := io.ReadFull(r, frame); err != nil {
			return out, nil // the segment ends: so do its voids
		}
		end := 0
		readWALFrames(frame, seg, func(_ uint64, rec []byte) error {
			if v, err := decodeWALRecord(rec); err == nil {
				if v, ok := v.(*voidRecord); ok {
					out, end = append(out, *v), len(frame)
				}
			}
			return nil
		})
		if end == 0 {
			return out, nil // the first frame that is not a void
		}
	}
}

// readWALFrames calls fn for each intact frame of segment seg in data, in
// order, and returns where the intact frames end. The rec passed to fn
// aliases data.
func readWALFrames(data []byte, seg uint64, fn func(lsn uint64, rec []byte) error) (int, error) {
	off := 0
	for {
		lsn, rec, n, ok := walFrameAt(data, off, seg)
		if !ok {
			return off, nil
		}
		if err := fn(lsn, rec); err != nil {
			return off, err
		}
		off += n
	}
}

// walFrameAt reads the frame of segment seg at data[off:]: its LSN, its
// record (aliasing data) and its size on disk. ok is false when no intact
// frame starts there.
func walFrameAt(data []byte, off int, seg uint64) (lsn uint64, rec []byte, size int, ok bool) {
	if len(data)-off < walFrameHeader {
		return 0, nil, 0, false
	}
	n := int(binary.LittleEndian.Uint32(data[off:]))
	if n < walLSNSize+1 || n > walMaxRecord || n > len(data)-off-walFrameHeader {
		return 0, nil, 0, false
	}
	payload := data[off+walFrameHeader : off+walFrameHeader+n]
	if binary.LittleEndian.Uint32(data[off+4:]) != walChecksum(seg, payload) {
		return 0, nil, 0, false
	}
	return binary.LittleEndian.Uint64(payload), payload[walLSNSize:], walFrameHeader + n, true
}

// nextWALFrame finds the first intact frame of segment seg that starts at
// or after data[from:] and holds an LSN above after, and returns its offset,
// or -1. Frames are self-delimiting, so after a damaged stretch reading
// resumes there. The cheap tests come first: most offsets fail on the
// length, the record kind or the LSN before any checksum is computed. The
// LSN bound also passes over the frames a reused segment file holds from
// its earlier life: they are older than anything read before them.
func nextWALFrame(data []byte, from int, seg, after uint64) int {
	for off := from; len(data)-off >= walFrameHeader+walLSNSize+1; off++ {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if n < walLSNSize+1 || n > len(data)-off-walFrameHeader {
			continue
		}
		if k := data[off+walFrameHeader+walLSNSize]; k < walAccept || k > walVoid {
			continue
		}
		if binary.LittleEndian.Uint64(data[off+walFrameHeader:]) <= after {
			continue
		}
		if _, _, _, ok := walFrameAt(data, off, seg); ok {
			return off
		}
	}
	return -1
}

// walLog is the open log: the segment being appended to and the closed
// segments bbolt does not hold completely yet. append and rotate run on
// one goroutine (the logger); release may run on another.
type walLog struct {
	dir   string
	limit int64 // walSegmentSize but in tests
	f     *os.File
	seg   uint64 // number of the open segment
	off   int64
	last  uint64 // LSN of the newest record in the open segment
	// broken is set when a write or sync failed: the open segment may end
	// in a torn frame, so the next group starts a new segment.
	broken bool

	mu     sync.Mutex
	closed []walSegment // oldest first
	free   []string     // released segment files kept for reuse
}

type walSegment struct {
	no, last uint64
}

func walSegmentName(no uint64) string { return fmt.Sprintf("%016x%s", no, walExt) }

// walSegments lists the segment numbers in dir, oldest first.
func walSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), walExt)
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

// createWAL starts a log in dir whose first segment is number seg.
func createWAL(dir string, seg uint64) (*walLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	removeFreeSegments(dir)
	w := &walLog{dir: dir, seg: seg, limit: walSegmentSize}
	if err := w.openSegment(); err != nil {
		return nil, err
	}
	return w, nil
}

// openSegment opens segment w.seg for writing from its start: a released
// segment renamed, when one is kept (see release), else a new file.
func (w *walLog) openSegment() error {
	path := filepath.Join(w.dir, walSegmentName(w.seg))
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
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.off, w.last, w.broken = f, 0, 0, false
	return nil
}

// room makes sure a group of n bytes goes into a segment that can take it,
// and returns the number of that segment (which the frames' checksums
// name). A group never spans two segments.
func (w *walLog) room(n int) (uint64, error) {
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
// the first of a segment (see walLeadingVoids).
func (w *walLog) rotate() error {
	if w.f != nil {
		// Every group in it was synced before it was answered: an error
		// closing it loses nothing that was acknowledged.
		_ = w.f.Close()
		w.f = nil
		w.mu.Lock()
		w.closed = append(w.closed, walSegment{no: w.seg, last: w.last})
		w.mu.Unlock()
	}
	w.seg++
	if err := w.openSegment(); err != nil {
		return fmt.Errorf("%w: write-ahead log: %w", engine.ErrStoreUnavailable, err)
	}
	return nil
}

// append writes a group of frames whose newest LSN is last and returns once
// they are on disk.
func (w *walLog) append(frames []byte, last uint64) error {
	if _, err := w.f.WriteAt(frames, w.off); err != nil {
		w.broken = true
		return fmt.Errorf("%w: write-ahead log: %w", engine.ErrStoreUnavailable, err)
	}
	if err := fdatasync(w.f); err != nil {
		w.broken = true
		return fmt.Errorf("%w: write-ahead log sync: %w", engine.ErrStoreUnavailable, err)
	}
	w.off += int64(len(frames))
	w.last = last
	return nil
}

// walKeepFree is how many released segments are kept for reuse.
const walKeepFree = 2

// walFreeExt names a released segment kept for reuse: not a segment, so
// never read, and deleted at open and close.
const walFreeExt = ".free"

// release retires the closed segments whose records all have an LSN of at
// most applied: up to walKeepFree are kept for reuse, the rest deleted.
func (w *walLog) release(applied uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.closed) > 0 && w.closed[0].last <= applied {
		seg := w.closed[0]
		w.closed = w.closed[1:]
		path := filepath.Join(w.dir, walSegmentName(seg.no))
		// A segment left behind is harmless: its records are skipped at
		// the next open as already applied, and then it is deleted.
		if len(w.free) < walKeepFree {
			free := filepath.Join(w.dir, fmt.Sprintf("%016x%s", seg.no, walFreeExt))
			if os.Rename(path, free) == nil {
				w.free = append(w.free, free)
				continue
			}
		}
		_ = os.Remove(path)
	}
}

// close closes the open segment and, when bbolt holds all of the log,
// deletes every segment.
func (w *walLog) close(applied uint64) error {
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.mu.Lock()
		w.closed = append(w.closed, walSegment{no: w.seg, last: w.last})
		w.mu.Unlock()
	}
	w.release(applied)
	w.mu.Lock()
	w.free = nil
	w.mu.Unlock()
	removeFreeSegments(w.dir)
	return err
}

// removeFreeSegments deletes segments kept for reuse by an earlier process.
func removeFreeSegments(dir string) {
	free, _ := filepath.Glob(filepath.Join(dir, "*"+walFreeExt))
	for _, p := range free {
		_ = os.Remove(p)
	}
}

// Record bodies. A record's first byte is its kind; fields are
// length-prefixed (uvarint) byte strings or fixed-size integers.
const (
	walAccept byte = 1 // a webhook event with its queued run (acceptRecord)
	walSave   byte = 2 // a run checkpoint (saveRecord)
	walVoid   byte = 3 // LSNs of a group whose write failed (voidRecord)
)

// errWALRecord is a record that does not decode: with an intact checksum
// it can only come from a newer or broken binary, so opening fails rather
// than dropping it.
var errWALRecord = errors.New("store: write-ahead log record does not decode")

func appendField(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// walReader takes a record apart field by field; the first failure sticks.
type walReader struct {
	b   []byte
	bad bool
}

func (r *walReader) fixed(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *walReader) u64() uint64 {
	if v := r.fixed(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *walReader) field() []byte {
	n, k := binary.Uvarint(r.b)
	if r.bad || k <= 0 || n > uint64(len(r.b)-k) {
		r.bad = true
		return nil
	}
	v := r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	return v
}

// acceptRecord is a webhook event stored with its queued run: the run's
// index value and the event share the run's key.
type acceptRecord struct {
	key    []byte // 8 bytes
	due    int64  // unix nano, 0 = now
	flowID []byte
	index  []byte
	event  []byte
}

func (a *acceptRecord) encode() []byte {
	b := make([]byte, 0, 1+8+8+len(a.flowID)+len(a.index)+len(a.event)+15)
	b = append(b, walAccept)
	b = append(b, a.key...)
	b = binary.LittleEndian.AppendUint64(b, uint64(a.due))
	b = appendField(b, a.flowID)
	b = appendField(b, a.index)
	return appendField(b, a.event)
}

// saveRecord is a run checkpoint: its full record and index value.
type saveRecord struct {
	key    []byte
	due    int64
	index  []byte
	record []byte
}

func (s *saveRecord) encode() []byte {
	b := make([]byte, 0, 1+8+8+len(s.index)+len(s.record)+10)
	b = append(b, walSave)
	b = append(b, s.key...)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.due))
	b = appendField(b, s.index)
	return appendField(b, s.record)
}

// decodeWALRecord decodes a record body. The result aliases rec.
func decodeWALRecord(rec []byte) (walRecord, error) {
	if len(rec) == 0 {
		return nil, errWALRecord
	}
	r := walReader{b: rec[1:]}
	var out walRecord
	switch rec[0] {
	case walAccept:
		a := &acceptRecord{key: r.fixed(8)}
		a.due = int64(r.u64())
		a.flowID, a.index, a.event = r.field(), r.field(), r.field()
		out = a
	case walSave:
		s := &saveRecord{key: r.fixed(8)}
		s.due = int64(r.u64())
		s.index, s.record = r.field(), r.field()
		out = s
	case walVoid:
		v := &voidRecord{first: r.u64()}
		v.last = r.u64()
		out = v
	default:
		return nil, fmt.Errorf("%w: kind %d", errWALRecord, rec[0])
	}
	if r.bad || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: kind %d, %d bytes", errWALRecord, rec[0], len(rec))
	}
	return out, nil
}

// voidRecord names the LSNs of a group whose write or sync failed: its
// callers were told so, and replay must not apply whatever of it reached
// the disk anyway.
type voidRecord struct {
	first, last uint64
}

func (v *voidRecord) encode() []byte {
	b := append(make([]byte, 0, 17), walVoid)
	b = binary.LittleEndian.AppendUint64(b, v.first)
	return binary.LittleEndian.AppendUint64(b, v.last)
}

// syncDir fsyncs a directory so that a file created, renamed or removed in
// it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
