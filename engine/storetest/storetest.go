// Package storetest is the conformance suite every engine store passes:
// an acknowledged write survives closing and reopening the store, dedupe
// holds within its window, run listings page with cursors newest first,
// retention removes only final runs, a final run is never rewritten, poll
// seen sets start each item once, ticks fire once, refusals keep the
// newest, and, for a store that keeps them, flow versions, unresolved
// failures, auth's records and the data store (kv.go). A store package runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Opener {
//			dir := t.TempDir()
//			return func() (engine.Store, error) { return boltstore.Open(dir, time.Second) }
//		})
//	}
//
// Checks of optional interfaces (engine.VersionStore,
// engine.ResolutionStore, auth.Store) skip when
// the store does not implement them.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// Opener opens a store over one place (a directory, a database). Called
// again after the store it returned was closed, it opens the same data.
type Opener func() (engine.Store, error)

// Fresh makes a new, empty place for one test and returns its Opener.
type Fresh func(t *testing.T) Opener

// Run runs the whole suite, each check on a fresh place.
func Run(t *testing.T, fresh Fresh) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Durability", testDurability},
		{"ConcurrentAccept", testConcurrentAccept},
		{"Dedupe", testDedupe},
		{"Cursors", testCursors},
		{"Retention", testRetention},
		{"FinalRuns", testFinalRuns},
		{"FlowVersions", testFlowVersions},
		{"ConnectionsReseal", testConnectionsReseal},
		{"Ticks", testTicks},
		{"SeenSets", testSeenSets},
		{"Refusals", testRefusals},
		{"Audit", testAudit},
		{"Auth", testAuth},
		{"Resolutions", testResolutions},
		{"VersionMeta", testVersionMeta},
		{"KVValues", testKVValues},
		{"KVTTL", testKVTTL},
		{"KVIncrement", testKVIncrement},
		{"KVLimits", testKVLimits},
		{"Search", testSearch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{t: t, open: fresh(t)}
			h.s = h.mustOpen()
			t.Cleanup(func() {
				if h.s != nil {
					h.s.Close()
				}
			})
			tc.fn(t, h)
		})
	}
}

// harness holds the store under test and reopens it.
type harness struct {
	t    *testing.T
	open Opener
	s    engine.Store
}

func (h *harness) mustOpen() engine.Store {
	h.t.Helper()
	s, err := h.open()
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	return s
}

// reopen closes the store and opens the same data again.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.s.Close(); err != nil {
		h.t.Fatalf("close store: %v", err)
	}
	h.s = nil
	h.s = h.mustOpen()
}

var ctx = context.Background()

func event(flow, body string) *engine.Event {
	return &engine.Event{FlowID: flow, Source: "webhook", Method: "POST", ContentType: "application/json",
		Headers: map[string]string{"X-Test": "1"}, Body: []byte(body), ReceivedAt: time.Now().UTC()}
}

func run(flow string, version int64) *engine.Run {
	return &engine.Run{FlowID: flow, FlowVersion: version, Status: engine.RunQueued, CreatedAt: time.Now().UTC()}
}

