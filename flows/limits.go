package flows

import (
	"errors"
	"fmt"
	"time"
)

// Limits of one evaluation: one bare expression (an `if`, a `when`, a
// dedupe, a poll's items, key or cursor, a live check), or one step's whole
// `with` template. Every caller of Expr.Eval, Expr.Bool, Template.Render and
// EvalSample gets them; none can opt out.
const (
	// EvalMemoryLimit caps the bytes an evaluation may produce: every
	// string, list and object it builds (concatenation included) and the
	// size of its result as JSON, counted before the memory is taken and
	// never given back during the evaluation.
	EvalMemoryLimit = 32 << 20
	// EvalTimeLimit caps how long an evaluation may run. Evaluation never
	// waits on anything, so this is CPU time (or less, on a busy machine:
	// the step limit, about a second of CPU, is what ends a runaway loop
	// the same way everywhere; this is the backstop).
	EvalTimeLimit = 2 * time.Second
	// EvalStepLimit caps the work of an evaluation in steps: one step is
	// one turn of a loop (a predicate such as all(items, {...})) or about
	// a hundred nanoseconds of the work inside a function (sorting,
	// matching, copying). It makes the time limit deterministic where it
	// can be: a runaway loop stops after the same number of turns however
	// busy the machine is.
	EvalStepLimit = 10_000_000
)

// Errors of an evaluation that went over its limits. An *EvalError wraps
// them (errors.Is works).
var (
	ErrMemoryLimit = fmt.Errorf("expression exceeded its memory limit of %d MiB", EvalMemoryLimit>>20)
	ErrTimeLimit   = fmt.Errorf("expression exceeded its time limit of %s", EvalTimeLimit)
	ErrStepLimit   = fmt.Errorf("expression exceeded its time limit (%d steps)", EvalStepLimit)
)

// isLimitError reports whether err is one of the limit errors.
func isLimitError(err error) bool {
	return errors.Is(err, ErrMemoryLimit) || errors.Is(err, ErrTimeLimit) || errors.Is(err, ErrStepLimit)
}

// meter counts what one evaluation has used. The expressions of an
// evaluation reach it through the environment (meterKey), which is why
// every evaluation gets its own copy of the top-level Env map.
type meter struct {
	mem      int64
	steps    int64
	deadline time.Time
	// err is the first limit crossed; later charges return it at once so a
	// predicate that swallows an error cannot keep going.
	err error
	// notes are what condition functions said about the data, in plain
	// words, for the run's condition trace (condfuncs.go).
	notes []string
}

// maxNotes bounds the notes of one evaluation: a condition over a long
// list must not fill the run's history with them.
const maxNotes = 10

// note records a plain-words remark for the condition trace.
func (m *meter) note(s string) {
	if len(m.notes) < maxNotes {
		m.notes = append(m.notes, s)
	}
}

// meterKey is the variable of the environment that holds the meter. It is
// not an identifier, so only $env["..."] can reach it, and JSON shaping
// drops it.
const meterKey = "$limits"

func newMeter() *meter {
	return &meter{deadline: time.Now().Add(EvalTimeLimit)}
}

// charge counts n more bytes; it fails once the total passes the limit.
func (m *meter) charge(n int64) error {
	return m.add(&m.mem, n, EvalMemoryLimit, ErrMemoryLimit)
}

// work counts n more steps and looks at the clock; it fails once either
// limit is passed.
func (m *meter) work(n int64) error {
	if err := m.add(&m.steps, n, EvalStepLimit, ErrStepLimit); err != nil {
		return err
	}
	if time.Now().After(m.deadline) {
		m.err = ErrTimeLimit
		return m.err
	}
	return nil
}

// add counts n more into *used, failing with over (and from then on) once
// the total would pass limit.
func (m *meter) add(used *int64, n, limit int64, over error) error {
	if m.err != nil {
		return m.err
	}
	if n < 0 || n > limit-*used {
		*used = limit
		m.err = over
		return m.err
	}
	*used += n
	return nil
}

// tick counts one turn of a loop. The clock is read every 16 turns: a turn
// is cheap, and anything expensive inside it charges work itself.
func (m *meter) tick() error {
	if m.err != nil {
		return m.err
	}
	m.steps++
	if m.steps > EvalStepLimit {
		m.err = ErrStepLimit
		return m.err
	}
	if m.steps&15 == 0 && time.Now().After(m.deadline) {
		m.err = ErrTimeLimit
		return m.err
	}
	return nil
}

// meterOf finds the meter in an evaluation's environment. An environment
// without one (which Eval never builds) gets a fresh meter, so limits
// still hold for that call.
func meterOf(env any) *meter {
	if m, ok := env.(map[string]any); ok {
		if mt, ok := m[meterKey].(*meter); ok {
			return mt
		}
	}
	return newMeter()
}
