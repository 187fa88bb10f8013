package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// TestRunNowEveryTrigger starts each kind of flow by hand through
// POST /api/flows/{id}/run, with a payload and with no body at all, and
// checks what each run saw.
func TestRunNowEveryTrigger(t *testing.T) {
	var total atomic.Int32
	src := itemSource(&total)
	defer src.Close()
	f := newFixture(t, engine.Config{})
	echo := `"steps": [{"id": "s", "use": "data.set", "with": {"body": "{{ trigger.body }}"}}]}`
	for _, flow := range []string{
		`{"id": "man", "name": "man", "enabled": true, "trigger": {"type": "manual"}, ` + echo,
		`{"id": "off", "name": "off", "enabled": false, "trigger": {"type": "manual"}, ` + echo,
		`{"id": "hook", "name": "hook", "enabled": true, "trigger": {"type": "webhook", "path": "hook", "dedupe": "trigger.body.id"}, ` + echo,
		`{"id": "daily", "name": "daily", "enabled": true, "trigger": {"type": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}, ` + echo,
		`{"id": "poll", "name": "poll", "enabled": true, "trigger": {"type": "poll", "cron": "@every 1h",
		  "request": {"url": "` + src.URL + `/items"}, "items": "response.body.items", "key": "item.id", "flood_limit": 3}, ` + echo,
	} {
		if r, b := f.do(t, "POST", "/api/flows", "application/json", flow); r.StatusCode != 201 {
			t.Fatalf("create: %d %s", r.StatusCode, b)
		}
	}
	type answer struct {
		RunID     *string  `json:"run_id"`
		RunIDs    []string `json:"run_ids"`
		Trigger   string   `json:"trigger"`
		Polled    bool     `json:"polled"`
		Unseen    int      `json:"unseen"`
		Duplicate bool     `json:"duplicate"`
		Message   string   `json:"message"`
		Error     string   `json:"error"`
	}
	run := func(t *testing.T, id, body string) (int, answer) {
		t.Helper()
		ctype := ""
		if body != "" {
			ctype = "application/json"
		}
		r, b := f.do(t, "POST", "/api/flows/"+id+"/run", ctype, body)
		var a answer
		if err := json.Unmarshal([]byte(b), &a); err != nil {
			t.Fatalf("%s: %d %q: %v", id, r.StatusCode, b, err)
		}
		return r.StatusCode, a
	}
	bodyOf := func(t *testing.T, runID string) any {
		t.Helper()
		r := waitRun(t, f.eng, runID)
		if r.Status != engine.RunSucceeded || len(r.Steps) != 1 {
			t.Fatalf("run %s: %s %+v", runID, r.Status, r.Steps)
		}
		return r.Steps[0].Output.(map[string]any)["body"]
	}

	t.Run("manual with a payload", func(t *testing.T) {
		code, a := run(t, "man", `{"payload": {"email": "ada@example.com"}}`)
		if code != 202 || a.RunID == nil || len(a.RunIDs) != 1 || a.Trigger != "manual" {
			t.Fatalf("%d %+v", code, a)
		}
		if got := bodyOf(t, *a.RunID); fmt.Sprint(got) != "map[email:ada@example.com]" {
			t.Fatalf("the run saw %v", got)
		}
	})
	t.Run("manual with no body at all", func(t *testing.T) {
		code, a := run(t, "man", "")
		if code != 202 || a.RunID == nil {
			t.Fatalf("%d %+v", code, a)
		}
		if got := bodyOf(t, *a.RunID); got != nil {
			t.Fatalf("the run saw %v, want no body", got)
		}
	})
	t.Run("a disabled flow runs by hand", func(t *testing.T) {
		if code, a := run(t, "off", `{"payload": {"x": 1}}`); code != 202 || a.RunID == nil {
			t.Fatalf("%d %+v", code, a)
		}
	})
	t.Run("webhook flow, dedupe applies", func(t *testing.T) {
		code, a := run(t, "hook", `{"payload": {"id": "d1"}}`)
		if code != 202 || a.RunID == nil {
			t.Fatalf("%d %+v", code, a)
		}
		code, b := run(t, "hook", `{"payload": {"id": "d1"}}`)
		if code != 200 || !b.Duplicate || b.RunID == nil || *b.RunID != *a.RunID {
			t.Fatalf("duplicate: %d %+v", code, b)
		}
	})
	t.Run("schedule flow runs one tick now", func(t *testing.T) {
		before := time.Now().UTC().Add(-time.Second)
		code, a := run(t, "daily", "")
		if code != 202 || a.RunID == nil || a.Trigger != "schedule" {
			t.Fatalf("%d %+v", code, a)
		}
		got, _ := bodyOf(t, *a.RunID).(map[string]any)
		tick, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got["tick"]))
		if err != nil || tick.Before(before) || tick.After(time.Now().Add(time.Second)) || got["timezone"] != "Europe/Berlin" {
			t.Fatalf("tick fields %v (%v)", got, err)
		}
		// A schedule flow given a payload runs with it instead.
		code, a = run(t, "daily", `{"payload": {"tick": "2026-01-05T08:00:00Z"}}`)
		if code != 202 {
			t.Fatalf("%d %+v", code, a)
		}
		if got := bodyOf(t, *a.RunID); fmt.Sprint(got) != "map[tick:2026-01-05T08:00:00Z]" {
			t.Fatalf("the run saw %v", got)
		}
	})
	t.Run("poll flow polls now", func(t *testing.T) {
		total.Store(2)
		code, a := run(t, "poll", "")
		if code != 200 || a.RunID != nil || len(a.RunIDs) != 0 || !a.Polled || !strings.Contains(a.Message, "First poll") {
			t.Fatalf("first poll: %d %+v", code, a)
		}
		code, a = run(t, "poll", "")
		if code != 200 || a.RunID != nil || !strings.Contains(a.Message, "no new items") {
			t.Fatalf("nothing new: %d %+v", code, a)
		}
		total.Store(4)
		code, a = run(t, "poll", "")
		if code != 202 || a.RunID == nil || len(a.RunIDs) != 2 || a.Unseen != 2 {
			t.Fatalf("two new: %d %+v", code, a)
		}
		var ids []string
		for _, id := range a.RunIDs {
			ids = append(ids, fmt.Sprint(bodyOf(t, id).(map[string]any)["id"]))
		}
		if strings.Join(ids, ",") != "i3,i4" {
			t.Fatalf("runs saw items %v", ids)
		}
		total.Store(8)
		code, a = run(t, "poll", "")
		if code != 200 || a.RunID != nil || !strings.Contains(a.Message, "paused") {
			t.Fatalf("flood: %d %+v", code, a)
		}
		// With a payload, the flow runs once with it as the item; the
		// seen set does not change.
		code, a = run(t, "poll", `{"payload": {"id": "by-hand"}}`)
		if code != 202 || a.Polled {
			t.Fatalf("payload: %d %+v", code, a)
		}
		if got := bodyOf(t, *a.RunID); fmt.Sprint(got) != "map[id:by-hand]" {
			t.Fatalf("the run saw %v", got)
		}
		src.Close()
		total.Store(0)
		if code, a := run(t, "poll", ""); code != 200 || !strings.Contains(a.Message, "paused") {
			t.Fatalf("paused flow: %d %+v", code, a)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			id, body string
			status   int
			msg      string
		}{
			{"nope", "", 404, "not found"},
			{"man", `{"payload": 1, "extra": true}`, 400, "malformed request body"},
			{"man", `{"payload": `, 400, "malformed request body"},
		} {
			if code, a := run(t, tc.id, tc.body); code != tc.status || !strings.Contains(a.Error, tc.msg) {
				t.Errorf("%s %s: %d %+v", tc.id, tc.body, code, a)
			}
		}
		r, b := f.do(t, "POST", "/api/flows/man/run", "text/plain", "hello")
		if r.StatusCode != 415 {
			t.Errorf("text body: %d %s", r.StatusCode, b)
		}
	})
}

// TestRunNowPollFailure: a poll flow whose source fails answers 502 with
// the reason.
func TestRunNowPollFailure(t *testing.T) {
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer src.Close()
	f := newFixture(t, engine.Config{})
	if r, b := f.do(t, "POST", "/api/flows", "application/json", `{"id": "poll", "name": "poll", "enabled": true,
	  "trigger": {"type": "poll", "cron": "@every 1h", "request": {"url": "`+src.URL+`"}, "items": "response.body.items", "key": "item.id"},
	  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`); r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, b)
	}
	r, b := f.do(t, "POST", "/api/flows/poll/run", "", "")
	if r.StatusCode != 502 || !strings.Contains(b, "poll failed") || !strings.Contains(b, "503") {
		t.Fatalf("%d %s", r.StatusCode, b)
	}
}

// itemSource is a poll source listing items i1 … i<total> as
// {"items": [{"id": "i1"}, …]}.
func itemSource(total *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items := []string{}
		for i := 1; i <= int(total.Load()); i++ {
			items = append(items, fmt.Sprintf(`{"id": "i%d"}`, i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"items": [%s]}`, strings.Join(items, ","))
	}))
}
