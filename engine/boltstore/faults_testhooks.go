//go:build switchyard_faults

package boltstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Failure injection for the end-to-end tests, compiled only with the
// switchyard_faults tag. SWITCHYARD_TEST_FAULTS is a comma-separated list:
//
//	apply-fails-while=PATH  every transaction of the applier fails with an
//	                        I/O error (as a failing fdatasync on
//	                        switchyard.db would) while PATH exists
//	backlog=N               at most N acknowledged writes wait for bbolt
//	                        while it refuses them
//	slow-run-save=DURATION  every run checkpoint waits DURATION before it
//	                        is written (what a caller may see meanwhile)
//	kill-after-kv-write=PATH  the first named data store write (a step's)
//	                        that commits kills the process (SIGKILL) before
//	                        the step's checkpoint, unless PATH exists;
//	                        PATH is created first, so the next start runs on
func init() {
	spec := os.Getenv("SWITCHYARD_TEST_FAULTS")
	if spec == "" {
		return
	}
	installTestFaults = func(s *Store) {
		for _, f := range strings.Split(spec, ",") {
			name, arg, _ := strings.Cut(f, "=")
			switch name {
			case "apply-fails-while":
				s.applyFault = func() error {
					if _, err := os.Stat(arg); err == nil {
						return fmt.Errorf("injected fault: fdatasync %s: %w", DBFileName, syscall.EIO)
					}
					return nil
				}
			case "backlog":
				n, err := strconv.Atoi(arg)
				if err != nil {
					panic("SWITCHYARD_TEST_FAULTS: backlog=" + arg)
				}
				s.backlogMax = int64(n)
			case "kill-after-kv-write":
				s.afterKVWrite = func() {
					f, err := os.OpenFile(arg, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
					if err != nil {
						return // killed once already
					}
					f.Sync()
					f.Close()
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {} // the signal is on its way
				}
			case "slow-run-save":
				d, err := time.ParseDuration(arg)
				if err != nil {
					panic("SWITCHYARD_TEST_FAULTS: slow-run-save=" + arg)
				}
				s.saveRunDelay = d
			default:
				panic("SWITCHYARD_TEST_FAULTS: unknown fault " + name)
			}
		}
	}
}
