package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/switchyard/switchyard/engine"
)

// randomNode names a node that was given no name: host, process, and a
// few random bytes, since a restarted process may reuse its pid.
func randomNode() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// notifyRun tells every node, once tx commits, that a run changed.
func (s *Store) notifyRun(ctx context.Context, tx pgx.Tx, run *engine.Run) error {
	return nil
}
