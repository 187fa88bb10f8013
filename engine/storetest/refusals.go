package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// Refusals: the newest per flow and in all are kept, newest first, in
// pages; refusals of no flow are listed globally only; counts stop at
// since and at max; everything survives a reopen.
func testRefusals(t *testing.T, h *harness) {
	at := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	var rs []engine.Refusal
	for i := range 5 {
		rs = append(rs, engine.Refusal{At: at.Add(time.Duration(i) * time.Second), FlowID: "f", Remote: "192.0.2.1",
			Reason: fmt.Sprint("f", i), Kind: "signature", Status: 401, Method: "POST", Path: "f",
			Headers: map[string]string{"authorization": engine.Redacted}, Body: `{"a":1}`, Size: 7})
	}
	rs = append(rs, engine.Refusal{At: at, FlowID: "g", Reason: "g0", Status: 413})
	rs = append(rs, engine.Refusal{At: at, Reason: "nobody", Kind: "no_flow", Status: 404, Path: "nope"})
	bounds := engine.RefusalBounds{PerFlow: 3, Total: 100}
	if err := h.s.AddRefusals(ctx, rs, bounds); err != nil {
		t.Fatal(err)
	}
	reasons := func(p engine.RefusalPage) []string {
		var out []string
		for _, r := range p.Refusals {
			out = append(out, r.Reason)
		}
		return out
	}
	list := func(f engine.RefusalFilter) engine.RefusalPage {
		t.Helper()
		p, err := h.s.ListRefusals(ctx, f)
		if err != nil {
			t.Fatalf("ListRefusals(%+v): %v", f, err)
		}
		return p
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
	}
	check("f", reasons(list(engine.RefusalFilter{FlowID: "f", Limit: 10})), "f4", "f3", "f2")
	check("all", reasons(list(engine.RefusalFilter{Limit: 10})), "nobody", "g0", "f4", "f3", "f2")
	p := list(engine.RefusalFilter{FlowID: "f", Limit: 1})
	check("f page 1", reasons(p), "f4")
	if p.NextCursor == "" || p.Refusals[0].ID == "" {
		t.Fatalf("page 1 has no cursor or id: %+v", p)
	}
	p = list(engine.RefusalFilter{FlowID: "f", Limit: 1, Cursor: p.NextCursor})
	check("f page 2", reasons(p), "f3")
	p = list(engine.RefusalFilter{FlowID: "f", Limit: 1, Cursor: p.NextCursor})
	check("f page 3", reasons(p), "f2")
	if p.NextCursor != "" {
		t.Fatalf("last page has a cursor: %q", p.NextCursor)
	}
	p = list(engine.RefusalFilter{Limit: 2})
	p = list(engine.RefusalFilter{Limit: 2, Cursor: p.NextCursor})
	check("all page 2", reasons(p), "f4", "f3")
	got := list(engine.RefusalFilter{FlowID: "f", Limit: 1}).Refusals[0]
	if got.Headers["authorization"] != engine.Redacted || got.Body != `{"a":1}` || got.Size != 7 || got.Method != "POST" || !got.At.Equal(at.Add(4*time.Second)) {
		t.Fatalf("refusal read back: %+v", got)
	}
	if _, err := h.s.ListRefusals(ctx, engine.RefusalFilter{Limit: 1, Cursor: "garbage"}); err == nil {
		t.Fatal("a malformed cursor was taken")
	}

	count := func(flow string, since time.Time, max, want int) {
		t.Helper()
		if n, err := h.s.CountRefusals(ctx, flow, since, max); err != nil || n != want {
			t.Fatalf("CountRefusals(%s, %v, %d) = %d, %v; want %d", flow, since, max, n, err, want)
		}
	}
	count("f", at, 100, 3)
	count("f", at.Add(3*time.Second), 100, 2)
	count("f", at, 2, 2)
	count("g", at, 100, 1)
	count("none", at, 100, 0)

	// The global bound drops the oldest, whatever their flow, and their
	// per-flow entries with them.
	var more []engine.Refusal
	for i := range 4 {
		more = append(more, engine.Refusal{At: at.Add(time.Minute + time.Duration(i)*time.Second), FlowID: "h", Reason: fmt.Sprint("h", i), Status: 400})
	}
	if err := h.s.AddRefusals(ctx, more, engine.RefusalBounds{PerFlow: 3, Total: 5}); err != nil {
		t.Fatal(err)
	}
	check("all after bound", reasons(list(engine.RefusalFilter{Limit: 10})), "h3", "h2", "h1", "nobody", "g0")
	check("f after bound", reasons(list(engine.RefusalFilter{FlowID: "f", Limit: 10})))
	count("f", at, 100, 0)

	h.reopen()
	check("all after reopen", reasons(list(engine.RefusalFilter{Limit: 10})), "h3", "h2", "h1", "nobody", "g0")
	// Ids go on growing after a reopen.
	if err := h.s.AddRefusals(ctx, []engine.Refusal{{At: at.Add(time.Hour), FlowID: "g", Reason: "g1", Status: 401}}, bounds); err != nil {
		t.Fatal(err)
	}
	check("g after reopen", reasons(list(engine.RefusalFilter{FlowID: "g", Limit: 10})), "g1", "g0")
}

