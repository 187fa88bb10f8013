package boltstore

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// postingsDB opens a bare bbolt file with one bucket for posting blocks.
func postingsDB(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "p.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucketSearch); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

// readTerm reads every posting of term, in key order, and checks that
// each block holds only seqs above the bound of the one before and up to
// its own.
func readTerm(t testing.TB, b *bolt.Bucket, term string) []uint64 {
	t.Helper()
	prefix := compositeKey(term, nil)
	var all []uint64
	c := b.Cursor()
	for k, v := c.Seek(prefix); ; k, v = c.Next() {
		bound, ok := postingBound(k, prefix)
		if !ok {
			break
		}
		if len(v) > postingBlockBytes {
			t.Fatalf("block %d of %q holds %d bytes, more than %d", bound, term, len(v), postingBlockBytes)
		}
		seqs, err := decodePostings(nil, bound, v)
		if err != nil || len(seqs) == 0 {
			t.Fatalf("block %d of %q: %v seqs, %v", bound, term, seqs, err)
		}
		if len(all) > 0 && seqs[0] <= all[len(all)-1] {
			t.Fatalf("block %d of %q starts at %d, not after %d", bound, term, seqs[0], all[len(all)-1])
		}
		all = append(all, seqs...)
	}
	return all
}

// TestPostingBlocksMatchModel adds and removes random batches of postings,
// appended and out of order, and compares the blocks with a plain set
// after every batch; every lookup a search makes agrees with the set.
func TestPostingBlocksMatchModel(t *testing.T) {
	db := postingsDB(t)
	rng := rand.New(rand.NewPCG(1, 2))
	terms := []string{"wgold", "wa", "wab", "ftrigger.body.n=1"}
	model := map[string]map[uint64]bool{}
	next := uint64(1)
	for round := range 300 {
		term := terms[rng.IntN(len(terms))]
		if model[term] == nil {
			model[term] = map[uint64]bool{}
		}
		var batch []uint64
		add := round%4 != 3
		for range 1 + rng.IntN(400) {
			var s uint64
			switch {
			case add && rng.IntN(3) > 0: // appended, as the indexer does
				next += uint64(1 + rng.IntN(3))
				s = next
			case add && rng.IntN(2) == 0: // far apart: multi-byte deltas
				next += uint64(rng.IntN(1 << 20))
				s = next
			default: // anywhere below: re-indexed or retained
				s = 1 + uint64(rng.Int64N(int64(next)))
			}
			batch = append(batch, s)
		}
		slices.Sort(batch)
		batch = slices.Compact(batch)
		err := db.Update(func(tx *bolt.Tx) error {
			if add {
				return addPostings(tx.Bucket(bucketSearch), term, batch)
			}
			return removePostings(tx.Bucket(bucketSearch), term, batch)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range batch {
			if add {
				model[term][s] = true
			} else {
				delete(model[term], s)
			}
		}
		if err := db.View(func(tx *bolt.Tx) error {
			checkTermAgainst(t, tx.Bucket(bucketSearch), term, model[term], next, rng)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTermAgainst compares term's postings with want: the blocks, a walk
// newest first from a random cursor, probes in descending order, and the
// count.
func checkTermAgainst(t *testing.T, b *bolt.Bucket, term string, want map[uint64]bool, next uint64, rng *rand.Rand) {
	t.Helper()
	var sorted []uint64
	for s := range want {
		sorted = append(sorted, s)
	}
	slices.Sort(sorted)
	if got := readTerm(t, b, term); !slices.Equal(got, sorted) {
		t.Fatalf("%q holds %d postings, want %d", term, len(got), len(sorted))
	}
	before := uint64(0)
	if rng.IntN(2) == 0 {
		before = 1 + uint64(rng.Int64N(int64(next)+1))
	}
	var walked []uint64
	walkPostingsDesc(b, term, before, func(s uint64) bool { walked = append(walked, s); return true })
	var wantWalk []uint64
	for i := len(sorted) - 1; i >= 0; i-- {
		if before == 0 || sorted[i] < before {
			wantWalk = append(wantWalk, sorted[i])
		}
	}
	if !slices.Equal(walked, wantWalk) {
		t.Fatalf("walk of %q before %d: %d seqs, want %d", term, before, len(walked), len(wantWalk))
	}
	// Probes descend like a search's walk: postings, their neighbours
	// and random seqs.
	asks := []uint64{0, 1, next, next + 1}
	for _, s := range sorted {
		asks = append(asks, s, s+1, s-1)
	}
	for range 500 {
		asks = append(asks, uint64(rng.Int64N(int64(next)+2)))
	}
	slices.Sort(asks)
	probe := newPostingProbe(b, term)
	for i := len(asks) - 1; i >= 0; i-- {
		if s := asks[i]; probe.holds(s) != want[s] {
			t.Fatalf("probe of %q at %d: %v, want %v", term, s, !want[s], want[s])
		}
	}
	if n := countPostings(b, term, 1<<30); n != len(sorted) {
		t.Fatalf("count of %q: %d, want %d", term, n, len(sorted))
	}
}

// TestPostingBlocksDense: postings of runs in order take about a byte
// each, in full blocks, the shape a W0 backlog indexed oldest first gives.
func TestPostingBlocksDense(t *testing.T) {
	db := postingsDB(t)
	const runs = 100_000
	for lo := uint64(1); lo <= runs; lo += searchBatch {
		var batch []uint64
		for s := lo; s < lo+searchBatch && s <= runs; s++ {
			batch = append(batch, s)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return addPostings(tx.Bucket(bucketSearch), "wgold", batch) }); err != nil {
			t.Fatal(err)
		}
	}
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		st := b.Stats()
		if st.KeyN > runs/postingBlockBytes+2 {
			t.Errorf("%d blocks for %d postings; want full blocks of %d", st.KeyN, runs, postingBlockBytes)
		}
		if bytes := st.LeafInuse; bytes > runs*12/10 {
			t.Errorf("%d bytes of leaf pages for %d postings; want about one byte each", bytes, runs)
		}
		if got := readTerm(t, b, "wgold"); len(got) != runs {
			t.Errorf("%d postings, want %d", len(got), runs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDamagedPostingBlock: a block that does not decode neither crashes a
// search nor stops retention from deleting what it held.
func TestDamagedPostingBlock(t *testing.T) {
	for _, v := range [][]byte{{0x80}, {1, 0, 2}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 5}, {1, 200}} {
		if _, err := decodePostings(nil, 100, v); err == nil {
			t.Errorf("decode %x: no error", v)
		}
	}
	db := postingsDB(t)
	err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		if err := addPostings(b, "wx", []uint64{5, 6, 7, 2000}); err != nil {
			return err
		}
		// Truncate the block: 5 and 6 still read, the rest is lost.
		return b.Put(postingKey("wx", openBound), []byte{5, 1, 0x80})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		var walked []uint64
		walkPostingsDesc(b, "wx", 0, func(s uint64) bool { walked = append(walked, s); return true })
		if !slices.Equal(walked, []uint64{6, 5}) {
			t.Errorf("walk over a damaged block: %v, want [6 5]", walked)
		}
		if err := removePostings(b, "wx", []uint64{5}); err != nil {
			return err
		}
		if got := readTerm(t, b, "wx"); !slices.Equal(got, []uint64{6}) {
			t.Errorf("after removing 5 from a damaged block: %v, want [6]", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzPostingBlock: any block value decodes without a panic, and what
// decodes encodes back to the same value.
func FuzzPostingBlock(f *testing.F) {
	f.Add(uint64(openBound), []byte{1, 1, 1, 1})
	f.Add(uint64(300), []byte{0x80, 0x01, 0x05})
	f.Add(uint64(1<<63), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, bound uint64, v []byte) {
		seqs, err := decodePostings(nil, bound, v)
		if err != nil {
			return
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] || seqs[i] > bound {
				t.Fatalf("decoded seqs do not ascend up to %d: %v", bound, seqs)
			}
		}
		// Varints have more than one encoding; a canonical value
		// round-trips.
		if enc := encodePostings(seqs); len(enc) <= len(v) {
			again, err := decodePostings(nil, bound, enc)
			if err != nil || !slices.Equal(again, seqs) {
				t.Fatalf("re-encoded %x decodes to %v, %v; want %v", enc, again, err, seqs)
			}
		}
	})
}

// TestSearchReadsV1DataDir: testdata/searchv1.tar.gz is a data dir written
// by commit 5b968b5, whose index kept one key per posting: 300 runs of
// flow "orders" with {"email":"user<i>@example.com","plan":"gold","n":i},
// every third left queued, the others succeeded or failed with an output
// "deal-<i>". Opening it drops the old index and builds the new one, and
// searches and retention work as on a new data dir.
func TestSearchReadsV1DataDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	untar(t, filepath.Join("testdata", "searchv1.tar.gz"), dir)
	s, err := Open(filepath.Join(dir, "searchv1"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSearchV1) != nil || tx.Bucket(bucketMeta).Get(searchMetaOld[0]) != nil {
			t.Error("the index of one key per posting is still there")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		"user17@example.com":                     1,
		"trigger.body.email:user200@example.com": 1,
		"deal-44":                                1,
		"deal-45":                                0, // 45 was left queued
		"gold":                                   300,
		"gold deal":                              200,
	} {
		page, err := s.SearchRuns(ctx, engine.RunFilter{Search: q, Limit: 500})
		if err != nil || len(page.Runs) != want {
			t.Errorf("search %q: %d runs, %v; want %d", q, len(page.Runs), err, want)
		}
	}
	failed, err := s.SearchRuns(ctx, engine.RunFilter{Search: "gold", Status: engine.RunFailed, Limit: 500})
	if err != nil || len(failed.Runs) != 100 {
		t.Errorf("failed runs of gold: %d, %v; want 100", len(failed.Runs), err)
	}
	// Retention (the runs were made on 2 December 2026) leaves no posting.
	n, err := s.DeleteRunsBefore(ctx, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), 1000)
	if err != nil || n != 200 {
		t.Fatalf("retention: %d, %v; want the 200 final runs", n, err)
	}
	waitIndexed(t, s, 10*time.Second)
	if page, err := s.SearchRuns(ctx, engine.RunFilter{Search: "deal", Limit: 500}); err != nil || len(page.Runs) != 0 {
		t.Errorf("deal after retention: %d runs, %v", len(page.Runs), err)
	}
	if page, err := s.SearchRuns(ctx, engine.RunFilter{Search: "gold", Limit: 500}); err != nil || len(page.Runs) != 100 {
		t.Errorf("gold after retention: %d runs, %v; want the 100 queued", len(page.Runs), err)
	}
	// The queued runs, indexed while open, keep their documents.
	if postings, docs, _ := searchKeys(t, s); postings != termsOfAll(t, s) || docs != 100 {
		t.Errorf("after retention: %d postings and %d documents; want %d and 100", postings, docs, termsOfAll(t, s))
	}
}

// termsOfAll is how many terms the runs left hold, derived as the indexer
// does.
func termsOfAll(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRunIndex).ForEach(func(k, _ []byte) error {
			n += len(newTermReader(tx).of(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostingsInOneTxAfterDeletes: retention removes a term's oldest
// postings and the indexer adds new ones, several batches in one write
// transaction. Deleting leaves pages empty until the commit, where bbolt's
// Last loops for ever and Prev stops short: a lookup that steps back hung
// here (TestCompactWhileAccepting timed out) before blocks were keyed so
// that lookups only seek forward.
func TestPostingsInOneTxAfterDeletes(t *testing.T) {
	db := postingsDB(t)
	terms := []string{"wa", "wb", "wc"}
	const runs = 60_000
	var all []uint64
	for s := uint64(1); s <= runs; s++ {
		all = append(all, s)
	}
	err := db.Update(func(tx *bolt.Tx) error {
		for _, term := range terms {
			if err := addPostings(tx.Bucket(bucketSearch), term, all); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	updateWithin(t, db, 30*time.Second, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSearch)
		for lo := 0; lo < runs; lo += 1000 {
			for _, term := range terms {
				if err := removePostings(b, term, all[lo:lo+1000]); err != nil {
					return err
				}
				if err := addPostings(b, term, []uint64{runs + 1 + uint64(lo)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	err = db.View(func(tx *bolt.Tx) error {
		for _, term := range terms {
			if got := readTerm(t, tx.Bucket(bucketSearch), term); len(got) != 60 || got[0] != runs+1 {
				t.Errorf("%q holds %d postings from %v; want the 60 added", term, len(got), got[:min(len(got), 1)])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