// accept stores one webhook event and its run.
func (h *harness) accept(flow string) *engine.Run {
	h.t.Helper()
	r := run(flow, 1)
	if _, err := h.s.Accept(ctx, event(flow, `{"n":1}`), r, time.Hour); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) putFlow(id string) engine.FlowRecord {
	h.t.Helper()
	rec, err := h.s.PutFlow(ctx, id, []byte(fmt.Sprintf(`{"id":%q}`, id)))
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// Every kind of acknowledged write is there after the store is closed and
// opened again, and ids given after reopening still sort after the old.
func testDurability(t *testing.T, h *harness) {
	flow := h.putFlow("f")
	ev := event("f", `{"order":42}`)
	ev.DedupeKey = "d-1"
	queued := run("f", flow.Version)
	if _, err := h.s.Accept(ctx, ev, queued, time.Hour); err != nil {
		t.Fatal(err)
	}
	waiting := h.accept("f")
	due := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	waiting.Status, waiting.DueAt = engine.RunWaiting, &due
	waiting.Steps = []engine.StepResult{{ID: "s1", Status: engine.StepSucceeded, Output: map[string]any{"ok": true}}}
	if err := h.s.SaveRun(ctx, waiting); err != nil {
		t.Fatal(err)
	}
	done := h.accept("f")
	done.Status = engine.RunSucceeded
	if err := h.s.SaveRun(ctx, done); err != nil {
		t.Fatal(err)
	}
	retry := &engine.Run{FlowID: "f", FlowVersion: 1, EventID: done.EventID, Status: engine.RunQueued, CreatedAt: time.Now().UTC(), RetryOf: done.ID}
	if err := h.s.AddRun(ctx, retry); err != nil {
		t.Fatal(err)
	}
	rate := &flows.RateLimit{Requests: 10, Per: flows.Duration(time.Second)}
	if err := h.s.PutConnection(ctx, engine.ConnectionRecord{Name: "c", Type: "slack", Sealed: []byte("sealed"), Rate: rate}); err != nil {
		t.Fatal(err)
	}
	if err := h.s.PutMeta(ctx, "m", []byte("v")); err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	if _, err := h.s.AcceptTick(ctx, event("f", `{}`), run("f", 1), tick); err != nil {
		t.Fatal(err)
	}
	if err := h.s.PutPollState(ctx, "f", engine.PollState{FlowVersion: 1, Seeded: true, LastItems: 3}); err != nil {
		t.Fatal(err)
	}
	if err := h.s.AddRefusals(ctx, []engine.Refusal{{At: time.Now().UTC(), FlowID: "f", Remote: "192.0.2.1", Reason: "bad signature", Status: 401}}, engine.RefusalBounds{PerFlow: 10, Total: 10}); err != nil {
		t.Fatal(err)
	}

	h.reopen()

	got, err := h.s.Run(ctx, waiting.ID)
	if err != nil || got.Status != engine.RunWaiting || got.DueAt == nil || !got.DueAt.Equal(due) || len(got.Steps) != 1 || got.Steps[0].ID != "s1" {
		t.Fatalf("checkpointed run after reopen: %+v %v", got, err)
	}
	gotEv, err := h.s.Event(ctx, queued.EventID)
	if err != nil || string(gotEv.Body) != `{"order":42}` || gotEv.Headers["X-Test"] != "1" || gotEv.DedupeKey != "d-1" {
		t.Fatalf("event after reopen: %+v %v", gotEv, err)
	}
	if r, err := h.s.Run(ctx, done.ID); err != nil || r.Status != engine.RunSucceeded {
		t.Fatalf("final run after reopen: %+v %v", r, err)
	}
	if r, err := h.s.Run(ctx, retry.ID); err != nil || r.RetryOf != done.ID {
		t.Fatalf("added run after reopen: %+v %v", r, err)
	}
	pend, err := h.s.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pendIDs := map[string]bool{}
	for _, p := range pend {
		pendIDs[p.RunID] = true
	}
	if !pendIDs[queued.ID] || !pendIDs[waiting.ID] || !pendIDs[retry.ID] || pendIDs[done.ID] {
		t.Fatalf("pending after reopen: %+v", pend)
	}
	if res, err := h.s.Accept(ctx, ev, run("f", 1), time.Hour); err != nil || !res.Duplicate || res.RunID != queued.ID {
		t.Fatalf("dedupe key forgotten on reopen: %+v %v", res, err)
	}
	if f, err := h.s.Flow(ctx, "f"); err != nil || f.Version != flow.Version {
		t.Fatalf("flow after reopen: %+v %v", f, err)
	}
	if c, err := h.s.Connection(ctx, "c"); err != nil || string(c.Sealed) != "sealed" || c.Rate == nil || *c.Rate != (flows.RateLimit{Requests: 10, Per: flows.Duration(time.Second)}) {
		t.Fatalf("connection after reopen: %+v %v", c, err)
	}
	if v, err := h.s.Meta(ctx, "m"); err != nil || string(v) != "v" {
		t.Fatalf("meta after reopen: %q %v", v, err)
	}
	if last, err := h.s.LastTick(ctx, "f"); err != nil || !last.Equal(tick) {
		t.Fatalf("last tick after reopen: %v %v", last, err)
	}
	if st, err := h.s.PollStateOf(ctx, "f"); err != nil || !st.Seeded || st.LastItems != 3 {
		t.Fatalf("poll state after reopen: %+v %v", st, err)
	}
	if rs, err := h.s.ListRefusals(ctx, engine.RefusalFilter{FlowID: "f", Limit: 10}); err != nil || len(rs.Refusals) != 1 || rs.Refusals[0].Reason != "bad signature" {
		t.Fatalf("refusals after reopen: %+v %v", rs, err)
	}
	// Ids given after reopening sort after the old ones: listings are
	// newest first by id.
	later := h.accept("f")
	page, err := h.s.ListRuns(ctx, engine.RunFilter{Limit: 1})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != later.ID {
		t.Fatalf("newest run after reopen: %+v %v, want %s", page.Runs, err, later.ID)
	}
}

// Runs accepted at once get distinct ids and all of them are queued.
func testConcurrentAccept(t *testing.T, h *harness) {
	const n = 200
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := h.s.Accept(ctx, event("f", fmt.Sprintf(`{"i":%d}`, i)), run("f", 1), time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- res.RunID
		}(i)
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("run id %s given twice", id)
		}
		seen[id] = true
	}
	if pend, err := h.s.Pending(ctx); err != nil || len(pend) != n {
		t.Fatalf("pending %d (%v), want %d", len(pend), err, n)
	}
}

