package main

import (
	"os"
	"runtime"
)

// procsPerCPU is how many Go processors serve gives the scheduler per CPU
// it may use, with the data-dir store.
//
// The store's log and its applier wait on the disk in system calls
// (fdatasync, pwrite) that Go cannot hand to its network poller: the
// thread in the call keeps its processor until the runtime's monitor takes
// it back, after 20 µs at best and up to 10 ms when the monitor has backed
// off. With as many processors as CPUs, a server pinned to one CPU spent
// half of it idle while connections waited (issue 16: W0 pinned, 1,256
// req/s at c=16 and 1,452 at c=64 with 53 % of the CPU used); with two per
// CPU the same server answered 7,499 and 9,952 with the CPU busy, and two
// unpinned CPUs went from 10,110 to 15,487 at c=64 (docs/benchmarks.md).
// More than two per CPU gained nothing measurable.
const procsPerCPU = 2

// raiseProcs sets GOMAXPROCS to procsPerCPU times what the runtime chose
// (the CPUs of the process's affinity mask and cgroup limit) and returns
// it, unless the operator set GOMAXPROCS, which always wins. The runtime's
// own later updates of its choice stop once it is set; a container whose
// CPU limit changes while serving keeps the count it started with.
func raiseProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := procsPerCPU * runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n)
	return n
}
