package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestFrames(t *testing.T) {
	recs := [][]byte{{1, 1, 2, 3}, bytes.Repeat([]byte{2}, 1000), {2}}
	var data []byte
	for i, r := range recs {
		data = AppendFrame(data, 7, uint64(10+i), r)
	}
	read := func(data []byte, seg uint64) (lsns []uint64, end int) {
		t.Helper()
		end, err := ReadFrames(data, seg, func(lsn uint64, rec []byte) error {
			if !bytes.Equal(rec, recs[lsn-10]) {
				t.Fatalf("LSN %d: record %x, want %x", lsn, rec, recs[lsn-10])
			}
			lsns = append(lsns, lsn)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return lsns, end
	}
	if lsns, end := read(data, 7); len(lsns) != 3 || end != len(data) {
		t.Fatalf("intact log: LSNs %v, end %d of %d", lsns, end, len(data))
	}
	// A crash cut the last frame short: the two before it stand.
	if lsns, _ := read(data[:len(data)-1], 7); len(lsns) != 2 {
		t.Fatalf("torn tail: LSNs %v, want the first two", lsns)
	}
	// Zeros after the frames (a preallocated or reused file) end the log.
	if lsns, _ := read(append(bytes.Clone(data), make([]byte, 64)...), 7); len(lsns) != 3 {
		t.Fatalf("zero tail: LSNs %v", lsns)
	}
	// One flipped bit in the second frame ends the log before it.
	bad := bytes.Clone(data)
	bad[FrameSize(len(recs[0]))+frameHeader+lsnSize+10] ^= 1
	if lsns, _ := read(bad, 7); len(lsns) != 1 {
		t.Fatalf("flipped bit: LSNs %v, want only the first", lsns)
	}
	// The same bytes under another segment number are not this segment's.
	if lsns, _ := read(data, 8); len(lsns) != 0 {
		t.Fatalf("frames of segment 7 read as segment 8: %v", lsns)
	}
}

func TestSegmentsRotateAndRelease(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.limit = 100
	rec := bytes.Repeat([]byte{2}, 40) // 56 bytes framed: one group a segment
	for lsn := uint64(1); lsn <= 4; lsn++ {
		seg, err := w.Room(FrameSize(len(rec)))
		if err != nil {
			t.Fatal(err)
		}
		if seg != lsn {
			t.Fatalf("group %d went to segment %d", lsn, seg)
		}
		if err := w.Append(AppendFrame(nil, seg, lsn, rec), lsn); err != nil {
			t.Fatal(err)
		}
	}
	if segs, _ := Segments(dir); len(segs) != 4 {
		t.Fatalf("segments %v, want 4", segs)
	}
	w.Release(2)
	if segs, _ := Segments(dir); len(segs) != 2 || segs[0] != 3 {
		t.Fatalf("after release(2): segments %v, want [3 4]", segs)
	}
	if free, _ := filepath.Glob(filepath.Join(dir, "*"+freeExt)); len(free) != 2 {
		t.Fatalf("released segments kept for reuse: %v, want 2", free)
	}
	// The next segment reuses a released file: one short frame over the
	// old ones, and reading stops after it.
	short := []byte{2, 1}
	seg, err := w.Room(1000) // does not fit: rotate
	if err != nil || seg != 5 {
		t.Fatalf("rotate: segment %d, %v; want 5", seg, err)
	}
	if err := w.Append(AppendFrame(nil, seg, 5, short), 5); err != nil {
		t.Fatal(err)
	}
	if free, _ := filepath.Glob(filepath.Join(dir, "*"+freeExt)); len(free) != 1 {
		t.Fatalf("after a rotation: %d released files kept, want 1", len(free))
	}
	data, err := os.ReadFile(filepath.Join(dir, SegmentName(5)))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= FrameSize(len(short)) {
		t.Fatalf("segment 5 is %d bytes: a new file, not a reused one", len(data))
	}
	var lsns []uint64
	ReadFrames(data, 5, func(lsn uint64, _ []byte) error { lsns = append(lsns, lsn); return nil })
	if len(lsns) != 1 || lsns[0] != 5 {
		t.Fatalf("reused segment reads LSNs %v, want only [5]", lsns)
	}
	if err := w.Close(3); err != nil {
		t.Fatal(err)
	}
	if segs, _ := Segments(dir); len(segs) != 2 || segs[0] != 4 {
		t.Fatalf("after close(3): segments %v, want [4 5] (not all applied)", segs)
	}
	if free, _ := filepath.Glob(filepath.Join(dir, "*"+freeExt)); len(free) != 0 {
		t.Fatalf("close left released files %v", free)
	}
}

// TestRotateRetriesAfterOpenFails: when the next segment cannot be
// created, that group fails and the next one tries again, instead of the
// log closing an already closed file forever.
func TestRotateRetriesAfterOpenFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	w, err := Create(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.limit = 10
	rec := []byte{2}
	if err := w.Append(AppendFrame(nil, 1, 1, rec), 1); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir) // the next segment cannot be created
	if _, err := w.Room(FrameSize(len(rec))); err == nil {
		t.Fatal("rotation into a missing directory succeeded")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	seg, err := w.Room(FrameSize(len(rec)))
	if err != nil {
		t.Fatalf("rotation after the directory came back: %v", err)
	}
	if err := w.Append(AppendFrame(nil, seg, 2, rec), 2); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, SegmentName(seg)))
	if n, _ := ReadFrames(data, seg, func(uint64, []byte) error { return nil }); n != len(data) || n == 0 {
		t.Fatalf("segment %d after the retry: %d of %d bytes read back", seg, n, len(data))
	}
	if err := w.Close(2); err != nil {
		t.Fatal(err)
	}
}
func TestNextFrameResynchronises(t *testing.T) {
	var data []byte
	var offs []int
	for lsn := uint64(1); lsn <= 5; lsn++ {
		offs = append(offs, len(data))
		data = AppendFrame(data, 3, lsn, Void{First: lsn * 100, Last: lsn * 100}.Encode())
	}
	bad := bytes.Clone(data)
	bad[offs[2]+frameHeader+lsnSize+4] ^= 0x10 // inside frame 3's record
	if _, _, _, ok := FrameAt(bad, offs[2], 3); ok {
		t.Fatal("a damaged frame reads as intact")
	}
	if got := nextFrame(bad, offs[2]+1, 3, 2); got != offs[3] {
		t.Fatalf("resynchronised at %d, want frame 4 at %d", got, offs[3])
	}
	// Frames at or below the LSN bound are passed over: older frames of a
	// reused segment file.
	if got := nextFrame(bad, offs[2]+1, 3, 4); got != offs[4] {
		t.Fatalf("with LSNs up to 4 accounted for: %d, want frame 5 at %d", got, offs[4])
	}
	if got := nextFrame(bad, offs[2]+1, 3, 5); got != -1 {
		t.Fatalf("nothing newer follows, yet %d", got)
	}
	// Another segment's frames are not this one's.
	if got := nextFrame(bad, offs[2]+1, 4, 0); got != -1 {
		t.Fatalf("a frame of segment 3 passed as segment 4's at %d", got)
	}
}
