package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// searchKeys counts the postings, documents and pending marks of the
// search index.
func searchKeys(t testing.TB, s *Store) (postings, docs, pending int) {
	t.Helper()
	err := s.view(func(tx *bolt.Tx) error {
		var seqs []uint64
		err := tx.Bucket(bucketSearch).ForEach(func(k, v []byte) error {
			var err error
			seqs, err = decodePostings(seqs[:0], binary.BigEndian.Uint64(k[len(k)-8:]), v)
			postings += len(seqs)
			return err
		})
		if err != nil {
			return err
		}
		docs = tx.Bucket(bucketSearchDocs).Stats().KeyN
		pending = tx.Bucket(bucketSearchPending).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return
}

// waitIndexed waits until the background indexer has nothing pending.
func waitIndexed(t testing.TB, s *Store, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if _, _, pending := searchKeys(t, s); pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background indexer left runs pending for %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSearchIndexBounded: the indexer empties the pending bucket by itself,
// and retention leaves no posting of the runs it deleted.
func TestSearchIndexBounded(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	old := time.Now().Add(-48 * time.Hour).UTC()
	for i := range 40 {
		r := newRun("f")
		r.CreatedAt = old
		if _, err := s.Accept(ctx, newEvent("f", fmt.Sprintf(`{"email":"user%d@example.com","n":%d}`, i, i)), r, 0); err != nil {
			t.Fatal(err)
		}
		r.Status = engine.RunSucceeded
		r.Steps = []engine.StepResult{{ID: "s", Status: engine.StepSucceeded, Output: map[string]any{"id": fmt.Sprintf("out-%d", i)}}}
		if err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	waitIndexed(t, s, 10*time.Second)
	// Final runs keep no document: retention derives their terms again.
	postings, docs, _ := searchKeys(t, s)
	if postings < 40*5 || docs != 0 {
		t.Fatalf("after indexing: %d postings, %d docs; want at least 200 and none", postings, docs)
	}
	if page, err := s.SearchRuns(ctx, engine.RunFilter{Search: "out-17"}); err != nil || len(page.Runs) != 1 {
		t.Fatalf("search out-17: %+v %v", page.Runs, err)
	}
	if n, err := s.DeleteRunsBefore(ctx, time.Now().Add(-time.Hour), 100); err != nil || n != 40 {
		t.Fatalf("retention: %d %v", n, err)
	}
	if postings, docs, pending := searchKeys(t, s); postings+docs+pending != 0 {
		t.Fatalf("after retention: %d postings, %d docs, %d pending; want none", postings, docs, pending)
	}
}

// TestSearchBuiltForOlderDataDirs: a data dir from before the search index
// gets every run marked on open and indexed.
func TestSearchBuiltForOlderDataDirs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun("f")
	if _, err := s.Accept(ctx, newEvent("f", `{"email":"ada@example.com"}`), r, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dropIndex(t, dir, searchMeta, bucketSearch, bucketSearchDocs, bucketSearchPending)
	if s, err = Open(dir, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page, err := s.SearchRuns(ctx, engine.RunFilter{Search: "trigger.body.email:ada@example.com"})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != r.ID {
		t.Fatalf("search after rebuild: %+v %v", page.Runs, err)
	}
}

// TestSearchStaleTermsForgotten: a run indexed while open with a value its
// final state no longer holds keeps a document of what was indexed, so
// that retention deletes that posting too, while final runs keep none.
func TestSearchStaleTermsForgotten(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	r := newRun("f")
	r.CreatedAt = time.Now().Add(-48 * time.Hour).UTC()
	if _, err := s.Accept(ctx, newEvent("f", `{"email":"ada@example.com"}`), r, 0); err != nil {
		t.Fatal(err)
	}
	// Open, with a step output the run will not keep.
	r.Status = engine.RunWaiting
	r.Steps = []engine.StepResult{{ID: "s", Status: engine.StepSucceeded, Output: map[string]any{"draft": "provisional-77"}}}
	if err := s.SaveRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	indexAll := func() {
		t.Helper()
		for {
			n, more, err := s.indexPending(ctx, searchBatch)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 || !more {
				if _, _, pending := searchKeys(t, s); pending == 0 {
					return
				}
			}
		}
	}
	// The indexer reads the run while it waits (marked pending again here:
	// the background indexer may have taken the ingest's mark already).
	key, err := parseID(runIDPrefix, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.write(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketSearchPending).Put(key, searchOpen) }); err != nil {
		t.Fatal(err)
	}
	indexAll()
	r.Status = engine.RunSucceeded
	r.Steps[0].Output = map[string]any{"final": "deal-42"}
	if err := s.SaveRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	indexAll()
	if _, docs, _ := searchKeys(t, s); docs != 1 {
		t.Fatalf("%d documents; want the one of the run with a stale term", docs)
	}
	for _, q := range []string{"deal-42", "ada@example.com"} {
		if page, err := s.SearchRuns(ctx, engine.RunFilter{Search: q}); err != nil || len(page.Runs) != 1 {
			t.Fatalf("search %s: %+v %v", q, page.Runs, err)
		}
	}
	if n, err := s.DeleteRunsBefore(ctx, time.Now().Add(-time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("retention: %d %v", n, err)
	}
	if postings, docs, pending := searchKeys(t, s); postings+docs+pending != 0 {
		t.Fatalf("after retention: %d postings, %d docs, %d pending; want none", postings, docs, pending)
	}
}

// TestTermsOfMatchesWholeRun: the indexer decodes only what of a run its
// terms come from, and derives the same terms as from the whole run.
func TestTermsOfMatchesWholeRun(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	ev := newEvent("f", `{"email":"ada@example.com","lines":[{"sku":"A-1"},{"sku":"B-2"}]}`)
	ev.Headers = map[string]string{"user-agent": "Stripe/1.0", "x-github-event": "push"}
	ev.Query = map[string]string{"source": "crm"}
	r := newRun("f")
	if _, err := s.Accept(ctx, ev, r, 0); err != nil {
		t.Fatal(err)
	}
	r.Status = engine.RunSucceeded
	r.Steps = []engine.StepResult{
		{ID: "check", Status: engine.StepSkipped, Conditions: []engine.Condition{{Field: "if", Expr: "trigger.body.vip", Result: false}}},
		{ID: "send", Status: engine.StepSucceeded, Attempts: 2, Input: map[string]any{"url": "http://crm.example/deals", "body": map[string]any{"name": "input-only"}},
			Output: map[string]any{"status": 201.0, "body": map[string]any{"deal": "d-9", "tags": []any{"gold", "eu"}}}},
		{ID: "each", Status: engine.StepSucceeded, Output: map[string]any{"count": 2.0}},
	}
	if err := s.SaveRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	key, err := parseID(runIDPrefix, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Event(ctx, r.EventID)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := s.Run(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := engine.SearchTerms(stored, whole)
	var got []string
	if err := s.view(func(tx *bolt.Tx) error { got = newTermReader(tx).of(key); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(want) < 10 {
		t.Errorf("terms of the stored run:\n%q\nwant (from the whole run):\n%q", got, want)
	}
	for _, term := range got {
		if strings.Contains(term, "input-only") {
			t.Errorf("a step's input became a term: %q", term)
		}
	}
}

// TestSearchBacklog: the runs the indexer has not reached are counted
// (switchyard_search_backlog_runs), and none once it has been through.
func TestSearchBacklog(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	s.stopIndexer() // indexed by hand below
	for range 5 {
		if _, err := s.Accept(ctx, newEvent("f", `{"email":"ada@example.com"}`), newRun("f"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.SearchBacklog(ctx); err != nil || n != 5 {
		t.Fatalf("backlog after 5 runs: %d, %v; want 5", n, err)
	}
	for {
		if _, more, err := s.indexPending(ctx, 2); err != nil {
			t.Fatal(err)
		} else if !more {
			break
		}
	}
	if n, err := s.SearchBacklog(ctx); err != nil || n != 0 {
		t.Fatalf("backlog once indexed: %d, %v; want 0", n, err)
	}
}
