package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// The optional store interfaces behind "Needs attention" and flow history
// (engine.ResolutionStore, engine.VersionStore): checked when the store
// offers them.

// finish saves r as final with status st.
func (h *harness) finish(r *engine.Run, st engine.RunStatus) {
	h.t.Helper()
	now := time.Now().UTC()
	r.Status, r.FinishedAt = st, &now
	if err := h.s.SaveRun(ctx, r); err != nil {
		h.t.Fatal(err)
	}
}

// again adds a retry (or replay) of old.
func (h *harness) again(old *engine.Run, retry bool) *engine.Run {
	h.t.Helper()
	r := run(old.FlowID, 1)
	r.EventID = old.EventID
	if retry {
		r.RetryOf = old.ID
	} else {
		r.ReplayOf = old.ID
	}
	if err := h.s.AddRun(ctx, r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) unresolved(f engine.RunFilter) string {
	h.t.Helper()
	page, err := h.s.(engine.ResolutionStore).ListUnresolved(ctx, f)
	if err != nil {
		h.t.Fatal(err)
	}
	var ids []string
	for _, r := range page.Runs {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ",")
}

// A failed run is unresolved until a retry or replay of it (or of one of
// its retries) succeeds; listings and counts see only the unresolved,
// newest first, after a reopen too; retention forgets them.
func testResolutions(t *testing.T, h *harness) {
	if _, ok := h.s.(engine.ResolutionStore); !ok {
		t.Skip("the store does not track unresolved runs")
	}
	rs := func() engine.ResolutionStore { return h.s.(engine.ResolutionStore) }
	a := h.accept("f")
	h.finish(a, engine.RunFailed)
	other := h.accept("g")
	h.finish(other, engine.RunFailed)
	ok := h.accept("f")
	h.finish(ok, engine.RunSucceeded)
	b := h.again(a, true)
	h.finish(b, engine.RunFailed)

	if got, want := h.unresolved(engine.RunFilter{}), b.ID+","+other.ID+","+a.ID; got != want {
		t.Fatalf("unresolved, newest first: %s, want %s", got, want)
	}
	if got := h.unresolved(engine.RunFilter{FlowID: "g"}); got != other.ID {
		t.Fatalf("unresolved of flow g: %s", got)
	}
	if got := h.unresolved(engine.RunFilter{Limit: 1, Cursor: b.ID}); got != other.ID {
		t.Fatalf("second page: %s", got)
	}
	if n, _ := rs().CountUnresolved(ctx, 2); n != 2 {
		t.Fatalf("count capped at 2: %d", n)
	}

	// A failed replay of b changes nothing; a successful retry of b
	// resolves b and a, which b retried.
	d := h.again(b, false)
	h.finish(d, engine.RunFailed)
	c := h.again(b, true)
	h.finish(c, engine.RunSucceeded)
	h.reopen()
	if got, want := h.unresolved(engine.RunFilter{}), d.ID+","+other.ID; got != want {
		t.Fatalf("after the retry succeeded (and a reopen): %s, want %s", got, want)
	}
	links, err := rs().RunLinks(ctx, b.ID)
	if err != nil || !links.Resolved || links.ResolvedBy != c.ID || strings.Join(links.RetriedBy, ",") != c.ID ||
		strings.Join(links.ReplayedBy, ",") != d.ID {
		t.Fatalf("links of b: %+v %v", links, err)
	}
	if links, _ := rs().RunLinks(ctx, a.ID); !links.Resolved || links.ResolvedBy != c.ID || strings.Join(links.RetriedBy, ",") != b.ID {
		t.Fatalf("links of a: %+v", links)
	}
	if links, _ := rs().RunLinks(ctx, other.ID); links.Resolved || len(links.RetriedBy) != 0 || links.RetriedBy == nil {
		t.Fatalf("links of other: %+v", links)
	}
	if got, _ := rs().ResolvedAmong(ctx, []string{a.ID, b.ID, other.ID, d.ID, "junk"}); len(got) != 2 || !got[a.ID] || !got[b.ID] {
		t.Fatalf("resolved among: %v", got)
	}

	if _, err := h.s.DeleteRunsBefore(ctx, time.Now().Add(time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if got := h.unresolved(engine.RunFilter{}); got != "" {
		t.Fatalf("after retention: %s", got)
	}
}

// Each version keeps what was recorded with it; a state change rewrites
// the current version in place and is listed newest first.
func testVersionMeta(t *testing.T, h *harness) {
	if _, ok := h.s.(engine.VersionStore); !ok {
		t.Skip("the store does not record flow versions")
	}
	vs := func() engine.VersionStore { return h.s.(engine.VersionStore) }
	at := time.Now().UTC().Truncate(time.Millisecond)
	ada := engine.Actor{Kind: "user", Name: "ada"}
	h.putFlow("f") // version 1, saved before versions were recorded
	rec, err := vs().PutFlowVersion(ctx, "f", []byte(`{"id":"f","enabled":true,"name":"two"}`), engine.VersionMeta{SavedAt: at, SavedBy: ada, Summary: "changed name"})
	if err != nil || rec.Version != 2 {
		t.Fatalf("put version: %+v %v", rec, err)
	}
	off := `{"id":"f","enabled":false,"name":"two"}`
	if rec, err = vs().SetFlowState(ctx, "f", []byte(off), engine.StateChange{At: at.Add(time.Second), By: ada}); err != nil || rec.Version != 2 {
		t.Fatalf("set state: %+v %v", rec, err)
	}
	h.reopen()
	if cur, err := h.s.Flow(ctx, "f"); err != nil || cur.Version != 2 || string(cur.Flow) != off {
		t.Fatalf("current after the state change: %+v %v", cur, err)
	}
	if v2, err := h.s.FlowVersion(ctx, "f", 2); err != nil || string(v2.Flow) != off {
		t.Fatalf("version 2 after the state change: %s %v", v2.Flow, err)
	}
	nums, metas, err := vs().FlowVersions(ctx, "f")
	if err != nil || len(nums) != 2 || nums[0] != 2 || nums[1] != 1 {
		t.Fatalf("versions: %v %v", nums, err)
	}
	if m := metas[2]; m.Version != 2 || !m.SavedAt.Equal(at) || m.SavedBy != ada || m.Summary != "changed name" {
		t.Fatalf("meta of version 2: %+v", m)
	}
	if _, ok := metas[1]; ok {
		t.Fatalf("version 1 has meta: %+v", metas[1])
	}
	states, err := vs().FlowStates(ctx, "f", 10)
	if err != nil || len(states) != 1 || states[0].Enabled || states[0].Version != 2 || states[0].By != ada {
		t.Fatalf("states: %+v %v", states, err)
	}
	if _, err := vs().SetFlowState(ctx, "nope", []byte(off), engine.StateChange{At: at}); err == nil {
		t.Fatal("state change of a missing flow")
	}
}
