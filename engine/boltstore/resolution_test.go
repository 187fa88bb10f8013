package boltstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// TestResolutionsBuiltForOlderDataDirs: a data dir from before the
// resolution buckets (no buckets, no marker) gets them built on open from
// the run index. (The store-neutral behaviour is the conformance suite's
// "Resolutions".)
func TestResolutionsBuiltForOlderDataDirs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	finish := func(r *engine.Run, st engine.RunStatus) {
		now := time.Now().UTC()
		r.Status, r.FinishedAt = st, &now
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	accept := func(flow string) *engine.Run {
		r := newRun(flow)
		if _, err := s.Accept(ctx, newEvent(flow, `{}`), r, 0); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := accept("f")
	finish(a, engine.RunFailed)
	other := accept("g")
	finish(other, engine.RunFailed)
	b := newRun("f")
	b.EventID, b.RetryOf = a.EventID, a.ID
	if err := s.AddRun(ctx, b); err != nil {
		t.Fatal(err)
	}
	finish(b, engine.RunSucceeded)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := bolt.Open(filepath.Join(dir, DBFileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketUnresolved, bucketResolved} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(resolutionMeta)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	if s, err = Open(dir, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page, err := s.ListUnresolved(ctx, engine.RunFilter{})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != other.ID {
		t.Fatalf("rebuilt unresolved: %+v %v", page.Runs, err)
	}
	if links, _ := s.RunLinks(ctx, a.ID); !links.Resolved || links.ResolvedBy != b.ID || strings.Join(links.RetriedBy, ",") != b.ID {
		t.Fatalf("rebuilt links of a: %+v", links)
	}
}
