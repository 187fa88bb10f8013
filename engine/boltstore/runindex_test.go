package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchyard/switchyard/engine"
)

// TestRunIndexHeader checks that listings filtered by status, time and
// flow agree whether the index value carries the status and creation time
// in its header or, as values written before that header do, only in JSON.
func TestRunIndexHeader(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour)
	var ids []string
	for i := range 40 {
		flow := []string{"a", "b"}[i%2]
		r := newRun(flow)
		r.CreatedAt = base.Add(time.Duration(i) * time.Minute)
		res, err := s.Accept(ctx, newEvent(flow, `{}`), r, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.RunID)
		if i%5 == 0 {
			r.Status, r.Error = engine.RunFailed, "boom"
			fin := r.CreatedAt.Add(time.Second)
			r.FinishedAt = &fin
			if err := s.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Rewrite every third entry in the old layout: flag, due, JSON.
	s.caughtUp() // the runs above are logged; rewrite them once bbolt has them
	err := s.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRunIndex)
		for i, id := range ids {
			if i%3 != 0 {
				continue
			}
			key := mustKey(runIDPrefix, id)
			var sum engine.RunSummary
			if err := decodeIndex(idx.Get(key), &sum); err != nil {
				return err
			}
			js, _ := json.Marshal(&sum)
			v := make([]byte, indexHeaderV1Len)
			if sum.Status.Final() {
				v[0] = 1
			}
			if sum.DueAt != nil {
				binary.BigEndian.PutUint64(v[1:9], uint64(sum.DueAt.UnixNano()))
			}
			if err := idx.Put(key, append(v, js...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    engine.RunFilter
		want int
	}{
		{"all", engine.RunFilter{Limit: 500}, 40},
		{"failed", engine.RunFilter{Status: engine.RunFailed, Limit: 500}, 8},
		{"queued", engine.RunFilter{Status: engine.RunQueued, Limit: 500}, 32},
		{"flow a failed", engine.RunFilter{FlowID: "a", Status: engine.RunFailed, Limit: 500}, 4},
		{"flow b queued", engine.RunFilter{FlowID: "b", Status: engine.RunQueued, Limit: 500}, 16},
		{"since", engine.RunFilter{Since: base.Add(30 * time.Minute), Limit: 500}, 10},
		{"until", engine.RunFilter{Until: base.Add(10 * time.Minute), Limit: 500}, 10},
		{"since failed", engine.RunFilter{Since: base.Add(20 * time.Minute), Status: engine.RunFailed, Limit: 500}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListRuns(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Runs) != tc.want {
				t.Fatalf("got %d runs, want %d", len(page.Runs), tc.want)
			}
			for _, r := range page.Runs {
				if tc.f.Status != "" && r.Status != tc.f.Status {
					t.Errorf("run %s has status %s", r.ID, r.Status)
				}
				if tc.f.FlowID != "" && r.FlowID != tc.f.FlowID {
					t.Errorf("run %s of flow %s", r.ID, r.FlowID)
				}
			}
		})
	}
	// Paging a rare status by cursor visits every match once.
	seen, cursor := 0, ""
	for {
		page, err := s.ListRuns(ctx, engine.RunFilter{Status: engine.RunFailed, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Runs)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if seen != 8 {
		t.Fatalf("paged %d failed runs, want 8", seen)
	}
	// A final run stays final under either layout.
	r, err := s.Run(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(ctx, r); err == nil {
		t.Fatal("a final run in the old layout was rewritten")
	}
}

func TestCountRuns(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for i := range 30 {
		r := newRun("f")
		// 10 old runs, then 20 within the last day.
		if i < 10 {
			r.CreatedAt = now.Add(-48 * time.Hour)
		} else {
			r.CreatedAt = now.Add(-time.Duration(30-i) * time.Minute)
		}
		if _, err := s.Accept(ctx, newEvent("f", fmt.Sprint(i)), r, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Accept(ctx, newEvent("g", fmt.Sprint(i)), newRun("g"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	since := now.Add(-24 * time.Hour)
	for _, tc := range []struct {
		flow string
		max  int
		want int
	}{{"f", 1000, 20}, {"f", 5, 5}, {"g", 1000, 30}, {"none", 1000, 0}} {
		n, err := s.CountRuns(ctx, tc.flow, since, tc.max)
		if err != nil || n != tc.want {
			t.Errorf("CountRuns(%s, max %d) = %d, %v; want %d", tc.flow, tc.max, n, err, tc.want)
		}
	}
}

// TestListRunsSparseFlow lists a flow whose runs lie far apart in the run
// index, so the index walker has to seek rather than step.
func TestListRunsSparseFlow(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	for i := range 3 * (indexWalkSteps + 10) {
		flow := "busy"
		if i%(indexWalkSteps+10) == 0 {
			flow = "rare"
		}
		if _, err := s.Accept(ctx, newEvent(flow, `{}`), newRun(flow), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListRuns(ctx, engine.RunFilter{FlowID: "rare", Limit: 500})
	if err != nil || len(page.Runs) != 3 {
		t.Fatalf("rare flow: %d runs, %v", len(page.Runs), err)
	}
	for _, r := range page.Runs {
		if r.FlowID != "rare" {
			t.Fatalf("run %s of flow %s", r.ID, r.FlowID)
		}
	}
	if n, err := s.CountRuns(ctx, "rare", time.Time{}, 1000); n != 3 || err != nil {
		t.Fatalf("count rare: %d %v", n, err)
	}
	if n, err := s.CountRuns(ctx, "busy", time.Time{}, 1000); n != 3*(indexWalkSteps+9) || err != nil {
		t.Fatalf("count busy: %d %v", n, err)
	}
}
