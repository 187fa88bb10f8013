package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/boltstore"
	"github.com/switchyard/switchyard/engine/storetest"
)

// historyT is the answer of GET /api/history.
type historyT struct {
	Bytes      int64 `json:"bytes"`
	Runs       int   `json:"runs"`
	Unfinished int   `json:"unfinished"`
	Flows      []struct {
		FlowID     string  `json:"flow_id"`
		Runs       int     `json:"runs"`
		Unfinished int     `json:"unfinished"`
		Bytes      int64   `json:"bytes"`
		Share      float64 `json:"share"`
	} `json:"flows"`
	Space struct {
		FileBytes int64 `json:"file_bytes"`
		FreeBytes int64 `json:"free_bytes"`
	} `json:"space"`
}

func (h historyT) flow(id string) (runs, unfinished int) {
	for _, f := range h.Flows {
		if f.FlowID == id {
			return f.Runs, f.Unfinished
		}
	}
	return 0, 0
}

func getHistory(in *instance) historyT {
	var h historyT
	if err := json.Unmarshal(in.mustAPI(200, "GET", "/api/history", nil), &h); err != nil {
		in.t.Fatal(err)
	}
	return h
}

// TestRetentionAndCompaction100k fills a data dir with 100,000 runs, starts
// the real binary with an age limit (the default 30 days), a count limit
// per flow and a size limit, and checks that each limit held, that the
// oldest finished runs went first, that no unfinished run was touched (its
// record is the same byte for byte), and that the compaction at start-up
// (free space past --compact-free) shrank the file.
func TestRetentionAndCompaction100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100k runs: skipped in -short mode")
	}
	in := newInstance(t)
	s, err := boltstore.Open(in.data, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	now := time.Now().UTC()
	ancient := now.Add(-40 * 24 * time.Hour)
	// In creation order, as a server stores them: 20k past the age limit
	// (with 2.5k unfinished among them), then 60k of a busy flow (with
	// 2.5k unfinished), then 17.5k of a quiet one.
	storetest.FillRuns(t, s, "old", 20000, ancient, false, 600)
	waitingOld := storetest.FillRuns(t, s, "stuck", 2500, ancient.Add(time.Minute), true, 600)
	busyOld := storetest.FillRuns(t, s, "busy", 30000, now.Add(-3*time.Hour), false, 600)
	waitingNew := storetest.FillRuns(t, s, "busy", 2500, now.Add(-2*time.Hour), true, 600)
	busyNew := storetest.FillRuns(t, s, "busy", 27500, now.Add(-time.Hour), false, 600)
	quiet := storetest.FillRuns(t, s, "quiet", 17500, now.Add(-time.Minute), false, 600)
	unfinished := map[string][]byte{}
	for _, id := range append(append([]string{}, waitingOld...), waitingNew...) {
		r, err := s.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		unfinished[id], _ = json.Marshal(r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(in.data, boltstore.DBFileName)
	fi, _ := os.Stat(dbPath)
	sizeBefore := fi.Size()
	t.Logf("filled 100,000 runs in %s: %d bytes", time.Since(began).Round(time.Millisecond), sizeBefore)

	// Count: busy keeps 20,000 runs (its 2,500 unfinished among them);
	// size: the budget leaves room for about 25,000 runs of this size,
	// so the oldest of busy's go first, and quiet's too.
	perRun := sizeBefore / 100000
	budget := 25000 * perRun
	in.extra = []string{"--retention-runs", "20000", "--retention-size", fmt.Sprint(budget), "--compact-free", "8MiB"}
	in.start()
	var h historyT
	waitUntil(t, 120*time.Second, "retention and compaction at start-up", func() bool {
		h = getHistory(in)
		// The log line comes just after the file is swapped.
		return h.Bytes <= budget && h.Space.FileBytes < sizeBefore/2 && strings.Contains(in.logs.String(), "database compacted")
	})
	t.Logf("after retention and compaction: %d runs, %d bytes of history (budget %d), file %d bytes (was %d), %d free",
		h.Runs, h.Bytes, budget, h.Space.FileBytes, sizeBefore, h.Space.FreeBytes)
	if !strings.Contains(in.logs.String(), "database compacted") {
		t.Errorf("no compaction in the log:\n%.3000s", in.logs.String())
	}
	// Age: every finished run of "old" went; the unfinished as old stayed.
	if runs, _ := h.flow("old"); runs != 0 {
		t.Errorf("flow old keeps %d runs past the age limit", runs)
	}
	if runs, unf := h.flow("stuck"); runs != 2500 || unf != 2500 {
		t.Errorf("flow stuck: %d runs, %d unfinished; want its 2500 unfinished runs", runs, unf)
	}
	// Count: busy is at most 20,000.
	if runs, unf := h.flow("busy"); runs > 20000 || unf != 2500 {
		t.Errorf("flow busy: %d runs (%d unfinished); want at most 20000, the 2500 unfinished kept", runs, unf)
	}
	if h.Unfinished != 5000 {
		t.Errorf("%d unfinished runs, want 5000", h.Unfinished)
	}
	// Oldest first: of busy's finished runs, the older ones all went
	// before any newer one did.
	have := map[string]bool{}
	for _, r := range in.allRuns("&flow=busy&status=succeeded") {
		have[r.ID] = true
	}
	for _, id := range busyOld {
		if have[id] {
			t.Fatalf("run %s (of the older busy runs) kept while newer ones went", id)
		}
	}
	kept := 0
	for _, id := range busyNew {
		if have[id] {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("busy kept none of its newer runs")
	}
	quietRuns, _ := h.flow("quiet")
	if quietRuns == 0 || quietRuns > len(quiet) {
		t.Errorf("flow quiet keeps %d runs", quietRuns)
	}
	// Nothing unfinished was touched: each reads as before, byte for byte.
	for id, before := range unfinished {
		var r engine.Run
		_, data := in.api("GET", "/api/runs/"+id, nil)
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("run %s: %s", id, data)
		}
		var was engine.Run
		json.Unmarshal(before, &was)
		if r.Status != engine.RunWaiting || !reflect.DeepEqual(r.Steps, was.Steps) || !r.CreatedAt.Equal(was.CreatedAt) {
			t.Fatalf("unfinished run %s changed: %s\nwas %s", id, data, before)
		}
	}
	// The compacted file is the database after a restart too.
	in.stop()
	in.start()
	if h2 := getHistory(in); h2.Runs != h.Runs || h2.Unfinished != 5000 {
		t.Errorf("after a restart: %d runs (%d unfinished), want %d (5000)", h2.Runs, h2.Unfinished, h.Runs)
	}
}

// TestCompactionUnderWebhookLoad compacts a running server's database
// (POST /api/compact) while 16 clients post webhooks: every webhook
// acknowledged before, during and after it has its run, the file shrank,
// and the longest stretch without an acknowledgement during the
// compaction is logged (docs/operations.md, "Compaction").
func TestCompactionUnderWebhookLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	in := newInstance(t)
	s, err := boltstore.Open(in.data, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// History past the age limit, which the retention at start-up
	// deletes (the file keeps its size until compacted), then as much
	// history that stays: the copy has that much to write.
	storetest.FillRuns(t, s, "old", 20000, time.Now().Add(-40*24*time.Hour).UTC(), false, 2000)
	live := storetest.FillRuns(t, s, "live", 20000, time.Now().UTC(), false, 2000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	in.extra = []string{"--compact-free", "0"}
	in.start()
	waitUntil(t, 60*time.Second, "retention at start-up", func() bool { return getHistory(in).Runs == len(live) })
	before := getHistory(in).Space
	in.mustAPI(201, "POST", "/api/flows", loadFlow)
	l := startLoad(t, in, 16)
	time.Sleep(500 * time.Millisecond)
	began := time.Now()
	var rep struct {
		BeforeBytes int64   `json:"before_bytes"`
		AfterBytes  int64   `json:"after_bytes"`
		TookMS      float64 `json:"took_ms"`
	}
	if err := json.Unmarshal(in.mustAPI(200, "POST", "/api/compact", nil), &rep); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	time.Sleep(500 * time.Millisecond)
	acks := l.end()
	took := ended.Sub(began)
	t.Logf("compaction %d → %d bytes took %.1f ms in the store, %s for the call; acknowledgements in the %s before it: %s; during it: %s",
		rep.BeforeBytes, rep.AfterBytes, rep.TookMS, took.Round(time.Millisecond), took.Round(time.Millisecond),
		latencies(acks, began.Add(-took), began), latencies(acks, began, ended))
	if rep.AfterBytes >= before.FileBytes*3/4 {
		t.Errorf("the file did not shrink: %+v (space before %+v)", rep, before)
	}
	var during int
	for _, a := range acks {
		if a.got.After(began) && a.sent.Before(ended) {
			during++
		}
	}
	if during == 0 {
		t.Errorf("no webhook was acknowledged while the compaction ran (%s)", took)
	}
	// Every acknowledged webhook has its run, also after a restart.
	want := make([]string, 0, len(acks))
	for _, a := range acks {
		want = append(want, a.run)
	}
	in.waitIdle(60 * time.Second)
	check := func(when string) {
		have := map[string]bool{}
		for _, r := range in.allRuns("&flow=bk") {
			have[r.ID] = true
		}
		missing := 0
		for _, id := range want {
			if !have[id] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d acknowledged runs missing", when, missing, len(want))
		}
	}
	check("after the compaction")
	in.kill()
	in.start()
	check("after kill -9 and a restart")
}
