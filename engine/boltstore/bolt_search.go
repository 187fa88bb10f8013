package boltstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/internal/jsontext"
)

// Search of runs (engine.RunSearcher) over an inverted index in three
// buckets:
//
//	search_postings: term 0x00 BE(bound) → the seqs of runs holding term,
//	                 in blocks of deltas up to bound (search_postings.go)
//	search_docs:     BE(seq) → its terms joined by 0x00, only while they are
//	                 not what the run and its event give again (see below)
//	search_pending:  BE(seq) → 0 (accepted) or 1 (final): runs to (re)index
//
// The applier marks a run pending in the transaction that stores its
// ingest and the one that makes it final (so a replayed log marks it
// again); it never tokenizes, so ingest pays one small put. A background
// indexer (indexLoop) turns pending runs into postings, oldest first, in
// batches (each term's postings of a batch added at once), and sleeps
// three times as long as each batch took: it spends at most a quarter of
// the time, and ingest keeps its pace. A search first
// indexes what is pending itself when that is little (searchCatchUp), so a
// run is found as soon as it is stored unless the indexer lags far behind.
// Retention deletes a run's postings with the run (forgetSearch): the terms
// are derived again from the run and its event, read in a read-only
// transaction before the one that deletes them. A run indexed while open
// may have had terms the final run no longer gives; only such a run keeps
// a document of the terms it was indexed with. (Every run kept one before: 185 bytes per W0 run, a fifth
// of the data dir; issue 16.) A change to engine.SearchTerms must
// therefore rebuild the index (a new searchMeta), or postings of runs
// indexed before would outlive them; so does a new posting format (v1 kept
// one key per posting, in bucket "search": buildSearch drops it).
//
// A query is a conjunction of terms (engine.ParseSearch). The search walks
// the postings of one term newest first from the cursor (the term with the
// fewest postings, estimated by counting up to searchProbe of each) and
// checks the others (in the block each read last: the walk descends), the
// flow, status and period with one lookup each:
// O(terms × (log N + P)), where P is how many postings of that term it
// walks to fill a page. A rare value costs a few lookups at any history
// size; a common word with a narrow filter walks its postings until the
// page fills.

var searchMeta = []byte("search_index_v3")

// Of the indexes before: their meta keys (v2 indexed the transport headers
// of what steps' calls got back), and the bucket of one key per posting
// (v1), dropped when a data dir is opened.
var (
	searchMetaOld  = [][]byte{[]byte("search_index_v1"), []byte("search_index_v2")}
	bucketSearchV1 = []byte("search")
)

const (
	// searchBatch is how many runs the indexer takes per transaction.
	searchBatch = 256
	// searchCatchUp is the most pending runs a search indexes itself.
	searchCatchUp = 1000
	// searchProbe is how many postings of each term are counted to pick
	// the one to walk.
	searchProbe = 64
	// searchIdle is how often an idle indexer looks for work.
	searchIdle = 200 * time.Millisecond
)

// pending marks: what state of the run the mark is for.
var (
	searchOpen  = []byte{0}
	searchFinal = []byte{1}
)

// indexer is the state of the background indexer.
type indexer struct {
	mu     sync.Mutex // one batch at a time (loop or a search's catch-up)
	stop   context.CancelFunc
	done   chan struct{}
	ctx    context.Context
	failed time.Time // when a failure was last logged
}

// noteSearch marks a run for (re)indexing, in the applier's transaction.
func noteSearch(tx *bolt.Tx, key, idx []byte) error {
	mark := searchOpen
	if indexFinal(idx) {
		mark = searchFinal
	}
	return appendBucket(tx, bucketSearchPending).Put(key, mark)
}

// buildSearch marks every run of a data dir for indexing once: one from
// before the index, or with an index of an older format, which it drops.
func buildSearch(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(searchMeta) != nil {
		return nil
	}
	if tx.Bucket(bucketSearchV1) != nil {
		if err := tx.DeleteBucket(bucketSearchV1); err != nil {
			return err
		}
	}
	// Documents list terms postings were made for; with the postings
	// gone, they would only keep a rebuilt run's stale terms.
	for _, name := range [][]byte{bucketSearch, bucketSearchDocs} {
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	pending := appendBucket(tx, bucketSearchPending)
	c := tx.Bucket(bucketRunIndex).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		mark := searchOpen
		if indexFinal(v) {
			mark = searchFinal
		}
		if err := pending.Put(bytes.Clone(k), mark); err != nil {
			return err
		}
	}
	for _, k := range searchMetaOld {
		if err := meta.Delete(k); err != nil {
			return err
		}
	}
	return meta.Put(searchMeta, []byte{1})
}

