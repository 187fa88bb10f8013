package connectors

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors.
var (
	ErrUnknown               = errors.New("unknown connector")
	ErrUnknownConnectionType = errors.New("unknown connection type")
)

// StepError is an error that says whether trying again may help.
type StepError struct {
	// Retryable is true for 429, 5xx, timeouts and connection errors.
	Retryable bool
	// RetryAfter is the delay the remote asked for (Retry-After), if any.
	RetryAfter time.Duration
	// Status is the remote HTTP status, when there was one.
	Status int
	Err    error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying (bad config, 4xx).
func Permanent(err error) error {
	return &StepError{Err: err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error {
	return Permanent(fmt.Errorf(format, args...))
}

// Retryable marks err as transient; after is the delay the remote asked for,
// or zero.
func Retryable(err error, after time.Duration) error {
	return &StepError{Retryable: true, RetryAfter: after, Err: err}
}

// IsRetryable reports whether err may succeed on another attempt and the
// delay the remote asked for. Errors that are not StepErrors are retryable.
func IsRetryable(err error) (bool, time.Duration) {
	var se *StepError
	if errors.As(err, &se) {
		return se.Retryable, se.RetryAfter
	}
	return true, 0
}
