package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore/wal"
)

// heldStore opens the store in dir with its applier held back: what is
// written stays in the log only, as after a crash (see crash).
func heldStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.holdApply = make(chan struct{})
	return s
}

// loggedRuns writes n runs that each get an ingest and a final checkpoint
// into the log while the applier holds everything back (2n frames, one
// group each, in one segment), then crashes the store. It returns the run
// IDs and the only segment's path.
func loggedRuns(t *testing.T, dir string, n int) ([]string, string) {
	t.Helper()
	s := heldStore(t, dir)
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		res, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"n":%d}`, i)), newRun("f"), 0)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.RunID
		now := time.Now().UTC()
		r := newRun("f")
		r.ID, r.EventID, r.Status, r.FinishedAt = res.RunID, res.EventID, engine.RunSucceeded, &now
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, s)
	segs, _ := wal.Segments(filepath.Join(dir, wal.DirName))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	return ids, filepath.Join(dir, wal.DirName, wal.SegmentName(segs[0]))
}

// frameOffsets returns where each intact frame of a segment starts.
func frameOffsets(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := parseSegmentName(filepath.Base(path))
	var offs []int
	for off := 0; ; {
		_, _, n, ok := wal.FrameAt(data, off, seg)
		if !ok {
			return offs
		}
		offs = append(offs, off)
		off += n
	}
}

func parseSegmentName(name string) (uint64, bool) {
	var no uint64
	_, err := fmt.Sscanf(strings.TrimSuffix(name, wal.Ext), "%016x", &no)
	return no, err == nil
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x04
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWALDamageStopsOpen: one flipped bit in frame 20 of 60 used to make
// the open drop frames 20–60 (20 of 30 acknowledged runs) and delete the
// segment. Now the open refuses, naming the segment, the offset and the 40
// records after the damage, and leaves the log alone; Recover applies
// every intact frame, reports the one lost, and the store opens.
func TestWALDamageStopsOpen(t *testing.T) {
	dir := t.TempDir()
	ids, seg := loggedRuns(t, dir, 30)
	offs := frameOffsets(t, seg)
	if len(offs) != 60 {
		t.Fatalf("%d frames, want 60", len(offs))
	}
	// Frame 20 (LSN 20) is the final checkpoint of run 10.
	flipByte(t, seg, offs[19]+wal.FrameSize(0)+12)
	before, _ := os.ReadFile(seg)

	for range 2 { // the same answer every time: nothing was deleted
		_, err := Open(dir, time.Second)
		var de *LogDamageError
		if !errors.As(err, &de) || !errors.Is(err, ErrLogDamaged) {
			t.Fatalf("open over a damaged log: %v, want a LogDamageError", err)
		}
		d := de.Damages[0]
		if d.Segment != filepath.Base(seg) || d.Offset != int64(offs[19]) || d.End != int64(offs[20]) ||
			d.FirstLost != 20 || d.LastLost != 20 || d.Lost != 1 || d.Following != 40 {
			t.Fatalf("damage %+v; want %s bytes %d–%d, LSN 20 lost, 40 following", d, filepath.Base(seg), offs[19], offs[20])
		}
		for _, want := range []string{filepath.Base(seg), fmt.Sprintf("offset %d", offs[19]), "40 intact records follow"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if after, err := os.ReadFile(seg); err != nil || !bytes.Equal(after, before) {
			t.Fatalf("the damaged segment changed or went away: %v", err)
		}
	}

	report, err := Recover(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The refused opens applied the 19 records before the damage already.
	if len(report.Damages) != 1 || report.Applied != 40 || len(report.Kept) != 1 || len(report.Orphans) != 0 {
		t.Fatalf("report %+v; want one damage, the 40 records after it applied, the segment kept", report)
	}
	if looks := report.Damages[0].Looks; len(looks) != 1 || !strings.Contains(looks[0], ids[9]) {
		t.Errorf("the damaged frame is described as %q, want a mention of run %s", looks, ids[9])
	}
	if _, err := os.Stat(report.Kept[0]); err != nil {
		t.Fatalf("damaged segment not kept: %v", err)
	}
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatalf("open after recovery: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	for i, id := range ids {
		r, err := s.Run(ctx, id)
		if err != nil {
			t.Fatalf("run %d (%s) lost: %v", i+1, id, err)
		}
		// Run 10 lost its final checkpoint: it is queued again, to run
		// from its last checkpoint; every other run finished.
		want := engine.RunSucceeded
		if i == 9 {
			want = engine.RunQueued
		}
		if r.Status != want {
			t.Errorf("run %d: %s, want %s", i+1, r.Status, want)
		}
	}
}

// TestWALRecoverReportsOrphans: when the lost frame is a run's ingest, the
// run is gone and its later checkpoint cannot be applied: the report names
// it.
func TestWALRecoverReportsOrphans(t *testing.T) {
	dir := t.TempDir()
	ids, seg := loggedRuns(t, dir, 5)
	offs := frameOffsets(t, seg)
	flipByte(t, seg, offs[4]+wal.FrameSize(0)+3) // the ingest of run 3
	report, err := Recover(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Orphans) != 1 || report.Orphans[0] != ids[2] {
		t.Fatalf("orphans %v, want [%s]", report.Orphans, ids[2])
	}
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(context.Background(), ids[2]); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("run 3 after losing its ingest: %v, want not found", err)
	}
}

// TestWALTornTailIsNotDamage: a last frame cut short, or half written over
// the old bytes of a reused file, is what a crash leaves: the open goes on
// with the frames before it, as it always did.
func TestWALTornTailIsNotDamage(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(data []byte, last int) []byte
	}{
		{"cut short", func(data []byte, last int) []byte { return data[:last+10] }},
		{"garbage over the last frame", func(data []byte, last int) []byte {
			for i := last + 8; i < len(data); i++ { // past the frame's length and checksum
				data[i] = 0xa5
			}
			return data
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ids, seg := loggedRuns(t, dir, 3)
			offs := frameOffsets(t, seg)
			data, _ := os.ReadFile(seg)
			if err := os.WriteFile(seg, tc.tear(data, offs[5]), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, time.Second)
			if err != nil {
				t.Fatalf("open after a torn tail: %v", err)
			}
			defer s.Close()
			r, err := s.Run(context.Background(), ids[2])
			if err != nil || r.Status != engine.RunQueued {
				t.Fatalf("run 3 (its final checkpoint torn off): %v %v, want queued", r, err)
			}
		})
	}
}

// TestWALDamageAcrossSegments: the damaged last frame of a segment that a
// later segment continues, and a segment file that went missing, both
// leave a hole in the LSNs: the open refuses.
func TestWALDamageAcrossSegments(t *testing.T) {
	write := func(t *testing.T, segs map[uint64][][2]uint64) string {
		dir := t.TempDir()
		walDir := filepath.Join(dir, wal.DirName)
		if err := os.MkdirAll(walDir, 0o700); err != nil {
			t.Fatal(err)
		}
		for no, lsns := range segs {
			var data []byte
			for _, l := range lsns {
				data = wal.AppendFrame(data, no, l[0], testAccept(l[1]))
			}
			if err := os.WriteFile(filepath.Join(walDir, wal.SegmentName(no)), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("damaged end of a closed segment", func(t *testing.T) {
		dir := write(t, map[uint64][][2]uint64{1: {{1, 1}, {2, 2}, {3, 3}}, 2: {{4, 4}, {5, 5}}})
		seg1 := filepath.Join(dir, wal.DirName, wal.SegmentName(1))
		offs := frameOffsets(t, seg1)
		flipByte(t, seg1, offs[2]+wal.FrameSize(0)+2)
		_, err := Open(dir, time.Second)
		var de *LogDamageError
		if !errors.As(err, &de) {
			t.Fatalf("open: %v, want a LogDamageError", err)
		}
		if d := de.Damages[0]; d.Segment != wal.SegmentName(1) || d.Offset != int64(offs[2]) || d.FirstLost != 3 || d.Following != 2 {
			t.Fatalf("damage %+v", d)
		}
	})
	t.Run("missing segment", func(t *testing.T) {
		dir := write(t, map[uint64][][2]uint64{1: {{1, 1}, {2, 2}}, 3: {{5, 5}}})
		_, err := Open(dir, time.Second)
		var de *LogDamageError
		if !errors.As(err, &de) {
			t.Fatalf("open: %v, want a LogDamageError", err)
		}
		if d := de.Damages[0]; d.Segment != wal.SegmentName(3) || d.FirstLost != 3 || d.LastLost != 4 || d.Lost != 2 {
			t.Fatalf("damage %+v", d)
		}
		report, err := Recover(dir, time.Second)
		if err != nil || report.Applied != 1 || len(report.Kept) != 0 {
			t.Fatalf("recover: %+v, %v; want the record after the hole applied, nothing kept", report, err)
		}
		s, err := Open(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// The log goes on after every LSN it used.
		if s.nextLSN != 5 {
			t.Fatalf("next LSN %d, want 5", s.nextLSN)
		}
	})
	t.Run("damage bbolt holds already", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var last string
		for range 6 {
			res, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
			if err != nil {
				t.Fatal(err)
			}
			last = res.RunID
		}
		if _, err := s.Run(ctx, last); err != nil { // the applier caught up
			t.Fatal(err)
		}
		segs, _ := wal.Segments(filepath.Join(dir, wal.DirName))
		seg := filepath.Join(dir, wal.DirName, wal.SegmentName(segs[0]))
		crash(t, s)
		flipByte(t, seg, frameOffsets(t, seg)[2]+wal.FrameSize(0)+2)
		s2, err := Open(dir, time.Second)
		if err != nil {
			t.Fatalf("damage to records bbolt holds stopped the open: %v", err)
		}
		s2.Close()
	})
}

// testAccept is the ingest record of run seq of flow f.
func testAccept(seq uint64) []byte {
	r := newRun("f")
	r.ID, r.EventID = formatID(runIDPrefix, seq), formatID(eventIDPrefix, seq)
	sum := r.Summary()
	idx, _ := encodeIndex(&sum)
	return (&acceptRecord{key: seqKey(seq), flowID: []byte("f"), index: idx, event: []byte(`{}`)}).encode()
}

// TestWALFailedVoidsAreVoided: when a group that carries void records
// fails too, its void records' LSNs are voided with it, so that the next
// replay finds no hole.
func TestWALFailedVoidsAreVoided(t *testing.T) {
	dir := t.TempDir()
	s := heldStore(t, dir)
	ctx := context.Background()
	first, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Two groups fail in a row: the second carries the first's void.
	for range 2 {
		s.log.KillFile() // write into the closed file: the write fails
		if _, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0); err == nil {
			t.Fatal("accept over a closed log file succeeded")
		}
	}
	s.log.ForceRotate()
	third, err := s.Accept(ctx, newEvent("f", `{}`), newRun("f"), 0)
	if err != nil {
		t.Fatal(err)
	}
	crash(t, s)
	s2, err := Open(dir, time.Second)
	if err != nil {
		t.Fatalf("open after failed groups: %v", err)
	}
	defer s2.Close()
	for _, id := range []string{first.RunID, third.RunID} {
		if _, err := s2.Run(ctx, id); err != nil {
			t.Errorf("run %s: %v", id, err)
		}
	}
}
