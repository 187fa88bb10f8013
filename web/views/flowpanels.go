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
	// MoreRefusals says the flow has more than those listed.
	MoreRefusals bool
	// Schedule describes a schedule or poll flow (nil for others);
	// ScheduleError says why it could not be read.
	Schedule      *engine.PollInfo
	ScheduleError string
	// Versions are the newest versions of the flow, newest first.
	Versions []engine.VersionInfo
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
