package views

import "github.com/switchyard/switchyard/flows"

// RunNowResultProps is what a Run now did.
type RunNowResultProps struct {
	FlowID string
	// Message says what happened; Error, when set, why nothing could run.
	Message string
	Error   string
	// RunIDs are the runs started, if any.
	RunIDs []string
}

// runNowHelp says what Run now does for the flow's trigger.
func runNowHelp(p *BuilderProps) string {
	switch p.Flow.Trigger.Type {
	case flows.TriggerSchedule:
		return "Runs the saved flow once now, as a tick at this moment would; its schedule is not changed."
	case flows.TriggerPoll:
		return "Polls the source now: each new item starts a run, as on a scheduled poll. Nothing new: nothing runs."
	}
	return "Runs the saved flow for real now, with the Test payload above (the latest event when there is one): its steps send what they would send."
}

// runNowLabel is the button's text.
func runNowLabel(p *BuilderProps) string {
	if p.Flow.Trigger.Type == flows.TriggerPoll {
		return "Poll now"
	}
	return "Run now"
}

// flowIDOr is the flow id, or a placeholder while the flow has none.
func flowIDOr(id string) string {
	if id == "" {
		return "{id}"
	}
	return id
}

// runNowTitle is the flows list's Run now tooltip.
func runNowTitle(trigger string) string {
	switch trigger {
	case flows.TriggerSchedule:
		return "Run one tick now"
	case flows.TriggerPoll:
		return "Poll now: each new item starts a run"
	}
	return "Run now with the latest event as the payload"
}
