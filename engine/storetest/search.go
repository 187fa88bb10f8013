package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// search lists the ids of the runs f finds, newest first.
func (h *harness) search(f engine.RunFilter) string {
	h.t.Helper()
	page, err := h.s.(engine.RunSearcher).SearchRuns(ctx, f)
	if err != nil {
		h.t.Fatalf("search %q: %v", f.Search, err)
	}
	var ids []string
	for _, r := range page.Runs {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ",")
}

// acceptWith stores an event with body and headers for flow and its run.
func (h *harness) acceptWith(flow, body string, headers map[string]string, created time.Time) *engine.Run {
	h.t.Helper()
	ev := event(flow, body)
	for k, v := range headers {
		ev.Headers[k] = v
	}
	r := run(flow, 1)
	if !created.IsZero() {
		r.CreatedAt, ev.ReceivedAt = created, created
	}
	if _, err := h.s.Accept(ctx, ev, r, time.Hour); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// Search finds runs by whole words of their payload, headers and step
// outputs, and by exact field values, case-insensitively; never by a
// credential header; combined with the other filters, newest first, with
// cursors; after a reopen; and forgets runs that retention deleted.
func testSearch(t *testing.T, h *harness) {
	if _, ok := h.s.(engine.RunSearcher); !ok {
		t.Skip("the store does not search runs")
	}
	old := time.Now().Add(-48 * time.Hour).UTC()
	ada := h.acceptWith("crm", `{"email":"Ada@Example.com","name":"Ada Lovelace","items":[{"sku":"W-1"}]}`,
		map[string]string{"Authorization": "Bearer s3cr3t-token", "X-Hub-Signature-256": "sha256=deadbeef", "X-Source": "chatbot"}, old)
	ada.Steps = []engine.StepResult{{ID: "crm", Status: engine.StepSucceeded, Output: map[string]any{"deal": "D-77", "stage": "won"}}}
	h.finish(ada, engine.RunSucceeded)
	bob := h.acceptWith("crm", `{"email":"bob@example.com","name":"Bob"}`, nil, time.Time{})
	h.finish(bob, engine.RunFailed)
	other := h.acceptWith("shop", `{"email":"carol@example.com","note":"ada@example.com wrote"}`, nil, time.Time{})
	queued := h.acceptWith("crm", `{"email":"dave@example.com","note":"widget"}`, nil, time.Time{})

	cases := []struct {
		name string
		f    engine.RunFilter
		want string
	}{
		{"whole email, any case", engine.RunFilter{Search: "ADA@example.COM"}, other.ID + "," + ada.ID},
		{"a word inside a value", engine.RunFilter{Search: "lovelace"}, ada.ID},
		{"every word must match", engine.RunFilter{Search: "ada lovelace"}, ada.ID},
		{"part of a word finds nothing", engine.RunFilter{Search: "lovel"}, ""},
		{"a step output", engine.RunFilter{Search: "d-77"}, ada.ID},
		{"a header value", engine.RunFilter{Search: "chatbot"}, ada.ID},
		{"a credential header is not indexed", engine.RunFilter{Search: "s3cr3t-token"}, ""},
		{"a signature header is not indexed", engine.RunFilter{Search: "deadbeef"}, ""},
		{"a list element's field", engine.RunFilter{Search: "trigger.body.items.sku:w-1"}, ada.ID},
		{"exact field value", engine.RunFilter{Search: "trigger.body.email:ada@example.com"}, ada.ID},
		{"field value is exact, not a word", engine.RunFilter{Search: "trigger.body.name:ada"}, ""},
		{"quoted field value", engine.RunFilter{Search: `trigger.body.name:"ada lovelace"`}, ada.ID},
		{"step output field", engine.RunFilter{Search: "steps.crm.output.stage:WON"}, ada.ID},
		{"with a flow", engine.RunFilter{Search: "example", FlowID: "crm"}, queued.ID + "," + bob.ID + "," + ada.ID},
		{"with a status", engine.RunFilter{Search: "example", Status: engine.RunFailed}, bob.ID},
		{"with a period", engine.RunFilter{Search: "example", Since: time.Now().Add(-time.Hour)}, queued.ID + "," + other.ID + "," + bob.ID},
		{"a queued run's payload", engine.RunFilter{Search: "widget"}, queued.ID},
		{"cursor", engine.RunFilter{Search: "example", Cursor: other.ID}, bob.ID + "," + ada.ID},
	}
	check := func() {
		for _, tc := range cases {
			if got := h.search(tc.f); got != tc.want {
				t.Errorf("%s (%q): got %q, want %q", tc.name, tc.f.Search, got, tc.want)
			}
		}
	}
	check()

	page, err := h.s.(engine.RunSearcher).SearchRuns(ctx, engine.RunFilter{Search: "example", Limit: 2})
	if err != nil || len(page.Runs) != 2 || page.NextCursor != other.ID {
		t.Fatalf("first page of 2: %+v, %v; want a cursor at %s", page, err, other.ID)
	}
	for _, bad := range []string{"", "   ", "trigger.body.email:"} {
		if _, err := h.s.(engine.RunSearcher).SearchRuns(ctx, engine.RunFilter{Search: bad}); !errors.Is(err, engine.ErrBadFilter) {
			t.Errorf("search %q: %v, want ErrBadFilter", bad, err)
		}
	}

	h.reopen()
	check()

	// The outputs of a run that finishes after it was first indexed are
	// found too.
	queued.Steps = []engine.StepResult{{ID: "ship", Status: engine.StepSucceeded, Output: map[string]any{"tracking": "TRK-9"}}}
	h.finish(queued, engine.RunSucceeded)
	if got := h.search(engine.RunFilter{Search: "trk-9 widget"}); got != queued.ID {
		t.Errorf("output of a run finished later: got %q, want %s", got, queued.ID)
	}

	if n, err := h.s.DeleteRunsBefore(ctx, time.Now().Add(-24*time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("retention deleted %d (%v), want 1", n, err)
	}
	if got := h.search(engine.RunFilter{Search: "lovelace"}); got != "" {
		t.Errorf("a run deleted by retention is still found: %q", got)
	}
}
