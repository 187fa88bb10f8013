package views

import (
	"fmt"

	"github.com/switchyard/switchyard/internal/units"
)

// historyShare is a flow's part of the run history: "41 % · 12MiB".
func historyShare(r FlowRow) string {
	pct := r.HistoryShare * 100
	switch {
	case r.HistoryBytes == 0:
		return "none"
	case pct < 1:
		return "<1 % · " + units.FormatBytes(r.HistoryBytes)
	}
	return fmt.Sprintf("%.0f %% · %s", pct, units.FormatBytes(r.HistoryBytes))
}
