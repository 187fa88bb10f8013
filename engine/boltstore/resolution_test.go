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

	dropIndex(t, dir, resolutionMeta, bucketUnresolved, bucketResolved)

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

// TestFailedByFlow: a flow's failed runs are listed from failed_by_flow,
// which a data dir from before it gets built on open, and retention empties
// it with the runs.
func TestFailedByFlow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour).UTC()
	var failedF []string
	for i := range 30 {
		flow := []string{"f", "g", "h"}[i%3]
		r := newRun(flow)
		r.CreatedAt = old.Add(time.Duration(i) * time.Second)
		if _, err := s.Accept(ctx, newEvent(flow, `{}`), r, 0); err != nil {
			t.Fatal(err)
		}
		r.Status = engine.RunSucceeded
		if i%4 == 0 {
			r.Status = engine.RunFailed
			if flow == "f" {
				failedF = append([]string{r.ID}, failedF...) // newest first
			}
		}
		fin := r.CreatedAt
		r.FinishedAt = &fin
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	listFailed := func(s *Store) string {
		t.Helper()
		var ids []string
		for cursor := ""; ; {
			page, err := s.ListRuns(ctx, engine.RunFilter{FlowID: "f", Status: engine.RunFailed, Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Runs {
				if r.FlowID != "f" || r.Status != engine.RunFailed {
					t.Fatalf("listed %+v", r)
				}
				ids = append(ids, r.ID)
			}
			if cursor = page.NextCursor; cursor == "" {
				return strings.Join(ids, ",")
			}
		}
	}
	if got, want := listFailed(s), strings.Join(failedF, ","); got != want || len(failedF) != 3 {
		t.Fatalf("failed runs of f: %s, want %s", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// As a data dir from before the index: no bucket content, no marker.
	dropIndex(t, dir, failedMeta, bucketFailedByFlow)
	if s, err = Open(dir, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := listFailed(s), strings.Join(failedF, ","); got != want {
		t.Fatalf("failed runs of f after the rebuild: %s, want %s", got, want)
	}

	if n, err := s.DeleteRunsBefore(ctx, time.Now().Add(-time.Hour), 100); err != nil || n != 30 {
		t.Fatalf("retention: %d %v", n, err)
	}
	if err := s.view(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketFailedByFlow).Cursor().First(); k != nil {
			t.Errorf("failed_by_flow keeps %q after retention", k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// dropIndex makes the closed store in dir look like a data dir from before
// an index: its buckets and the marker that it was built are gone.
func dropIndex(t *testing.T, dir string, marker []byte, buckets ...[]byte) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, DBFileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(marker)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
