package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// runQueue is River on the store's pool (see river.go).
type runQueue struct{}

func (q *runQueue) stop() {}

// enqueue inserts the job that works run id, due at due, in tx.
func (s *Store) enqueue(ctx context.Context, tx pgx.Tx, id string, due time.Time) error {
	return nil
}
