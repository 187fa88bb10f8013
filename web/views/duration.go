package views

import (
	"strconv"
	"strings"
	"time"
)

// DurationUnit is a unit a duration picker offers: its form value, its
// label and how long one of it is.
type DurationUnit struct {
	Value, Label string
	One          time.Duration
}

// DurationUnits are the units of the builder's duration pickers, smallest
// first. A duration is picked as a whole number of one of them, so that
// nobody types "1h30m" syntax.
var DurationUnits = []DurationUnit{
	{"ms", "milliseconds", time.Millisecond},
	{"s", "seconds", time.Second},
	{"m", "minutes", time.Minute},
	{"h", "hours", time.Hour},
	{"d", "days", 24 * time.Hour},
}

// StoreTTLUnits are the units "Expires after" offers on the data store
// page: minutes, hours and days.
var StoreTTLUnits = DurationUnits[2:]

// SplitDuration gives d as a whole number of the largest of units that
// holds it exactly: 90s is 90 seconds, 72h is 3 days. ok is false when
// none does (a part of a millisecond) or d is not positive.
func SplitDuration(d time.Duration, units []DurationUnit) (amount, unit string, ok bool) {
	if d <= 0 {
		return "", "", false
	}
	for i := len(units) - 1; i >= 0; i-- {
		if d%units[i].One == 0 {
			return strconv.FormatInt(int64(d/units[i].One), 10), units[i].Value, true
		}
	}
	return "", "", false
}

// DurationText writes d as a Go duration in the unit it was picked in
// ("90m", "48h", "500ms"), not as time.Duration.String's "1h30m0s". Days
// become hours: Go durations have no days.
func DurationText(d time.Duration) string {
	amount, unit, ok := SplitDuration(d, DurationUnits[:len(DurationUnits)-1])
	if !ok {
		return d.String()
	}
	return amount + unit
}

// durationPick is how a picker shows a duration: its number, its unit and
// the placeholder an empty one shows (the default, in the unit shown).
type durationPick struct {
	Amount, Unit, Placeholder string
}

// pickOf is the picker's state for d. An empty picker (d zero) shows
// unit, the one picked before its number, or else the default's unit,
// with the default as placeholder when that unit holds it exactly. ok is
// false when d is no whole number of any unit; the form then falls back to
// text.
func pickOf(d, def time.Duration, unit string) (durationPick, bool) {
	if d != 0 {
		a, u, ok := SplitDuration(d, DurationUnits)
		return durationPick{Amount: a, Unit: u}, ok
	}
	pick := durationPick{Unit: "s"}
	if a, u, ok := SplitDuration(def, DurationUnits); ok {
		pick.Placeholder, pick.Unit = a, u
	}
	for _, u := range DurationUnits {
		if u.Value == unit && unit != pick.Unit {
			pick.Unit, pick.Placeholder = unit, ""
			if def > 0 && def%u.One == 0 {
				pick.Placeholder = strconv.FormatInt(int64(def/u.One), 10)
			}
		}
	}
	return pick, true
}

// pick is pickOf for the builder's field name, which may have had its
// unit picked before its number.
func (p *BuilderProps) pick(name string, d, def time.Duration) (durationPick, bool) {
	return pickOf(d, def, p.PickedUnits[name])
}

// fieldPick is pick for a connector's duration field, whose value is
// text: empty, a duration, or a template (ok false: shown as text).
func (p *BuilderProps) fieldPick(name string, v any, def any) (durationPick, bool) {
	s := strings.TrimSpace(TextValue(v))
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return durationPick{}, false
		}
	}
	dd, _ := time.ParseDuration(TextValue(def))
	return p.pick(name, d, dd)
}
