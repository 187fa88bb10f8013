package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

// StepJournalFile is the file in the data dir where each worker notes the
// step it is executing (Config.StepJournal).
const StepJournalFile = "steps.inflight"

// MaxStepCrashes is how many times the engine may stop during one step of
// a run before the run is failed rather than resumed at that step again.
const MaxStepCrashes = 2

// ErrStepCrashed is the error of a step during which the engine stopped
// MaxStepCrashes times.
var ErrStepCrashed = errors.New("stopped: this step crashed the engine twice")

// The step journal is how a run that takes the process down (a fatal
// runtime error, a connector's goroutine that panics, a kill by the
// kernel's OOM killer) is kept from doing so on every start.
//
// It has one fixed-size slot per worker. Before a step starts, its worker
// writes the run and step into its slot; when the worker is done with the
// run (finished, parked or shut down), it clears the slot. A slot still
// filled at the next start names a step the process stopped in. The file
// is mapped into memory (where the system allows; elsewhere slots are
// written with pwrite), so a slot's update is a store into the page cache,
// about a hundred nanoseconds, and is never synced: what the journal
// guards against is the process dying, after which the kernel still holds
// the page, not the machine losing power. So it costs no disk write on the
// hot path, and every step, pure ones included, is covered.
//
// At start, every filled slot adds one to its run's Crash count for that
// step (a durable write, at start only); at MaxStepCrashes the run fails
// with ErrStepCrashed. The journal is emptied and synced before the counts
// are written, so a crash during start-up can lose a count (the step runs
// once more) but never count one crash twice.
type stepJournal struct {
	f *os.File
	// mem is the mapped file, nil where mapping is not available.
	mem []byte
}

// journalSlot is the size of a worker's slot. A run id and a step id
// longer than it leaves (about 1000 bytes together) are not recorded.
const journalSlot = 1024

var journalMagic = []byte("SYJ1")

var journalCRC = crc32.MakeTable(crc32.Castagnoli)

// journalEntry is one filled slot: a run and the step it was in.
type journalEntry struct {
	run, step string
}

// openStepJournal opens (creating) the journal at path, returns the steps
// its slots name, and empties it, synced, for this process's workers (one
// slot each).
func openStepJournal(path string, workers int) (*stepJournal, []journalEntry, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	j := &stepJournal{f: f}
	entries, err := j.reset(workers * journalSlot)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return j, entries, nil
}

// reset reads the journal's entries, then empties it to size bytes of
// zeros, synced, and maps it.
func (j *stepJournal) reset(size int) ([]journalEntry, error) {
	data, err := io.ReadAll(j.f)
	if err != nil {
		return nil, err
	}
	var entries []journalEntry
	// A slot written with pwrite ends where its entry does: the last may
	// be short.
	for off := 0; off < len(data); off += journalSlot {
		if e, ok := decodeSlot(data[off:min(off+journalSlot, len(data))]); ok {
			entries = append(entries, e)
		}
	}
	if err := j.f.Truncate(0); err != nil {
		return nil, err
	}
	// Zeros written, not a sparse file made by truncating: a store into
	// a mapped page that has no block behind it raises SIGBUS when the
	// disk is full, which would bring the process down. With the blocks
	// allocated now, a full disk later cannot touch the journal. When they
	// cannot be allocated, the journal stays unmapped and its writes are
	// pwrites, whose failures are errors.
	_, werr := j.f.WriteAt(make([]byte, size), 0)
	if werr != nil {
		if err := j.f.Truncate(int64(size)); err != nil {
			return nil, err
		}
	}
	if err := j.f.Sync(); err != nil {
		return nil, err
	}
	if werr == nil {
		if mem, err := mapJournal(j.f, size); err == nil {
			j.mem = mem
		}
	}
	return entries, nil
}

// decodeSlot reads a slot: magic, the two lengths, the ids, a CRC-32C of
// all that. A torn or empty slot reads as nothing.
func decodeSlot(b []byte) (journalEntry, bool) {
	if !bytes.HasPrefix(b, journalMagic) {
		return journalEntry{}, false
	}
	n := len(journalMagic)
	runLen, stepLen := int(b[n]), int(binary.BigEndian.Uint16(b[n+1:]))
	end := n + 3 + runLen + stepLen
	if end+4 > len(b) {
		return journalEntry{}, false
	}
	if crc32.Checksum(b[:end], journalCRC) != binary.BigEndian.Uint32(b[end:]) {
		return journalEntry{}, false
	}
	return journalEntry{run: string(b[n+3 : n+3+runLen]), step: string(b[n+3+runLen : end])}, true
}

