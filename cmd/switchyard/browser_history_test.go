package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestBrowserHistoryShare: the flows page shows each flow's share of the
// run history beside it, and the history's size and limits under the
// list, matching GET /api/history.
func TestBrowserHistoryShare(t *testing.T) {
	in := newInstance(t, "--retention-runs", "500", "--retention-size", "1GiB")
	in.start()
	for _, id := range []string{"big", "small"} {
		in.mustAPI(201, "POST", "/api/flows", `{"id": "`+id+`", "name": "`+id+`", "enabled": true,
		  "trigger": {"type": "webhook", "path": "`+id+`"},
		  "steps": [{"id": "keep", "use": "data.set", "with": {"body": "{{ trigger.body }}"}}]}`)
	}
	pad := strings.Repeat("y", 2000)
	var last string
	for i := 0; i < 9; i++ {
		last = in.hookJSON("big", `{"n": `+strconv.Itoa(i)+`, "pad": "`+pad+`"}`)
	}
	in.waitRun(last)
	in.waitRun(in.hookJSON("small", `{"n": 1}`))
	h := getHistory(in)
	if h.Runs != 10 || len(h.Flows) != 2 || h.Flows[0].FlowID != "big" || h.Flows[0].Share < 0.8 {
		t.Fatalf("GET /api/history: %+v", h)
	}

	b := newBrowser(t, in)
	b.setUp("owner", "a long enough password")
	big := b.waitText("#flow-big .history-share", "%")
	small := b.text("#flow-small .history-share")
	want := strconv.Itoa(int(h.Flows[0].Share*100+0.5)) + " %"
	if !strings.HasPrefix(strings.TrimSpace(big), want) || !strings.Contains(small, "%") {
		t.Errorf("history column: big %q (want %s …), small %q", big, want, small)
	}
	note := b.text("#history-note")
	for _, w := range []string{"10 runs", "at most 1GiB", "at most 500 runs per flow", "30 days", "Database file"} {
		if !strings.Contains(note, w) {
			t.Errorf("history note %q lacks %q", note, w)
		}
	}
	b.screenshot("flows-history")
}
