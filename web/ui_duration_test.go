package web

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

func TestPickedDuration(t *testing.T) {
	for _, c := range []struct {
		amount, unit string
		want         time.Duration
		msg          string
	}{
		{"", "s", 0, ""},
		{" 45 ", "s", 45 * time.Second, ""},
		{"500", "ms", 500 * time.Millisecond, ""},
		{"90", "m", 90 * time.Minute, ""},
		{"2", "d", 48 * time.Hour, ""},
		{"1h30m", "s", 90 * time.Minute, ""}, // typed as a duration: taken as such
		{"soon", "s", 0, "write a whole number"},
		{"1.5", "h", 0, "write a whole number"},
		{"0", "s", 0, "write a whole number from 1 up"},
		{"-3", "s", 0, "write a whole number from 1 up"},
		{"9999999999", "d", 0, "at most 100 years"},
		{"5", "weeks", 0, "choose milliseconds, seconds, minutes, hours or days"},
	} {
		d, msg := pickedDuration(c.amount, c.unit, views.DurationUnits)
		if d != c.want || !strings.Contains(msg, c.msg) || (c.msg == "") != (msg == "") {
			t.Errorf("pickedDuration(%q, %q) = %v, %q; want %v, %q", c.amount, c.unit, d, msg, c.want, c.msg)
		}
	}
	if _, msg := pickedDuration("3", "s", views.StoreTTLUnits); msg != "choose minutes, hours or days" {
		t.Errorf("store units: %q", msg)
	}
	if n, msg := pickedAmount("3", "kb", views.SizeUnits, maxPickedSize, "1 TB"); n != 3072 || msg != "" {
		t.Errorf("3 KB = %d bytes, %q", n, msg)
	}
	if _, msg := pickedAmount("2000000", "mb", views.SizeUnits, maxPickedSize, "1 TB"); msg != "at most 1 TB" {
		t.Errorf("2,000,000 MB: %q", msg)
	}
}

