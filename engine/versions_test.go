package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestTurningOffKeepsVersion: turning a timed flow off makes no version,
// is recorded, and a tick computed before it (same version) no longer
// fires: the store checks that the flow is on.
func TestTurningOffKeepsVersion(t *testing.T) {
	ctx := WithActor(context.Background(), Actor{Kind: "user", Name: "ada"})
	clk := newFakeClock(utc("2027-01-04T10:00:00Z"))
	se := startSched(t, "", clk)
	a := se.saveFlow(t, scheduleFlow("h", "0 0 * * * *", "", ""))
	off, err := se.SaveFlow(ctx, []byte(strings.Replace(scheduleFlow("h", "0 0 * * * *", "", ""), `"enabled": true`, `"enabled": false`, 1)), false, "h")
	if err != nil {
		t.Fatal(err)
	}
	if off.Record.Version != a.Record.Version || off.Flow().Enabled {
		t.Fatalf("turned off: version %d (was %d), enabled %v", off.Record.Version, a.Record.Version, off.Flow().Enabled)
	}
	if _, err := se.FireTick(ctx, a, utc("2027-01-04T11:00:00Z")); !errors.Is(err, ErrStaleVersion) {
		t.Fatalf("a tick of the turned-off flow: %v", err)
	}
	h, err := se.FlowHistory(ctx, "h", 0)
	if err != nil || len(h.Versions) != 1 || len(h.StateChanges) != 1 || h.StateChanges[0].By.Name != "ada" || h.StateChanges[0].Enabled {
		t.Fatalf("history: %+v %v", h, err)
	}
}