// A delivery id seen within the window makes no second run; another flow
// may use the same id; after the window, or once purged, it is new again.
func testDedupe(t *testing.T, h *harness) {
	dup := func(flow string, at time.Time) engine.AcceptResult {
		t.Helper()
		ev := event(flow, `{}`)
		ev.DedupeKey, ev.ReceivedAt = "delivery-1", at
		res, err := h.s.Accept(ctx, ev, run(flow, 1), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	now := time.Now().UTC()
	first := dup("f", now)
	if first.Duplicate {
		t.Fatal("first delivery is a duplicate")
	}
	if second := dup("f", now.Add(time.Minute)); !second.Duplicate || second.RunID != first.RunID {
		t.Fatalf("second delivery: %+v", second)
	}
	if other := dup("g", now); other.Duplicate {
		t.Fatal("dedupe leaked across flows")
	}
	if late := dup("f", now.Add(2*time.Hour)); late.Duplicate {
		t.Fatal("dedupe outlived its window")
	}
	page, _ := h.s.ListRuns(ctx, engine.RunFilter{FlowID: "f"})
	if len(page.Runs) != 2 {
		t.Fatalf("%d runs for f, want 2", len(page.Runs))
	}
	if _, err := h.s.PurgeDedupe(ctx, now.Add(10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again := dup("f", now.Add(3*time.Hour)); again.Duplicate {
		t.Fatal("a purged dedupe key still matched")
	}
}

// Pages follow each other through cursors newest first, with no run lost
// or repeated, under every filter.
func testCursors(t *testing.T, h *harness) {
	start := time.Now().UTC()
	var all []*engine.Run
	for i := 0; i < 25; i++ {
		flow := "a"
		if i%2 == 1 {
			flow = "b"
		}
		r := run(flow, 1)
		r.CreatedAt = start.Add(time.Duration(i) * time.Second)
		if _, err := h.s.Accept(ctx, event(flow, `{}`), r, time.Hour); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			r.Status = engine.RunFailed
			if err := h.s.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, r)
	}
	tests := []struct {
		name string
		f    engine.RunFilter
		want int
	}{
		{"all", engine.RunFilter{}, 25},
		{"flow a", engine.RunFilter{FlowID: "a"}, 13},
		{"flow b", engine.RunFilter{FlowID: "b"}, 12},
		{"failed", engine.RunFilter{Status: engine.RunFailed}, 5},
		{"failed in b", engine.RunFilter{FlowID: "b", Status: engine.RunFailed}, 2},
		{"since", engine.RunFilter{Since: start.Add(20 * time.Second)}, 5},
		{"until", engine.RunFilter{Until: start.Add(4500 * time.Millisecond)}, 5},
		{"unknown flow", engine.RunFilter{FlowID: "zz"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.Limit = 4
			var got []engine.RunSummary
			for pages := 0; ; pages++ {
				page, err := h.s.ListRuns(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Runs) > 4 {
					t.Fatalf("page of %d, limit 4", len(page.Runs))
				}
				got = append(got, page.Runs...)
				if page.NextCursor == "" {
					break
				}
				if pages > 20 {
					t.Fatal("pagination does not end")
				}
				f.Cursor = page.NextCursor
			}
			if len(got) != tc.want {
				t.Fatalf("%d runs, want %d", len(got), tc.want)
			}
			seen := map[string]bool{}
			for i, r := range got {
				if seen[r.ID] {
					t.Fatalf("run %s listed twice", r.ID)
				}
				seen[r.ID] = true
				if i > 0 && got[i-1].CreatedAt.Before(r.CreatedAt) {
					t.Fatalf("not newest first: %s then %s", got[i-1].ID, r.ID)
				}
			}
		})
	}
}

// Retention deletes final runs created before the cutoff, and their
// events, at most limit at a time; unfinished and recent runs stay.
func testRetention(t *testing.T, h *harness) {
	old := time.Now().Add(-48 * time.Hour).UTC()
	var olds []*engine.Run
	for i := 0; i < 3; i++ {
		r := run("f", 1)
		r.CreatedAt = old
		if _, err := h.s.Accept(ctx, event("f", `{}`), r, time.Hour); err != nil {
			t.Fatal(err)
		}
		r.Status = engine.RunSucceeded
		if err := h.s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		olds = append(olds, r)
	}
	pending := run("f", 1)
	pending.CreatedAt = old
	if _, err := h.s.Accept(ctx, event("f", `{}`), pending, time.Hour); err != nil {
		t.Fatal(err)
	}
	fresh := h.accept("f")
	fresh.Status = engine.RunFailed
	if err := h.s.SaveRun(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Now().Add(-24 * time.Hour)
	if n, err := h.s.DeleteRunsBefore(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("first chunk deleted %d (%v), want 2 (the limit)", n, err)
	}
	if n, err := h.s.DeleteRunsBefore(ctx, cutoff, 2); err != nil || n != 1 {
		t.Fatalf("second chunk deleted %d (%v), want 1", n, err)
	}
	for _, r := range olds {
		if _, err := h.s.Run(ctx, r.ID); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("old run %s still there: %v", r.ID, err)
		}
		if _, err := h.s.Event(ctx, r.EventID); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("old event %s still there: %v", r.EventID, err)
		}
	}
	for _, r := range []*engine.Run{pending, fresh} {
		if _, err := h.s.Run(ctx, r.ID); err != nil {
			t.Errorf("run %s deleted: %v", r.ID, err)
		}
	}
	if page, _ := h.s.ListRuns(ctx, engine.RunFilter{}); len(page.Runs) != 2 {
		t.Fatalf("%d runs listed after retention, want 2", len(page.Runs))
	}
}

// A run that is not final stays queued at its due time; a final run
// leaves the queue and is never rewritten.
func testFinalRuns(t *testing.T, h *harness) {
	r := h.accept("f")
	due := time.Now().Add(time.Minute).UTC()
	r.Status, r.DueAt = engine.RunWaiting, &due
	if err := h.s.SaveRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if pend, _ := h.s.Pending(ctx); len(pend) != 1 || !pend[0].Due.Equal(due) {
		t.Fatalf("queue entry %+v, want due %v", pend, due)
	}
	r.Status, r.DueAt = engine.RunSucceeded, nil
	if err := h.s.SaveRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if pend, _ := h.s.Pending(ctx); len(pend) != 0 {
		t.Fatalf("final run still queued: %+v", pend)
	}
	r.Status, r.Error = engine.RunFailed, "rewrite"
	if err := h.s.SaveRun(ctx, r); !errors.Is(err, engine.ErrRunFinal) {
		t.Fatalf("rewrite of a final run: %v", err)
	}
	h.reopen()
	if got, err := h.s.Run(ctx, r.ID); err != nil || got.Status != engine.RunSucceeded || got.Error != "" {
		t.Fatalf("final run changed: %+v %v", got, err)
	}
	if _, err := h.s.Run(ctx, "r_nosuchrun"); err == nil {
		t.Fatal("a run that does not exist was found")
	}
}

// Every version of a flow is kept; a flow deleted and saved again goes on
// counting versions.
func testFlowVersions(t *testing.T, h *harness) {
	r1, _ := h.s.PutFlow(ctx, "f", []byte(`{"v":1}`))
	r2, _ := h.s.PutFlow(ctx, "f", []byte(`{"v":2}`))
	if r1.Version != 1 || r2.Version != 2 {
		t.Fatalf("versions %d %d", r1.Version, r2.Version)
	}
	h.putFlow("g")
	if all, err := h.s.Flows(ctx); err != nil || len(all) != 2 {
		t.Fatalf("flows %+v %v", all, err)
	}
	if err := h.s.DeleteFlow(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Flow(ctx, "f"); err == nil {
		t.Fatal("deleted flow still found")
	}
	r3, _ := h.s.PutFlow(ctx, "f", []byte(`{"v":3}`))
	if r3.Version != 3 {
		t.Fatalf("re-created flow got version %d, want 3", r3.Version)
	}
	if v1, err := h.s.FlowVersion(ctx, "f", 1); err != nil || string(v1.Flow) != `{"v":1}` {
		t.Fatalf("version 1: %s %v", v1.Flow, err)
	}
	if cur, err := h.s.Flow(ctx, "f"); err != nil || cur.Version != 3 || string(cur.Flow) != `{"v":3}` {
		t.Fatalf("current: %+v %v", cur, err)
	}
}

// Reseal rewrites every sealed value in one transaction; when it fails
// for one, nothing changes.
func testConnectionsReseal(t *testing.T, h *harness) {
	for _, n := range []string{"a", "b"} {
		if err := h.s.PutConnection(ctx, engine.ConnectionRecord{Name: n, Type: "http", Sealed: []byte("old-" + n)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.s.PutMeta(ctx, "check", []byte("old-check")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := h.s.Reseal(ctx, "check", func(sealed, ad []byte) ([]byte, error) {
		if string(ad) == "b" {
			return nil, boom
		}
		return []byte("new-" + string(ad)), nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed reseal: %v", err)
	}
	if c, _ := h.s.Connection(ctx, "a"); string(c.Sealed) != "old-a" {
		t.Fatalf("a failed reseal changed a connection: %q", c.Sealed)
	}
	if v, _ := h.s.Meta(ctx, "check"); string(v) != "old-check" {
		t.Fatalf("a failed reseal changed the meta value: %q", v)
	}
	n, err := h.s.Reseal(ctx, "check", func(sealed, ad []byte) ([]byte, error) {
		if want := "old-" + string(ad); string(sealed) != want {
			return nil, fmt.Errorf("sealed %q for %q, want %q", sealed, ad, want)
		}
		return []byte("new-" + string(ad)), nil
	})
	if err != nil || n != 2 {
		t.Fatalf("reseal: %d %v", n, err)
	}
	h.reopen()
	all, err := h.s.Connections(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("connections %+v %v", all, err)
	}
	for _, c := range all {
		if string(c.Sealed) != "new-"+c.Name {
			t.Fatalf("connection %s sealed %q after reseal", c.Name, c.Sealed)
		}
	}
	if v, _ := h.s.Meta(ctx, "check"); string(v) != "new-check" {
		t.Fatalf("meta %q after reseal", v)
	}
	if err := h.s.DeleteConnection(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Connection(ctx, "a"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("deleted connection: %v", err)
	}
}

// A tick fires once; a tick for a replaced flow version starts nothing.
func testTicks(t *testing.T, h *harness) {
	h.putFlow("s")
	tick := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	first, err := h.s.AcceptTick(ctx, event("s", `{}`), run("s", 1), tick)
	if err != nil || first.Duplicate || first.RunID == "" {
		t.Fatalf("first tick: %+v %v", first, err)
	}
	if again, err := h.s.AcceptTick(ctx, event("s", `{}`), run("s", 1), tick); err != nil || !again.Duplicate {
		t.Fatalf("same tick again: %+v %v", again, err)
	}
	h.putFlow("s") // version 2
	if _, err := h.s.AcceptTick(ctx, event("s", `{}`), run("s", 1), tick.Add(time.Hour)); !errors.Is(err, engine.ErrStaleVersion) {
		t.Fatalf("tick of a replaced version: %v", err)
	}
	if last, err := h.s.LastTick(ctx, "s"); err != nil || !last.Equal(tick) {
		t.Fatalf("last tick %v %v", last, err)
	}
	if page, _ := h.s.ListRuns(ctx, engine.RunFilter{FlowID: "s"}); len(page.Runs) != 1 {
		t.Fatalf("%d runs from ticks, want 1", len(page.Runs))
	}
}

func pollItems(flow string, version int64, keys ...string) []engine.PollItem {
	var out []engine.PollItem
	for _, k := range keys {
		out = append(out, engine.PollItem{Key: k, Event: event(flow, `{"key":"`+k+`"}`), Run: run(flow, version)})
	}
	return out
}

// The first poll records what is there; later polls start one run per
// unseen item, never two for one key; the set stays bounded without
// forgetting what the source still lists; a reset forgets it all.
func testSeenSets(t *testing.T, h *harness) {
	h.putFlow("p")
	commit := func(pc engine.PollCommit) engine.PollResult {
		t.Helper()
		pc.FlowID, pc.Version = "p", 1
		st, err := h.s.PollStateOf(ctx, "p")
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Fatal(err)
		}
		pc.State = st
		res, err := h.s.AcceptPoll(ctx, pc)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	seed := commit(engine.PollCommit{Items: pollItems("p", 1, "a", "b"), SeenLimit: 3, Cursor: "c1"})
	if len(seed.Runs) != 0 || !seed.State.Seeded || seed.State.Cursor != "c1" {
		t.Fatalf("first poll: %d runs, state %+v", len(seed.Runs), seed.State)
	}
	next := commit(engine.PollCommit{Items: pollItems("p", 1, "a", "b", "c", "c"), SeenLimit: 3})
	if len(next.Runs) != 1 || next.Unseen != 1 || string(next.Events[0].Body) != `{"key":"c"}` {
		t.Fatalf("second poll: %d runs, %d unseen", len(next.Runs), next.Unseen)
	}
	if again := commit(engine.PollCommit{Items: pollItems("p", 1, "c", "d", "e"), SeenLimit: 3}); len(again.Runs) != 2 || again.Unseen != 2 {
		t.Fatalf("third poll: %d runs, %d unseen, want 2", len(again.Runs), again.Unseen)
	}
	n, keys, err := h.s.SeenKeys(ctx, "p", 10)
	sort.Strings(keys)
	if err != nil || n != 3 || fmt.Sprint(keys) != "[c d e]" {
		t.Fatalf("seen set %d %v %v, want the 3 keys the source still lists", n, keys, err)
	}
	if page, _ := h.s.ListRuns(ctx, engine.RunFilter{FlowID: "p"}); len(page.Runs) != 3 {
		t.Fatalf("%d runs from polls, want 3", len(page.Runs))
	}
	flood := commit(engine.PollCommit{Items: pollItems("p", 1, "f", "g", "h"), SeenLimit: 10, FloodLimit: 2})
	if !flood.Flooded || len(flood.Runs) != 0 || !flood.State.Paused {
		t.Fatalf("flood: %+v", flood)
	}
	if _, err := h.s.AcceptPoll(ctx, engine.PollCommit{FlowID: "p", Version: 7}); !errors.Is(err, engine.ErrStaleVersion) {
		t.Fatalf("poll of another version: %v", err)
	}
	if err := h.s.ResetPoll(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := h.s.SeenKeys(ctx, "p", 10); n != 0 {
		t.Fatalf("%d seen keys after reset", n)
	}
	if st, err := h.s.PollStateOf(ctx, "p"); err == nil && st.Seeded {
		t.Fatalf("poll state after reset: %+v", st)
	}
}

// A store that keeps auth's records: one owner only, records by hash,
// auth.ErrNotFound for what is not there, expired sessions purged.
func testAuth(t *testing.T, h *harness) {
	as, ok := h.s.(auth.Store)
	if !ok {
		t.Skip("the store does not keep auth's records")
	}
	owner := auth.UserRecord{Name: "ada", PasswordHash: []byte("hash"), Role: "owner", CreatedAt: time.Now().UTC()}
	if err := as.CreateFirstUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	if err := as.CreateFirstUser(ctx, auth.UserRecord{Name: "eve"}); !errors.Is(err, auth.ErrSetupDone) {
		t.Fatalf("second owner: %v", err)
	}
	if _, err := as.User(ctx, "eve"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := as.PutToken(ctx, auth.TokenRecord{ID: "tok_1", Name: "ci", Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, s := range []auth.SessionRecord{{Hash: "old", User: "ada", ExpiresAt: now.Add(-time.Minute)}, {Hash: "live", User: "ada", ExpiresAt: now.Add(time.Hour)}} {
		if err := as.PutSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	h.reopen()
	as = h.s.(auth.Store)
	if n, err := as.UserCount(ctx); err != nil || n != 1 {
		t.Fatalf("user count %d %v", n, err)
	}
	if u, err := as.User(ctx, "ada"); err != nil || string(u.PasswordHash) != "hash" {
		t.Fatalf("owner after reopen: %+v %v", u, err)
	}
	if tok, err := as.TokenByHash(ctx, "h1"); err != nil || tok.ID != "tok_1" {
		t.Fatalf("token by hash: %+v %v", tok, err)
	}
	if n, err := as.PurgeSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("purged %d sessions (%v), want 1", n, err)
	}
	if _, err := as.Session(ctx, "old"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := as.Session(ctx, "live"); err != nil {
		t.Fatalf("live session: %v", err)
	}
	if err := as.DeleteToken(ctx, "tok_1"); err != nil {
		t.Fatal(err)
	}
	if err := as.DeleteToken(ctx, "tok_1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("deleting a deleted token: %v", err)
	}
	if toks, err := as.Tokens(ctx); err != nil || len(toks) != 0 {
		t.Fatalf("tokens %+v %v", toks, err)
	}
}
