package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// CountRuns walks the flow's index newest first and stops at the first run
// older than since (keys are in creation order) or at max.
func (s *Store) CountRuns(ctx context.Context, flowID string, since time.Time, max int) (int, error) {
	n := 0
	err := s.viewRuns(func(tx *bolt.Tx) error {
		idx := newIndexWalker(tx)
		prefix := compositeKey(flowID, nil)
		c := tx.Bucket(bucketRunsByFlow).Cursor()
		k, _ := lastUnder(c, prefix)
		sinceNano := since.UnixNano()
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 && n < max; k, _ = c.Prev() {
			v := idx.get(k[len(prefix):])
			if v == nil {
				continue
			}
			created, _, ok := indexHeader(v)
			if !ok || created == 0 {
				var sum engine.RunSummary
				if decodeIndex(v, &sum) != nil {
					continue
				}
				created = sum.CreatedAt.UnixNano()
			}
			if !since.IsZero() && created < sinceNano {
				break
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: count runs of flow %q: %w", flowID, err)
	}
	return n, nil
}

var _ engine.RunCounter = (*Store)(nil)

// indexWalker reads run_index values for keys that come in descending
// order (a flow's runs, newest first). Stepping a cursor back over the
// runs of other flows is far cheaper than a fresh lookup from the root
// for every key, which is what a busy flow's listing would otherwise pay;
// a key far behind (a rare flow) is sought directly.
type indexWalker struct {
	c      *bolt.Cursor
	k, v   []byte
	placed bool
}

// indexWalkSteps bounds how far the walker steps before it seeks.
const indexWalkSteps = 64

func newIndexWalker(tx *bolt.Tx) *indexWalker {
	return &indexWalker{c: tx.Bucket(bucketRunIndex).Cursor()}
}

// get returns the value of key, or nil. Keys must not increase between
// calls.
func (w *indexWalker) get(key []byte) []byte {
	if w.placed && w.k != nil && bytes.Compare(w.k, key) >= 0 {
		for range indexWalkSteps {
			switch cmp := bytes.Compare(w.k, key); {
			case cmp == 0:
				return w.v
			case cmp < 0:
				return nil
			}
			if w.k, w.v = w.c.Prev(); w.k == nil {
				return nil
			}
		}
	}
	w.placed = true
	w.k, w.v = w.c.Seek(key)
	if w.k == nil || !bytes.Equal(w.k, key) {
		return nil
	}
	return w.v
}
