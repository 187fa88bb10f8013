// Package fsutil holds the file-system steps every durable write of
// Switchyard shares, whichever package owns the file.
package fsutil

import (
	"fmt"
	"os"
)

// SyncDir fsyncs a directory so that a file created, renamed or removed in
// it survives a power loss.
func SyncDir(dir string) error {
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
