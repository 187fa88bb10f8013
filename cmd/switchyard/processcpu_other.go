//go:build !unix

package main

import "time"

// processCPU is unknown here: idleness is judged by the engine's counters
// alone.
func processCPU() time.Duration { return 0 }
