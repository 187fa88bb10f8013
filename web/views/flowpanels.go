package views

import (
	"time"

	"github.com/switchyard/switchyard/engine"
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