// Audit: entries come back newest first, filtered by action (exactly or
// the actions under it) and target, in pages; only the newest keep stay.
func testAudit(t *testing.T, h *harness) {
	as, ok := h.s.(engine.AuditStore)
	if !ok {
		t.Skip("store keeps no audit trail")
	}
	at := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	ada := engine.Actor{Kind: "user", Name: "ada"}
	entries := []engine.AuditEntry{
		{At: at, Action: engine.AuditLoginFailed, Actor: engine.Actor{Kind: "user", Name: "eve"}, Address: "203.0.113.7"},
		{At: at.Add(time.Second), Action: engine.AuditLogin, Actor: ada, Address: "192.0.2.1"},
		{At: at.Add(2 * time.Second), Action: engine.AuditFlowCreate, Actor: ada, Target: "orders", Detail: "version 1"},
		{At: at.Add(3 * time.Second), Action: engine.AuditFlowSave, Actor: ada, Target: "orders", Detail: "version 2"},
		{At: at.Add(4 * time.Second), Action: engine.AuditConnectionSave, Actor: engine.Actor{Kind: "token", Name: "ci"}, Target: "crm"},
	}
	for _, e := range entries {
		if err := as.AddAudit(ctx, []engine.AuditEntry{e}, 100); err != nil {
			t.Fatal(err)
		}
	}
	actions := func(f engine.AuditFilter) ([]string, engine.AuditPage) {
		t.Helper()
		p, err := as.ListAudit(ctx, f)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", f, err)
		}
		var out []string
		for _, e := range p.Entries {
			out = append(out, e.Action)
		}
		return out, p
	}
	check := func(name string, f engine.AuditFilter, want ...string) engine.AuditPage {
		t.Helper()
		got, p := actions(f)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
		return p
	}
	check("all", engine.AuditFilter{Limit: 10}, "connection.save", "flow.save", "flow.create", "login.success", "login.failure")
	check("flow", engine.AuditFilter{Action: "flow", Limit: 10}, "flow.save", "flow.create")
	check("flow.save", engine.AuditFilter{Action: "flow.save", Limit: 10}, "flow.save")
	check("fl is no group", engine.AuditFilter{Action: "fl", Limit: 10})
	check("target", engine.AuditFilter{Target: "crm", Limit: 10}, "connection.save")
	p := check("page 1", engine.AuditFilter{Action: "login", Limit: 1}, "login.success")
	p = check("page 2", engine.AuditFilter{Action: "login", Limit: 1, Cursor: p.NextCursor}, "login.failure")
	if p.NextCursor != "" {
		t.Fatalf("last page has a cursor %q", p.NextCursor)
	}
	_, p = actions(engine.AuditFilter{Limit: 1})
	if e := p.Entries[0]; e.Actor.Name != "ci" || e.Actor.Kind != "token" || e.Target != "crm" || !e.At.Equal(at.Add(4*time.Second)) || e.ID == "" {
		t.Fatalf("entry read back: %+v", e)
	}

	h.reopen()
	as = h.s.(engine.AuditStore)
	if err := as.AddAudit(ctx, []engine.AuditEntry{{At: at.Add(time.Hour), Action: engine.AuditFlowDelete, Actor: ada, Target: "orders"}}, 3); err != nil {
		t.Fatal(err)
	}
	check("bounded after reopen", engine.AuditFilter{Limit: 10}, "flow.delete", "connection.save", "flow.save")
}
