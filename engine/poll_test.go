package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
)

// pollSource is a local API whose item list the test grows. It lists the
// newest `window` items, oldest first, with a cursor naming the newest.
type pollSource struct {
	mu      sync.Mutex
	total   int
	window  int
	fail    bool
	queries []string // the since parameter of each request
	headers []string // its X-Cursor header
	srv     *httptest.Server
}

func newPollSource(t *testing.T) *pollSource {
	ps := &pollSource{window: 100}
	ps.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		ps.queries = append(ps.queries, r.URL.Query().Get("since"))
		ps.headers = append(ps.headers, r.Header.Get("X-Cursor"))
		if ps.fail {
			http.Error(w, `{"error": "down"}`, http.StatusServiceUnavailable)
			return
		}
		items := []map[string]any{}
		for i := max(1, ps.total-ps.window+1); i <= ps.total; i++ {
			items = append(items, map[string]any{"id": fmt.Sprintf("t%d", i), "n": i})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"items": items, "next": fmt.Sprintf("2027-01-01T00:00:%02d+01:00 #%d", ps.total%60, ps.total)})
	}))
	t.Cleanup(ps.srv.Close)
	return ps
}

func (ps *pollSource) set(total, window int, fail bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.total, ps.window, ps.fail = total, window, fail
}

func (ps *pollSource) requests() ([]string, []string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]string(nil), ps.queries...), append([]string(nil), ps.headers...)
}

func pollFlow(id, url string, enabled bool) string {
	return fmt.Sprintf(`{"id": %q, "name": %q, "enabled": %t, "trigger": {"type": "poll", "cron": "@every 1h",
	  "request": {"url": "%s/items?since={{ cursor }}", "headers": {"X-Cursor": "{{ cursor }}"}},
	  "items": "response.body.items", "key": "item.id", "cursor": "response.body.next ?? cursor",
	  "flood_limit": 3, "seen_limit": 5},
	  "steps": [{"id": "s", "use": "data.set", "with": {"id": "{{ trigger.body.id }}"}}]}`, id, id, enabled, url)
}

