package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/engine"
)

func TestScheduleAPI(t *testing.T) {
	var total atomic.Int32
	src := itemSource(&total)
	defer src.Close()
	f := newFixture(t, engine.Config{})
	for _, flow := range []string{
		`{"id": "hook", "name": "hook", "enabled": true, "trigger": {"type": "webhook", "path": "hook"},
		  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`,
		`{"id": "daily", "name": "daily", "enabled": true, "trigger": {"type": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin"},
		  "steps": [{"id": "s", "use": "data.set", "with": {"a": 1}}]}`,
		`{"id": "poll", "name": "poll", "enabled": true, "trigger": {"type": "poll", "cron": "@every 1h",
		  "request": {"url": "` + src.URL + `/items"}, "items": "response.body.items", "key": "item.id", "flood_limit": 2},
		  "steps": [{"id": "s", "use": "data.set", "with": {"id": "{{ trigger.body.id }}"}}]}`,
	} {
		if r, b := f.do(t, "POST", "/api/flows", "application/json", flow); r.StatusCode != 201 {
			t.Fatalf("create: %d %s", r.StatusCode, b)
		}
	}

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
			status             int
			msg                string
		}{
			{"GET", "/api/flows/nope/schedule", "", 404, "flow not found"},
			{"POST", "/api/flows/nope/poll", "", 404, "flow not found"},
			{"POST", "/api/flows/nope/seen/reset", "", 404, "flow not found"},
			{"GET", "/api/flows/hook/schedule", "", 400, "not a schedule or poll flow"},
			{"POST", "/api/flows/hook/poll", "", 400, "not a poll flow"},
			{"POST", "/api/flows/daily/poll", "", 400, "has a schedule trigger"},
			{"POST", "/api/flows/daily/seen/reset", "", 400, "not a poll flow"},
			{"POST", "/api/flows/poll/poll", `{"force": true, "seed": true}`, 400, "exclude each other"},
			{"POST", "/api/flows/poll/poll", `{"forse": true}`, 400, "malformed request body"},
		} {
			ctype := ""
			if tc.body != "" {
				ctype = "application/json"
			}
			r, b := f.do(t, tc.method, tc.path, ctype, tc.body)
			var e struct {
				Error string `json:"error"`
			}
			if r.StatusCode != tc.status || json.Unmarshal([]byte(b), &e) != nil || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, r.StatusCode, b, tc.status, tc.msg)
			}
		}
	})

	t.Run("schedule", func(t *testing.T) {
		r, b := f.do(t, "GET", "/api/flows/daily/schedule", "", "")
		var info engine.PollInfo
		if r.StatusCode != 200 || json.Unmarshal([]byte(b), &info) != nil || len(info.NextFires) != 5 || info.Poll != nil {
			t.Fatalf("%d %s", r.StatusCode, b)
		}
		if h, m := info.NextFires[0].Hour(), info.NextFires[0].Minute(); h != 2 || m != 30 {
			t.Fatalf("next fire %v is not 02:30 Berlin time", info.NextFires[0])
		}
	})

	t.Run("poll", func(t *testing.T) {
		poll := func(body string) (int, map[string]any) {
			ctype := ""
			if body != "" {
				ctype = "application/json"
			}
			r, b := f.do(t, "POST", "/api/flows/poll/poll", ctype, body)
			var out map[string]any
			json.Unmarshal([]byte(b), &out)
			return r.StatusCode, out
		}
		total.Store(2)
		if code, out := poll(""); code != 200 || out["state"].(map[string]any)["last_status"] != "seeded" {
			t.Fatalf("seed: %d %v", code, out)
		}
		total.Store(5)
		if code, out := poll(`{}`); code != 200 || out["flooded"] != true || len(out["run_ids"].([]any)) != 0 {
			t.Fatalf("flood: %d %v", code, out)
		}
		code, out := poll(`{"force": true}`)
		if code != 200 || out["flooded"] != false || len(out["run_ids"].([]any)) != 3 {
			t.Fatalf("force: %d %v", code, out)
		}
		if code, out := poll(`{"force": true}`); code != 200 || len(out["run_ids"].([]any)) != 0 {
			t.Fatalf("force again ran items again: %d %v", code, out)
		}
		r, b := f.do(t, "GET", "/api/flows/poll/schedule", "", "")
		var info engine.PollInfo
		if r.StatusCode != 200 || json.Unmarshal([]byte(b), &info) != nil || info.SeenCount != 5 || info.SeenNew[0] != "i5" ||
			info.Poll == nil || info.Poll.LastStatus != "ok" {
			t.Fatalf("info: %d %s", r.StatusCode, b)
		}
		if r, b := f.do(t, "POST", "/api/flows/poll/seen/reset", "", ""); r.StatusCode != 200 {
			t.Fatalf("reset: %d %s", r.StatusCode, b)
		}
		r, b = f.do(t, "GET", "/api/flows/poll/schedule", "", "")
		if r.StatusCode != 200 || json.Unmarshal([]byte(b), &info) != nil || info.SeenCount != 0 || info.Poll.Seeded {
			t.Fatalf("after reset: %s", b)
		}
		// The source fails: 502 with the reason, and the state shows it.
		src.Close()
		if code, out := poll(""); code != 502 || !strings.Contains(fmt.Sprint(out["error"]), "poll failed") {
			t.Fatalf("failing source: %d %v", code, out)
		}
	})
}