// SearchBacklog implements engine.SearchBacklogger: the runs marked for
// the indexer (new, changed, or all of them while an upgraded index is
// rebuilt), once the database holds every write answered so far (the
// marks are made as runs are applied). It reads the pending bucket's
// pages, so it is for a scrape, not a hot path.
func (s *Store) SearchBacklog(ctx context.Context) (int64, error) {
	var n int
	err := s.viewRuns(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSearchPending).Stats().KeyN
		return nil
	})
	return int64(n), err
}

// startIndexer starts the background indexer; Close stops it.
func (s *Store) startIndexer() {
	ctx, cancel := context.WithCancel(context.Background())
	s.idx = &indexer{stop: cancel, done: make(chan struct{}), ctx: ctx}
	go s.indexLoop()
}

func (s *Store) stopIndexer() {
	if s.idx == nil {
		return
	}
	s.idx.stop()
	<-s.idx.done
}

func (s *Store) indexLoop() {
	defer close(s.idx.done)
	ctx := s.idx.ctx
	for {
		start := time.Now()
		n, _, err := s.indexPending(ctx, searchBatch)
		wait := 3 * time.Since(start)
		if n == 0 {
			wait = max(wait, searchIdle)
		}
		if err != nil && ctx.Err() == nil {
			if time.Since(s.idx.failed) > 30*time.Second {
				s.idx.failed = time.Now()
				s.logger.Error("search index: indexing runs failed; retrying", "err", err)
			}
			wait = max(wait, 5*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// searchDoc is one pending run's terms, read for indexing.
type searchDoc struct {
	key, mark []byte
	terms     []string
}

// indexPending indexes up to max pending runs, oldest first, and reports
// how many, and whether more were pending. Oldest first appends to each
// term's postings: a backlog indexed newest first inserted each batch
// before the last one's postings, and every page split then left a page
// nine tenths empty behind (a million-run backlog grew the file by twice
// what the same postings take appended).
func (s *Store) indexPending(ctx context.Context, max int) (int, bool, error) {
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	var docs []searchDoc
	more := false
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSearchPending).Cursor()
		terms := newTermReader(tx)
		for k, mark := c.First(); k != nil; k, mark = c.Next() {
			if len(docs) == max {
				more = true
				break
			}
			docs = append(docs, searchDoc{key: bytes.Clone(k), mark: bytes.Clone(mark), terms: terms.of(k)})
		}
		return nil
	})
	if err != nil || len(docs) == 0 {
		return 0, false, err
	}
	err = s.write(ctx, func(tx *bolt.Tx) error {
		// Postings grow at the end of each term's range, and documents
		// by sequence: pages split full, not half empty (appendBucket;
		// at one half the index took 80 % more pages than its keys).
		pending, postings, forward := tx.Bucket(bucketSearchPending), appendBucket(tx, bucketSearch), appendBucket(tx, bucketSearchDocs)
		idx := tx.Bucket(bucketRunIndex)
		add := termSeqs{}
		for _, d := range docs {
			mark := pending.Get(d.key)
			if mark == nil {
				continue // deleted with its run meanwhile
			}
			if idx.Get(d.key) == nil {
				if err := pending.Delete(d.key); err != nil {
					return err
				}
				continue
			}
			// Keep the terms indexed before (the event's, while the run
			// was open): retention deletes every posting it made.
			terms := d.terms
			if old := forward.Get(d.key); old != nil {
				terms = mergeTerms(strings.Split(string(old), "\x00"), terms)
			}
			add.note(terms, d.key)
			// A final run's terms are derived again at deletion unless
			// some indexed while it was open are gone from it.
			if bytes.Equal(d.mark, searchFinal) && len(terms) == len(d.terms) {
				if err := forward.Delete(d.key); err != nil {
					return err
				}
			} else if err := forward.Put(d.key, []byte(strings.Join(terms, "\x00"))); err != nil {
				return err
			}
			// A run that became final since it was read stays pending
			// for its outputs.
			if bytes.Equal(mark, d.mark) {
				if err := pending.Delete(d.key); err != nil {
					return err
				}
			}
		}
		return add.apply(postings, addPostings)
	})
	if err != nil {
		return 0, more, fmt.Errorf("store: index runs for search: %w", err)
	}
	return len(docs), more, nil
}

// termReader derives runs' search terms from their records, with the
// buckets it reads looked up once per transaction, not once per run.
type termReader struct {
	runs, index, events *bolt.Bucket
}

func newTermReader(tx *bolt.Tx) termReader {
	return termReader{runs: tx.Bucket(bucketRuns), index: tx.Bucket(bucketRunIndex), events: tx.Bucket(bucketEvents)}
}

// of reads run key and its event and derives their search terms. Both
// records are read as JSON text (engine.SearchTermsStored), not decoded
// into Go values: decoding them with encoding/json was most of the
// indexer's CPU, and the indexer 12 % of the server's under W1 (issue 16).
func (r termReader) of(key []byte) []string {
	var (
		steps   []engine.StoredStep
		eventID string
		stored  bool
	)
	if data := r.runs.Get(key); data != nil {
		if js, err := unpackRecord(data); err == nil {
			steps, eventID, stored = engine.StoredSteps(js)
		}
	}
	var run *engine.Run
	if !stored {
		// No record, or a damaged one: the index entry's summary.
		var sum engine.RunSummary
		if decodeIndex(r.index.Get(key), &sum) != nil {
			return nil
		}
		run = sum.AsRun()
		eventID = run.EventID
	}
	var ev *engine.Event
	if data := r.events.Get(mustKey(eventIDPrefix, eventID)); data != nil {
		if js, err := unpackRecord(data); err == nil {
			ev = searchedEvent(js)
		}
	}
	if !stored {
		return engine.SearchTerms(ev, run)
	}
	return engine.SearchTermsStored(ev, steps)
}

// searchedEvent reads what search indexes of an event record (its
// headers, query and body) from its JSON text; nil when the record does
// not decode as an engine.Event would.
func searchedEvent(js []byte) *engine.Event {
	if !jsontext.Valid(js) { // see engine.StoredSteps
		return nil
	}
	f := engine.StoredFields(js, "headers", "query", "body")
	ev := &engine.Event{}
	var ok bool
	if ev.Headers, ok = storedStringMap(f[0]); !ok {
		return nil
	}
	if ev.Query, ok = storedStringMap(f[1]); !ok {
		return nil
	}
	switch f[2].Type {
	case gjson.Null:
	case gjson.String:
		body, err := base64.StdEncoding.DecodeString(f[2].Str)
		if err != nil {
			return nil
		}
		ev.Body = body
	default:
		return nil
	}
	return ev
}

// storedStringMap reads a JSON object of strings (absent or null is an
// empty map); ok is false for anything else.
func storedStringMap(v gjson.Result) (map[string]string, bool) {
	switch {
	case v.Type == gjson.Null:
		return nil, true
	case !v.IsObject():
		return nil, false
	}
	m := map[string]string{}
	ok := true
	v.ForEach(func(k, e gjson.Result) bool {
		if e.Type != gjson.String {
			ok = e.Type == gjson.Null // null leaves a map value empty
		}
		m[k.Str] = e.Str
		return ok
	})
	return m, ok
}

func mergeTerms(a, b []string) []string {
	seen := make(map[string]struct{}, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, list := range [][]string{a, b} {
		for _, t := range list {
			if _, ok := seen[t]; !ok && t != "" {
				seen[t] = struct{}{}
				out = append(out, t)
			}
		}
	}
	return out
}

// termSeqs gathers a batch's postings by term, to add or remove each
// term's at once.
type termSeqs map[string][]uint64

// note records that run key holds terms.
func (ts termSeqs) note(terms []string, key []byte) {
	seq := seqOf(key)
	for _, t := range terms {
		ts[t] = append(ts[t], seq)
	}
}

// apply calls do with each term's seqs, sorted and distinct, terms in
// order (the same writes whatever the map's order).
func (ts termSeqs) apply(b *bolt.Bucket, do func(*bolt.Bucket, string, []uint64) error) error {
	terms := make([]string, 0, len(ts))
	for t := range ts {
		terms = append(terms, t)
	}
	slices.Sort(terms)
	for _, t := range terms {
		seqs := ts[t]
		slices.Sort(seqs)
		if err := do(b, t, slices.Compact(seqs)); err != nil {
			return err
		}
	}
	return nil
}

// victimTerms derives the search terms of runs retention is about to
// delete, from the runs and their events, in a read-only transaction:
// the write that deletes them then spends no time decoding.
func (s *Store) victimTerms(victims []victim) error {
	return s.view(func(tx *bolt.Tx) error {
		terms := newTermReader(tx)
		for i := range victims {
			victims[i].terms = terms.of(victims[i].key)
		}
		return nil
	})
}

// forgetSearch deletes the postings of runs retention deletes, in its
// transaction: each run's terms are its document's when it kept one, else
// those victimTerms derived.
func forgetSearch(tx *bolt.Tx, victims []victim) error {
	forward, pending := tx.Bucket(bucketSearchDocs), tx.Bucket(bucketSearchPending)
	drop := termSeqs{}
	for _, v := range victims {
		terms := v.terms
		if doc := forward.Get(v.key); doc != nil {
			terms = strings.Split(string(doc), "\x00")
			if err := forward.Delete(v.key); err != nil {
				return err
			}
		}
		drop.note(terms, v.key)
		if err := pending.Delete(v.key); err != nil {
			return err
		}
	}
	return drop.apply(tx.Bucket(bucketSearch), removePostings)
}

// searchCatchUp indexes what is pending when that is little, so that a
// search finds runs stored a moment ago.
func (s *Store) searchCatchUp(ctx context.Context) error {
	few := false
	err := s.viewRuns(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSearchPending).Cursor()
		n := 0
		for k, _ := c.First(); k != nil && n <= searchCatchUp; k, _ = c.Next() {
			n++
		}
		few = n > 0 && n <= searchCatchUp
		return nil
	})
	if err != nil || !few {
		return err
	}
	for {
		n, more, err := s.indexPending(ctx, searchBatch)
		if err != nil || !more || n == 0 {
			return err
		}
	}
}