// polledIDs lists the item ids of a flow's runs in the order they were
// accepted.
func (se *schedEnv) polledIDs(t *testing.T, flowID string) []string {
	t.Helper()
	ctx := context.Background()
	page, err := se.ListRuns(ctx, RunFilter{FlowID: flowID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(page.Runs, func(i, j int) bool { return page.Runs[i].ID < page.Runs[j].ID })
	var ids []string
	for _, r := range page.Runs {
		ev, err := se.Event(ctx, r.EventID)
		if err != nil {
			t.Fatal(err)
		}
		var item struct {
			ID string `json:"id"`
		}
		json.Unmarshal(ev.Body, &item)
		ids = append(ids, item.ID)
	}
	return ids
}

func (se *schedEnv) poll(t *testing.T, a *ActiveFlow, opts PollOptions) PollResult {
	t.Helper()
	res, err := se.Poll(context.Background(), a, opts)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return res
}

func wantIDs(t *testing.T, got []string, want string) {
	t.Helper()
	if strings.Join(got, " ") != want {
		t.Fatalf("items run: %q, want %q", strings.Join(got, " "), want)
	}
}

// TestPollGrowingSource polls a local API whose list grows: the first poll
// only seeds, new items run once each and oldest first, old ones never; the
// flood guard pauses and a forced poll runs the held items once; the cursor
// is saved and sent (escaped) on the next request; the seen set survives a
// restart and keeps its bound; errors are recorded and back off.
func TestPollGrowingSource(t *testing.T) {
	ctx := context.Background()
	ps := newPollSource(t)
	dir := t.TempDir()
	clk := newFakeClock(utc("2027-01-04T10:00:30Z"))
	se := startSched(t, dir, clk)
	ps.set(3, 100, false)
	a := se.saveFlow(t, pollFlow("p", ps.srv.URL, true))
	se.settle(t)

	res := se.poll(t, a, PollOptions{})
	if len(res.Runs) != 0 || res.State.LastStatus != "seeded" || res.State.SeenCount != 3 {
		t.Fatalf("first poll: %d runs, state %+v", len(res.Runs), res.State)
	}

	ps.set(5, 100, false)
	se.poll(t, a, PollOptions{})
	se.poll(t, a, PollOptions{}) // nothing new
	wantIDs(t, se.polledIDs(t, "p"), "t4 t5")

	q, h := ps.requests()
	if q[0] != "" || q[1] != "2027-01-01T00:00:03+01:00 #3" || h[1] != "2027-01-01T00:00:03+01:00 #3" {
		t.Fatalf("cursor not sent as saved: queries %q headers %q", q, h)
	}
	st, _ := se.store.PollStateOf(ctx, "p")
	if st.Cursor != "2027-01-01T00:00:05+01:00 #5" {
		t.Fatalf("cursor saved %v", st.Cursor)
	}

	// Four new items at once, flood_limit 3: paused, nothing run, nothing
	// recorded, the cursor kept for the confirmation.
	ps.set(9, 6, false)
	res = se.poll(t, a, PollOptions{})
	if !res.Flooded || !res.State.Paused || res.Unseen != 4 || len(res.Runs) != 0 {
		t.Fatalf("flood: %+v", res)
	}
	sent, _ := ps.requests()
	res = se.poll(t, a, PollOptions{}) // paused: no request at all
	if q, _ := ps.requests(); len(q) != len(sent) || len(res.Runs) != 0 {
		t.Fatalf("a paused flow polled: %d requests, %d runs", len(q)-len(sent), len(res.Runs))
	}
	if st, _ := se.store.PollStateOf(ctx, "p"); st.Cursor != "2027-01-01T00:00:05+01:00 #5" {
		t.Fatalf("flood moved the cursor to %v", st.Cursor)
	}
	res, err := se.PollNow(ctx, "p", true, false)
	if err != nil || len(res.Runs) != 4 || res.State.Paused {
		t.Fatalf("forced poll: %+v %v", res, err)
	}
	se.poll(t, a, PollOptions{})
	wantIDs(t, se.polledIDs(t, "p"), "t4 t5 t6 t7 t8 t9")

	// The seen set keeps its bound of 5 (the 6 items listed stay: the
	// source still lists them).
	ps.set(9, 4, false)
	se.poll(t, a, PollOptions{})
	count, newest, _ := se.store.SeenKeys(ctx, "p", 3)
	if count != 5 || strings.Join(newest, " ") != "t9 t8 t7" {
		t.Fatalf("seen set: %d keys, newest %v", count, newest)
	}

	// Restart: the seen set and the cursor survive.
	se.close()
	se = startSched(t, dir, clk)
	a, _ = se.Flow("p")
	ps.set(11, 4, false)
	se.poll(t, a, PollOptions{})
	wantIDs(t, se.polledIDs(t, "p"), "t4 t5 t6 t7 t8 t9 t10 t11")
	if count, _, _ := se.store.SeenKeys(ctx, "p", 0); count != 5 {
		t.Fatalf("seen set after restart: %d keys, want 5", count)
	}
	if q, _ := ps.requests(); q[len(q)-1] != "2027-01-01T00:00:09+01:00 #9" {
		t.Fatalf("cursor after restart: %q", q[len(q)-1])
	}

	// Errors: recorded, and the source is left alone while it backs off.
	ps.set(12, 4, true)
	if _, err := se.Poll(ctx, a, PollOptions{}); err == nil {
		t.Fatal("a failing source polled fine")
	}
	st, _ = se.store.PollStateOf(ctx, "p")
	if st.LastStatus != "error" || st.Failures != 1 || !strings.Contains(st.LastError, "503") ||
		!st.NextAllowed.Equal(clk.peek().Add(30*time.Second)) {
		t.Fatalf("error state %+v", st)
	}
	before, _ := ps.requests()
	se.poll(t, a, PollOptions{}) // backing off: no request
	if q, _ := ps.requests(); len(q) != len(before) {
		t.Fatal("polled while backing off")
	}
	clk.set(clk.peek().Add(31 * time.Second))
	se.Poll(ctx, a, PollOptions{})
	st, _ = se.store.PollStateOf(ctx, "p")
	if q, _ := ps.requests(); len(q) != len(before)+1 || st.Failures != 2 || !st.NextAllowed.Equal(clk.peek().Add(time.Minute)) {
		t.Fatalf("second failure: %d requests, state %+v", len(q)-len(before), st)
	}
	ps.set(12, 4, false)
	clk.set(clk.peek().Add(61 * time.Second))
	se.settle(t)
	res = se.poll(t, a, PollOptions{})
	if res.State.LastStatus != "ok" || res.State.Failures != 0 || res.State.LastError != "" || len(res.Runs) != 1 {
		t.Fatalf("recovered poll: %+v", res)
	}
	wantIDs(t, se.polledIDs(t, "p"), "t4 t5 t6 t7 t8 t9 t10 t11 t12")
}

// TestPollSeedBackfillAndEnable: a flood can be skipped by seeding; a
// backfill runs the newest items on the first poll; a flow disabled and
// enabled again seeds again instead of running what appeared meanwhile;
// a reset forgets the seen set.
func TestPollSeedBackfillAndEnable(t *testing.T) {
	ctx := context.Background()
	ps := newPollSource(t)
	clk := newFakeClock(utc("2027-01-04T10:00:30Z"))
	se := startSched(t, "", clk)
	ps.set(2, 100, false)
	a := se.saveFlow(t, pollFlow("p", ps.srv.URL, true))
	se.poll(t, a, PollOptions{})
	ps.set(10, 100, false)
	if res := se.poll(t, a, PollOptions{}); !res.Flooded {
		t.Fatalf("no flood: %+v", res)
	}
	res, err := se.PollNow(ctx, "p", false, true)
	if err != nil || len(res.Runs) != 0 || res.State.Paused || res.State.SeenCount != 10 {
		t.Fatalf("seed: %+v %v", res, err)
	}

	// Disabled while three items appear, then enabled: they are seeded.
	se.saveFlow(t, pollFlow("p", ps.srv.URL, false))
	ps.set(13, 100, false)
	a = se.saveFlow(t, pollFlow("p", ps.srv.URL, true))
	if res := se.poll(t, a, PollOptions{}); res.State.LastStatus != "seeded" || len(res.Runs) != 0 {
		t.Fatalf("first poll after enabling: %+v", res)
	}

	// Backfill: a reset flow with backfill 2 runs the newest two.
	raw := strings.Replace(pollFlow("p", ps.srv.URL, true), `"flood_limit": 3`, `"flood_limit": 3, "backfill": 2`, 1)
	a = se.saveFlow(t, raw)
	if err := se.ResetPoll(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	se.poll(t, a, PollOptions{})
	wantIDs(t, se.polledIDs(t, "p"), "t12 t13")

	if _, err := se.PollNow(ctx, "nope", false, false); !errors.Is(err, ErrFlowNotFound) {
		t.Fatalf("unknown flow: %v", err)
	}
	se.saveFlow(t, scheduleFlow("s", "@hourly", "", ""))
	if _, err := se.PollNow(ctx, "s", false, false); !errors.Is(err, ErrNotPoll) {
		t.Fatalf("schedule flow: %v", err)
	}
}

// TestPollScheduled: the scheduler polls on the flow's cron, and a poll
// tick arriving while the previous poll still runs is skipped.
func TestPollScheduled(t *testing.T) {
	ps := newPollSource(t)
	clk := newFakeClock(utc("2027-01-04T10:00:00Z"))
	se := startSched(t, "", clk)
	ps.set(1, 100, false)
	se.saveFlow(t, pollFlow("p", ps.srv.URL, true))
	se.settle(t)
	waitPoll := func() {
		l := se.sched.pollLock("p")
		l.Lock()
		l.Unlock()
	}
	se.advance(t, utc("2027-01-04T11:00:00Z"), 10*time.Minute)
	waitPoll()
	ps.set(3, 100, false)
	se.advance(t, utc("2027-01-04T12:00:00Z"), 10*time.Minute)
	waitPoll()
	wantIDs(t, se.polledIDs(t, "p"), "t2 t3")
	info, err := se.ScheduleInfo(context.Background(), "p")
	if err != nil || info.Poll == nil || info.SeenCount != 3 || len(info.NextFires) != 5 ||
		!info.NextFires[0].Equal(utc("2027-01-04T13:00:00Z")) || info.SeenNew[0] != "t3" {
		t.Fatalf("info %+v %v", info, err)
	}
}

func TestFillCursor(t *testing.T) {
	for _, tc := range []struct {
		in, cursor string
		isURL      bool
		want       string
	}{
		{"https://x/items?since={{ cursor }}&a=1", "2027-01-01T00:00:00+01:00", true, "https://x/items?since=2027-01-01T00%3A00%3A00%2B01%3A00&a=1"},
		{"https://x/{{cursor}}/items?c={{cursor}}", "a b/c", true, "https://x/a%20b%2Fc/items?c=a+b%2Fc"},
		{"https://x/items", "zzz", true, "https://x/items"},
		{"Bearer {{ cursor }}", "a+b c", false, "Bearer a+b c"},
	} {
		if got := fillCursor(tc.in, tc.cursor, tc.isURL); got != tc.want {
			t.Errorf("fillCursor(%q, %q) = %q, want %q", tc.in, tc.cursor, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    any
		want string
	}{{nil, ""}, {"abc", "abc"}, {float64(12), "12"}, {map[string]any{"p": 2.0}, `{"p":2}`}} {
		if got := cursorString(tc.v); got != tc.want {
			t.Errorf("cursorString(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestSamplePollResponse: the builder's first fetch, before items and key
// are set, gets the poll request's response as the expressions would read
// it, with no cursor filled in and nothing recorded; a trigger without a
// request URL is not one to fetch.
func TestSamplePollResponse(t *testing.T) {
	ps := newPollSource(t)
	se := startSched(t, t.TempDir(), newFakeClock(utc("2027-01-04T10:00:30Z")))
	ps.set(2, 100, false)
	f := &flows.Flow{ID: "draft", Trigger: flows.Trigger{Type: flows.TriggerPoll,
		Request: &flows.PollRequest{URL: ps.srv.URL + "/items?since={{ cursor }}"}}}
	resp, err := se.SamplePollResponse(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := resp.(map[string]any)["body"].(map[string]any)
	if items, _ := body["items"].([]any); len(items) != 2 || resp.(map[string]any)["status"] != 200 {
		t.Fatalf("response: %v", resp)
	}
	if q, _ := ps.requests(); len(q) != 1 || q[0] != "" {
		t.Fatalf("the request's cursor: %q", q)
	}
	if _, err := se.SamplePollResponse(context.Background(), &flows.Flow{ID: "x", Trigger: flows.Trigger{Type: flows.TriggerPoll}}); !errors.Is(err, ErrNotPoll) {
		t.Fatalf("no URL: %v", err)
	}
}
