package views

import (
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// FlowPanelsProps are the panels under a stored flow's builder: what its
// trigger has been doing.
type FlowPanelsProps struct {
	FlowID string
	CSRF   string
	// ShowRefusals is set for webhook flows (and any flow with refusals);
	// Refusals are the newest refused requests, newest first.
	ShowRefusals bool
	Refusals     []engine.Refusal
	// MoreRefusals says the flow has more than those listed.
	MoreRefusals bool
	// Schedule describes a schedule or poll flow (nil for others);
	// ScheduleError says why it could not be read.
	Schedule      *engine.PollInfo
	ScheduleError string
	// Versions are the newest versions of the flow, newest first.
	Versions []engine.VersionInfo
	// Hold is whether the flow is paused and what waits (nil: unknown).
	Hold *engine.FlowHold
}

// fireTime shows a next fire time in the flow's own time zone.
func fireTime(t time.Time) string { return t.Format("Mon 2006-01-02 15:04:05 MST") }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func pollStatusClass(s string) string {
	switch s {
	case "ok", "seeded":
		return "badge status-succeeded"
	case "error":
		return "badge status-failed"
	case "flood":
		return "badge status-waiting"
	}
	return "badge status-skipped"
}

func pollAction(id string) string { return "/flows/" + id + "/poll" }

func resetAction(id string) string { return "/flows/" + id + "/seen/reset" }

func pauseAction(id string, paused bool) string {
	if paused {
		return "/flows/" + id + "/resume"
	}
	return "/flows/" + id + "/pause"
}

// heldWords says how many runs a paused flow holds.
func heldWords(n int) string {
	switch n {
	case 0:
		return "nothing waiting"
	case 1:
		return "1 run waiting"
	}
	return itoa(n) + " runs waiting"
}

func concurrencyText(n int) string {
	if n <= 0 {
		return ""
	}
	return itoa(n)
}

// RatePeriods are the periods a connection's rate limit is given in: the
// value sent and its words.
var RatePeriods = [][2]string{{"1s", "second"}, {"1m", "minute"}, {"1h", "hour"}}

func ratePerSelected(v string) string {
	if v == "" {
		return "1s"
	}
	return v
}

// rateWords says a rate limit in words ("10 per second").
func rateWords(r flows.RateLimit) string {
	per := r.Per.Std().String()
	for _, o := range RatePeriods {
		if d, err := time.ParseDuration(o[0]); err == nil && d == r.Per.Std() {
			per = o[1]
		}
	}
	return itoa(r.Requests) + " requests per " + per
}