// TestBuilderPicksDurations builds a flow whose every duration is picked as
// a number and a unit (the sync reply's wait, a request's timeout, retry
// waits, a delay): what is saved is those durations, the form shows them
// back in the unit they were picked in, and it round-trips unchanged. A
// duration the flow's JSON holds as a template stays text.
func TestBuilderPicksDurations(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)
	_, page := b.do("GET", "/flows/new", nil)
	v := formValues(t, page)
	// The sender's wait comes with "reply after the run" (it is refused
	// with any other reply), as a picker showing its default.
	if v.Has("trigger.timeout") {
		t.Fatal("a webhook answered at once shows how long the sender waits")
	}
	v.Set("name", "Waits")
	v.Set("trigger.path", "waits")
	v.Set("trigger.respond", flows.RespondSync)
	_, page = b.builder("/flows/new", v, "refresh")
	v = formValues(t, page)
	if v.Get("trigger.timeout.unit") != "s" || !strings.Contains(page, `id="trigger-timeout-unit"`) || !strings.Contains(page, `placeholder="30"`) {
		t.Fatalf("sync wait not a picker showing its default of 30 seconds: %v", v)
	}
	v.Set("trigger.timeout", "45")
	// A size is picked the same way: the body limit in MB.
	if v.Get("trigger.max_body.unit") != "mb" || !strings.Contains(page, `name="trigger.max_body" value="" placeholder="1"`) {
		t.Fatalf("the body limit is not a picker showing its default of 1 MB: %q", v.Get("trigger.max_body.unit"))
	}
	v.Set("trigger.max_body", "2")
	_, page = b.builder("/flows/new", v, "add:steps:http.request")
	v = formValues(t, page)
	if v.Get("steps.0.with.timeout.unit") != "s" || v.Get("steps.0.retry.backoff.unit") != "s" || v.Get("steps.0.retry.max_backoff.unit") != "h" {
		t.Fatalf("request timeout and retry waits not pickers: %v", v)
	}
	// A unit picked before its number stays picked when the builder is
	// drawn again, with the default (an hour) shown in it.
	v.Set("steps.0.retry.max_backoff.unit", "m")
	_, page = b.builder("/flows/new", v, "refresh")
	if w := formValues(t, page); w.Get("steps.0.retry.max_backoff.unit") != "m" || !strings.Contains(page, `name="steps.0.retry.max_backoff" value="" placeholder="60"`) {
		t.Fatalf("unit picked first: %q", w.Get("steps.0.retry.max_backoff.unit"))
	}
	v.Set("steps.0.with.url", "https://crm.example.com/leads")
	v.Set("steps.0.with.method", "POST")
	v.Set("steps.0.with.timeout", "10")
	v.Set("steps.0.retry.attempts", "4")
	v.Set("steps.0.retry.backoff", "3")
	v.Set("steps.0.retry.max_backoff", "2")
	v.Set("steps.0.retry.max_backoff.unit", "m")
	_, page = b.builder("/flows/new", v, "add:steps:flow.delay")
	v = formValues(t, page)
	v.Set("steps.1.with.duration", "2")
	v.Set("steps.1.with.duration.unit", "d")

	// A number that is none is refused beside its field, in words.
	bad := cloneValues(v)
	bad.Set("steps.1.with.duration", "two")
	if r, page := b.builder("/flows/new", bad, "save"); r.StatusCode != 200 || !strings.Contains(page, `id="steps-1-with-duration-error"`) ||
		!strings.Contains(errorSummary(page), "write a whole number") {
		t.Fatalf("bad amount: %d %s", r.StatusCode, errorSummary(page))
	}

	if r, page := b.builder("/flows/new", v, "save"); r.StatusCode != 204 {
		t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
	}
	a, err := f.eng.Flow("waits")
	if err != nil {
		t.Fatal(err)
	}
	fl, err := flows.Decode(a.Record.Flow)
	if err != nil {
		t.Fatal(err)
	}
	req, delay := fl.Steps[0], fl.Steps[1]
	if fl.Trigger.Timeout.Std() != 45*time.Second || fl.Trigger.MaxBody != 2<<20 || req.With["timeout"] != "10s" || delay.With["duration"] != "48h" ||
		req.Retry == nil || req.Retry.Attempts != 4 || req.Retry.Backoff.Std() != 3*time.Second || req.Retry.MaxBackoff.Std() != 2*time.Minute {
		t.Fatalf("saved: %s", a.Record.Flow)
	}

	// The edit page shows each in its unit, and saving it unchanged keeps
	// the flow as it is.
	_, page = b.do("GET", "/flows/waits/edit", nil)
	v = formValues(t, page)
	for name, want := range map[string]string{"trigger.timeout": "45 s", "steps.0.with.timeout": "10 s", "steps.0.retry.backoff": "3 s",
		"steps.0.retry.max_backoff": "2 m", "steps.1.with.duration": "2 d", "trigger.max_body": "2 mb"} {
		if got := v.Get(name) + " " + v.Get(name+".unit"); got != want {
			t.Errorf("%s shows %q, want %q", name, got, want)
		}
	}
	if r, body := b.builder("/flows/waits/edit", v, "save"); r.StatusCode != 204 {
		t.Fatalf("re-save: %d %s", r.StatusCode, errorSummary(body))
	}
	if a2, _ := f.eng.Flow("waits"); string(a2.Record.Flow) != string(a.Record.Flow) || a2.Record.Version != a.Record.Version {
		t.Fatalf("round trip changed the flow:\n%s\nwas:\n%s", a2.Record.Flow, a.Record.Flow)
	}

	// Answering at once again drops the wait with its field, instead of
	// refusing the save ("only allowed with respond sync").
	async := cloneValues(v)
	async.Set("trigger.respond", "")
	_, page = b.builder("/flows/waits/edit", async, "refresh")
	if w := formValues(t, page); w.Has("trigger.timeout") {
		t.Fatal("the wait is still shown after choosing to answer at once")
	} else if r, body := b.builder("/flows/waits/edit", w, "save"); r.StatusCode != 204 {
		t.Fatalf("save answered at once: %d %s", r.StatusCode, errorSummary(body))
	}
	if a3, _ := f.eng.Flow("waits"); a3.Flow().Trigger.Timeout != 0 || a3.Flow().Trigger.Respond != "" {
		t.Fatalf("answered at once, the flow keeps %v %q", a3.Flow().Trigger.Timeout, a3.Flow().Trigger.Respond)
	}

	// A delay given by the payload (a template, set in the JSON) stays text.
	fl.Steps[1].With["duration"] = "{{ trigger.body.wait }}"
	raw, _ := flows.Encode(fl)
	_, page = b.builder("/flows/waits/edit", v, "tab:json")
	jv := formValues(t, page)
	jv.Set("_json", string(raw))
	_, page = b.builder("/flows/waits/edit", jv, "fromjson")
	v = formValues(t, page)
	if v.Get("steps.1.with.duration") != "{{ trigger.body.wait }}" || v.Has("steps.1.with.duration.unit") {
		t.Fatalf("templated duration: %q, unit %q", v.Get("steps.1.with.duration"), v.Get("steps.1.with.duration.unit"))
	}
}
