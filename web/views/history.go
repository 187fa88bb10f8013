package views

import (
	"strings"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// HistoryProps is a flow's version history: its versions, the times it was
// turned on or off, and the changes between two chosen versions.
type HistoryProps struct {
	Page     PageProps
	FlowID   string
	FlowName string
	History  engine.FlowHistory
	// From and To are the versions compared (From 0: none, the first
	// version against nothing); Changes what changed between them.
	From, To int64
	Changes  []flows.Change
}

// changePath makes a change's field path readable: "steps[to_crm].with.url"
// becomes "step to_crm › with › url".
func changePath(p string) string {
	if p == "steps" {
		return "order of steps"
	}
	var b strings.Builder
	for i, part := range strings.Split(p, ".") {
		if i > 0 {
			b.WriteString(" › ")
		}
		if id, ok := strings.CutPrefix(part, "steps["); ok {
			part = "step " + strings.TrimSuffix(id, "]")
		}
		b.WriteString(part)
	}
	return b.String()
}

func versionLabel(v engine.VersionInfo) string {
	s := "Version " + itoa(int(v.Version))
	if v.Current {
		s += " (current)"
	}
	return s
}

func savedBy(v engine.VersionInfo) string {
	return actorWords(engine.Actor{Kind: v.SavedByKind, Name: v.SavedBy})
}

func versionWhen(v engine.VersionInfo) string {
	if v.SavedAt == nil {
		return "—"
	}
	return when(*v.SavedAt)
}

func stateLabel(enabled bool) string {
	if enabled {
		return "turned on"
	}
	return "turned off"
}

func actorName(a engine.Actor) string {
	if a.Name == "" {
		return "—"
	}
	return a.Name
}

func historyURL(id string, from, to int64) string {
	return "/flows/" + id + "/history?from=" + itoa(int(from)) + "&to=" + itoa(int(to)) + "#diff"
}

func restoreAction(id string, n int64) string {
	return "/flows/" + id + "/versions/" + itoa(int(n)) + "/restore"
}

// previousVersion is the version listed after i (the one before it), or 0.
func previousVersion(vs []engine.VersionInfo, i int) int64 {
	if i+1 < len(vs) {
		return vs[i+1].Version
	}
	return 0
}