// enter notes that worker slot is executing step of run.
func (j *stepJournal) enter(slot int, run, step string) error {
	n := len(journalMagic)
	end := n + 3 + len(run) + len(step)
	if len(run) > 255 || end+4 > journalSlot {
		return j.leave(slot)
	}
	off := slot * journalSlot
	var b []byte
	if j.mem != nil && off+journalSlot <= len(j.mem) {
		b = j.mem[off : off+end+4]
	} else {
		b = make([]byte, end+4)
	}
	copy(b, journalMagic)
	b[n] = byte(len(run))
	binary.BigEndian.PutUint16(b[n+1:], uint16(len(step)))
	copy(b[n+3:], run)
	copy(b[n+3+len(run):], step)
	binary.BigEndian.PutUint32(b[end:], crc32.Checksum(b[:end], journalCRC))
	if j.mem != nil && off+journalSlot <= len(j.mem) {
		return nil
	}
	_, err := j.f.WriteAt(b, int64(off))
	return err
}

// leave notes that worker slot executes nothing.
func (j *stepJournal) leave(slot int) error {
	var zero [4]byte
	return j.write(slot, zero[:])
}

func (j *stepJournal) write(slot int, b []byte) error {
	off := slot * journalSlot
	if j.mem != nil && off+len(b) <= len(j.mem) {
		copy(j.mem[off:], b)
		return nil
	}
	_, err := j.f.WriteAt(b, int64(off))
	return err
}

func (j *stepJournal) close() error {
	if j.mem != nil {
		unmapJournal(j.mem)
		j.mem = nil
	}
	return j.f.Close()
}

// countCrashes adds the journal's entries to their runs' crash counts,
// failing a run whose step has now stopped the engine MaxStepCrashes
// times. It runs at start, before the queue is loaded.
func (e *Engine) countCrashes(ctx context.Context, entries []journalEntry) error {
	for _, en := range entries {
		run, err := e.store.Run(ctx, en.run)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("engine: count crashed steps: %w", err)
		}
		if prev := run.resultKey(en.step); run.Status.Final() || prev != nil && prev.Status.done() {
			continue // the step got past the crash after all
		}
		if run.Crash != nil && run.Crash.Step == en.step {
			run.Crash.Count++
		} else {
			run.Crash = &CrashCount{Step: en.step, Count: 1}
		}
		log := e.log.With("flow_id", run.FlowID, "run_id", run.ID, "step_id", en.step)
		if run.Crash.Count < MaxStepCrashes {
			log.Warn("the engine stopped while this step ran; it runs again")
		} else {
			log.Error("run stopped: the engine stopped during this step again", "times", run.Crash.Count)
			e.failCrashedStep(ctx, run, en.step)
		}
		if err := e.store.SaveRun(ctx, run); err != nil && !errors.Is(err, ErrRunFinal) {
			return fmt.Errorf("engine: count crashed steps: %w", err)
		}
		if run.Status.Final() {
			e.counts.failed.Add(1)
			e.observeRun(run)
		}
	}
	return nil
}

// failCrashedStep marks the step, and with it the run, failed with
// ErrStepCrashed.
func (e *Engine) failCrashedStep(ctx context.Context, run *Run, step string) {
	now := time.Now()
	// A loop item's step is journalled as "<loop>[<index>].<step>".
	loop, index, id, inLoop := parseStepKey(step)
	if !inLoop {
		id = step
	} else if run.result(loop) == nil {
		// No checkpoint held the loop yet (its items' steps so far were
		// pure). Its list was not recorded: the items known to have
		// started stand for its length, so its items can be paged.
		n := index + 1
		run.Steps = append(run.Steps, StepResult{ID: loop, StartedAt: now, ItemCount: &n})
	}
	res := run.resultKey(step)
	if res == nil {
		use := ""
		if cf, err := e.flows.version(ctx, e.store, run.FlowID, run.FlowVersion); err == nil {
			if cs := cf.Step(id); cs != nil {
				use = cs.Step.Use
			}
		}
		sr := StepResult{ID: id, Use: use, StartedAt: now}
		if inLoop {
			sr.Loop, sr.Iteration = loop, &index
		}
		run.Steps = append(run.Steps, sr)
		res = &run.Steps[len(run.Steps)-1]
	}
	res.Status, res.Error, res.FinishedAt = StepFailed, ErrStepCrashed.Error(), &now
	res.NextAttemptAt, res.ResumeAt = nil, nil
	run.Status, run.FinishedAt, run.DueAt = RunFailed, &now, nil
	run.Error = fmt.Sprintf("step %q failed: %s", step, res.Error)
	run.ErrorStep = step
	if lr := run.result(loop); inLoop && lr != nil {
		// The item's failure is its loop's, as when a step fails.
		lr.Status, lr.FinishedAt = StepFailed, &now
		lr.Error = fmt.Sprintf("item %d: step %q failed: %s", index, id, res.Error)
		run.Error = fmt.Sprintf("step %q failed: %s", loop, lr.Error)
		run.ErrorStep = loop
	}
}
