package boltstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// finish saves run r as final with status st.
func finish(t *testing.T, s *Store, r *engine.Run, st engine.RunStatus) {
	t.Helper()
	now := time.Now().UTC()
	r.Status, r.FinishedAt = st, &now
	if err := s.SaveRun(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// TestResolutionIndex: a failed run is unresolved until a retry of it (or
// of its retry) succeeds; the index survives a restart, and a data dir
// from before it gets it built on open.
func TestResolutionIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	accept := func(flow string) *engine.Run {
		r := newRun(flow)
		res, err := s.Accept(ctx, newEvent(flow, `{}`), r, 0)
		if err != nil {
			t.Fatal(err)
		}
		r.ID, r.EventID = res.RunID, res.EventID
		return r
	}
	again := func(old *engine.Run, retry bool) *engine.Run {
		r := newRun(old.FlowID)
		r.EventID = old.EventID
		if retry {
			r.RetryOf = old.ID
		} else {
			r.ReplayOf = old.ID
		}
		if err := s.AddRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := accept("f")
	finish(t, s, a, engine.RunFailed)
	other := accept("g")
	finish(t, s, other, engine.RunFailed)
	ok := accept("f")
	finish(t, s, ok, engine.RunSucceeded)
	b := again(a, true)
	finish(t, s, b, engine.RunFailed)

	unresolved := func(f engine.RunFilter) []string {
		t.Helper()
		page, err := s.ListUnresolved(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range page.Runs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := unresolved(engine.RunFilter{}); len(got) != 3 || got[0] != b.ID || got[1] != other.ID || got[2] != a.ID {
		t.Fatalf("unresolved, newest first: %v (a %s, other %s, b %s)", got, a.ID, other.ID, b.ID)
	}
	if got := unresolved(engine.RunFilter{FlowID: "g"}); len(got) != 1 || got[0] != other.ID {
		t.Fatalf("unresolved of flow g: %v", got)
	}
	if got := unresolved(engine.RunFilter{Limit: 1, Cursor: b.ID}); len(got) != 1 || got[0] != other.ID {
		t.Fatalf("second page: %v", got)
	}
	if n, _ := s.CountUnresolved(ctx, 2); n != 2 {
		t.Fatalf("count capped at 2: %d", n)
	}

	// A replay of b that fails changes nothing; a retry of b that
	// succeeds resolves b and a, which b retried.
	d := again(b, false)
	finish(t, s, d, engine.RunFailed)
	c := again(b, true)
	finish(t, s, c, engine.RunSucceeded)
	if got := unresolved(engine.RunFilter{}); len(got) != 2 || got[0] != d.ID || got[1] != other.ID {
		t.Fatalf("after the retry succeeded: %v", got)
	}
	links, err := s.RunLinks(ctx, b.ID)
	if err != nil || !links.Resolved || links.ResolvedBy != c.ID || len(links.RetriedBy) != 1 || links.RetriedBy[0] != c.ID ||
		len(links.ReplayedBy) != 1 || links.ReplayedBy[0] != d.ID {
		t.Fatalf("links of b: %+v %v", links, err)
	}
	if links, _ := s.RunLinks(ctx, a.ID); !links.Resolved || links.ResolvedBy != c.ID || len(links.RetriedBy) != 1 || links.RetriedBy[0] != b.ID {
		t.Fatalf("links of a: %+v", links)
	}
	if links, _ := s.RunLinks(ctx, other.ID); links.Resolved || len(links.RetriedBy) != 0 {
		t.Fatalf("links of other: %+v", links)
	}
	if got, _ := s.ResolvedAmong(ctx, []string{a.ID, b.ID, other.ID, d.ID, "junk"}); len(got) != 2 || !got[a.ID] || !got[b.ID] {
		t.Fatalf("resolved among: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A data dir from before the index: no buckets' content, no marker.
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
	if got := unresolved(engine.RunFilter{}); len(got) != 2 || got[0] != d.ID || got[1] != other.ID {
		t.Fatalf("rebuilt on open: %v", got)
	}
	if links, _ := s.RunLinks(ctx, a.ID); !links.Resolved || links.ResolvedBy != c.ID {
		t.Fatalf("rebuilt links of a: %+v", links)
	}

	// Retention forgets them.
	if _, err := s.DeleteRunsBefore(ctx, time.Now().Add(time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if got := unresolved(engine.RunFilter{}); len(got) != 0 {
		t.Fatalf("after retention: %v", got)
	}
}
