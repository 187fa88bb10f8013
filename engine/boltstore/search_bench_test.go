package boltstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// BenchmarkSearchRuns measures GET /api/runs?q= at the store: a search for
// a value one run holds (an email, as words and as an exact field), with a
// flow filter, and the first page of a word every run holds, over a
// history of SWITCHYARD_BENCH_SEARCH_RUNS runs (default 100000; each a
// chatbot lead with headers and a step output; "100000 1000000" measures
// both, the larger for about half an hour, past go test's default
// timeout, so it is asked for by name: docs/benchmarks.md). p50 and p99 are
// over the b.N searches, each for another run's value. Loading the
// history writes bbolt directly and indexes it at full speed (not the
// background indexer's quarter of the time); it is not measured.
func BenchmarkSearchRuns(b *testing.B) {
	sizes := strings.Fields(os.Getenv("SWITCHYARD_BENCH_SEARCH_RUNS"))
	if len(sizes) == 0 {
		sizes = []string{"100000"}
	}
	for _, sz := range sizes {
		n, err := strconv.Atoi(sz)
		if err != nil || n <= 0 {
			b.Fatalf("SWITCHYARD_BENCH_SEARCH_RUNS: %q", sz)
		}
		s, took := searchHistory(b, n)
		b.Logf("%d runs loaded and indexed in %s; data file %s", n, took.Round(time.Second), fileSize(s))
		for _, q := range []struct {
			name string
			f    func(i int) engine.RunFilter
		}{
			{"rare-word", func(i int) engine.RunFilter { return engine.RunFilter{Search: fmt.Sprintf("lead%d@example.com", i)} }},
			{"rare-field", func(i int) engine.RunFilter {
				return engine.RunFilter{Search: fmt.Sprintf("trigger.body.email:lead%d@example.com", i)}
			}},
			{"rare-word+flow", func(i int) engine.RunFilter {
				return engine.RunFilter{Search: fmt.Sprintf("deal-%d", i), FlowID: fmt.Sprintf("flow%d", i%4)}
			}},
			{"common-word-first-page", func(int) engine.RunFilter { return engine.RunFilter{Search: "chatbot"} }},
		} {
			b.Run(fmt.Sprintf("runs=%d/%s", n, q.name), func(b *testing.B) {
				ctx := context.Background()
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k := rand.IntN(n)
					t0 := time.Now()
					page, err := s.SearchRuns(ctx, q.f(k))
					lat = append(lat, time.Since(t0))
					if err != nil || len(page.Runs) == 0 {
						b.Fatalf("search %d: %d runs, %v", k, len(page.Runs), err)
					}
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
			})
		}
		s.Close()
	}
}

func fileSize(s *Store) string {
	var sz int64
	s.view(func(tx *bolt.Tx) error { sz = tx.Size(); return nil })
	return fmt.Sprintf("%.0f MiB", float64(sz)/(1<<20))
}

// searchHistory writes n lead runs straight into a new store's buckets and
// indexes them.
func searchHistory(b *testing.B, n int) (*Store, time.Duration) {
	b.Helper()
	start := time.Now()
	s, err := Open(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	s.stopIndexer() // indexed below at full speed
	ctx := context.Background()
	t0 := time.Now().Add(-time.Duration(n) * time.Second).UTC()
	const chunk = 5000
	for lo := 0; lo < n; lo += chunk {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := lo; i < min(lo+chunk, n); i++ {
				seq := s.seq.Add(1)
				key := seqKey(seq)
				at := t0.Add(time.Duration(i) * time.Second)
				ev := &engine.Event{ID: formatID(eventIDPrefix, seq), FlowID: fmt.Sprintf("flow%d", i%4), Source: "webhook", Method: "POST",
					Path: "/hooks/leads", ContentType: "application/json", ReceivedAt: at,
					Headers: map[string]string{"content-type": "application/json", "user-agent": "chatbot/2.1", "x-request-id": fmt.Sprintf("req-%d", i)},
					Body:    fmt.Appendf(nil, `{"email":"lead%d@example.com","name":"Lead %d","source":"chatbot","plan":"%s","score":%d}`, i, i, []string{"free", "pro"}[i%2], i%100)}
				fin := at.Add(time.Second)
				r := &engine.Run{ID: formatID(runIDPrefix, seq), FlowID: ev.FlowID, FlowVersion: 1, EventID: ev.ID, Status: engine.RunSucceeded,
					CreatedAt: at, FinishedAt: &fin, Steps: []engine.StepResult{{ID: "crm", Use: "http.request", Status: engine.StepSucceeded,
						Output: map[string]any{"status": 201.0, "body": map[string]any{"deal": fmt.Sprintf("deal-%d", i)}}, StartedAt: at, FinishedAt: &fin}}}
				record, err := appendRunJSON(nil, r)
				if err != nil {
					return err
				}
				sum := r.Summary()
				idx, _ := encodeIndex(&sum)
				if err := putIndexed(tx, key, r.FlowID, idx, time.Time{}, packRecord(nil, record)); err != nil {
					return err
				}
				if err := appendBucket(tx, bucketEvents).Put(key, packRecord(nil, appendEventJSON(nil, ev))); err != nil {
					return err
				}
				if err := noteSearch(tx, key, idx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for {
		k, _, err := s.indexPending(ctx, 2000)
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	return s, time.Since(start)
}

// BenchmarkTermsOf measures what the background indexer spends on one
// finished run of the bench flow (make bench's W0: a two-field webhook and
// one data.set step): reading the run and its event back and deriving
// their search terms.
func BenchmarkTermsOf(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const runs = 1000
	keys := make([][]byte, 0, runs)
	for i := range runs {
		ev := newEvent("bench", fmt.Sprintf(`{"id":"o-%d","total":42}`, i))
		ev.Headers = map[string]string{"Host": "127.0.0.1:8080", "Content-Type": "application/json", "Content-Length": "25"}
		r := newRun("bench")
		if _, err := s.Accept(ctx, ev, r, 0); err != nil {
			b.Fatal(err)
		}
		r.Status = engine.RunSucceeded
		r.Steps = []engine.StepResult{{ID: "shape", Status: engine.StepSucceeded, Attempts: 1,
			Input:  map[string]any{"order": fmt.Sprintf("o-%d", i), "total": "42"},
			Output: map[string]any{"order": fmt.Sprintf("o-%d", i), "total": 42.0}}}
		if err := s.SaveRun(ctx, r); err != nil {
			b.Fatal(err)
		}
		key, err := parseID(runIDPrefix, r.ID)
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, key)
	}
	waitIndexed(b, s, time.Minute) // every record applied
	b.ReportAllocs()
	b.ResetTimer()
	err = s.view(func(tx *bolt.Tx) error {
		terms := newTermReader(tx)
		for i := range b.N {
			if len(terms.of(keys[i%runs])) == 0 {
				b.Fatal("no terms")
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