// SearchRuns implements engine.RunSearcher.
func (s *Store) SearchRuns(ctx context.Context, f engine.RunFilter) (engine.RunPage, error) {
	terms, err := engine.ParseSearch(f.Search)
	if err != nil {
		return engine.RunPage{}, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var start []byte
	if f.Cursor != "" {
		if start, err = parseID(runIDPrefix, f.Cursor); err != nil {
			return engine.RunPage{}, fmt.Errorf("store: search runs: cursor: %w", err)
		}
	}
	if err := s.searchCatchUp(ctx); err != nil {
		// What is indexed can still be searched; the indexer retries.
		s.logger.Debug("search index: catching up before a search failed", "err", err)
	}
	page := engine.RunPage{Runs: []engine.RunSummary{}}
	err = s.viewRuns(func(tx *bolt.Tx) error {
		postings := tx.Bucket(bucketSearch)
		drive := rarestTerm(postings, terms)
		others := make([]string, 0, len(terms)-1)
		for _, t := range terms {
			if t != drive {
				others = append(others, t)
			}
		}
		idx, byFlow := tx.Bucket(bucketRunIndex), tx.Bucket(bucketRunsByFlow)
		probes := make([]*postingProbe, len(others))
		for i, t := range others {
			probes[i] = newPostingProbe(postings, t)
		}
		walkPostingsDesc(postings, drive, seqOf(start), func(seq uint64) bool {
			for _, p := range probes {
				if !p.holds(seq) {
					return true
				}
			}
			key := seqKey(seq)
			if f.FlowID != "" && byFlow.Get(compositeKey(f.FlowID, key)) == nil {
				return true
			}
			v := idx.Get(key)
			return v == nil || addIndexed(&page, f, v, limit)
		})
		return nil
	})
	if err != nil {
		return engine.RunPage{}, fmt.Errorf("store: search runs: %w", err)
	}
	return page, nil
}

// rarestTerm picks the term with the fewest postings, counting at most
// searchProbe of each.
func rarestTerm(postings *bolt.Bucket, terms []string) string {
	best, bestN := terms[0], searchProbe+1
	for _, t := range terms {
		if n := countPostings(postings, t, searchProbe); n < bestN {
			best, bestN = t, n
		}
	}
	return best
}

var _ engine.RunSearcher = (*Store)(nil)

// newestBefore positions c on the newest key under prefix that sorts
// before prefix+start (start nil: the newest under prefix) and returns
// it; the caller checks the prefix and walks on with c.Prev().
func newestBefore(c *bolt.Cursor, prefix, start []byte) []byte {
	if start == nil {
		k, _ := lastUnder(c, prefix)
		return k
	}
	k, _ := c.Seek(append(bytes.Clone(prefix), start...))
	if k == nil {
		k, _ = lastOf(c)
	} else {
		k, _ = c.Prev()
	}
	return k
}

// addIndexed adds the run with index value v to the page when its status
// is f's, like addToPage; it reports whether the walk should go on.
func addIndexed(p *engine.RunPage, f engine.RunFilter, v []byte, limit int) bool {
	if _, status, ok := indexHeader(v); ok && f.Status != "" && status != 0 && status != runStatusCodes[f.Status] {
		return true
	}
	var sum engine.RunSummary
	if decodeIndex(v, &sum) != nil {
		return true // a damaged entry: skip rather than fail a listing
	}
	if f.Status != "" && sum.Status != f.Status {
		return true
	}
	return addToPage(p, f, sum, limit)
}
