// Package testlog holds what tests use to read the logs of code that runs
// in other goroutines.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a log sink that a test reads while handlers, workers or the
// store's applier write to it concurrently.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
