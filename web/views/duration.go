package views

import (
	"strconv"
	"strings"
	"time"
)

// Unit is a unit an amount picker offers: its form value, its label and
// how much one of it is (nanoseconds for a duration, bytes for a size).
type Unit struct {
	Value, Label string
	One          int64
}

// DurationUnits are the units of the builder's duration pickers, smallest
// first. A duration is picked as a whole number of one of them, so that
// nobody types "1h30m" syntax.
var DurationUnits = []Unit{
	{"ms", "milliseconds", int64(time.Millisecond)},
	{"s", "seconds", int64(time.Second)},
	{"m", "minutes", int64(time.Minute)},
	{"h", "hours", int64(time.Hour)},
	{"d", "days", int64(24 * time.Hour)},
}

// StoreTTLUnits are the units "Expires after" offers on the data store
// page: minutes, hours and days.
var StoreTTLUnits = DurationUnits[2:]

// SizeUnits are the units of a size in bytes, such as a webhook's body
// limit (KB and MB of 1,024).
var SizeUnits = []Unit{{"b", "bytes", 1}, {"kb", "KB", 1 << 10}, {"mb", "MB", 1 << 20}}

// SplitAmount gives n as a whole number of the largest of units that
// holds it exactly: 90s is 90 seconds, 72h is 3 days, 2097152 bytes 2 MB.
// ok is false when none does (a part of a millisecond) or n is not
// positive.
func SplitAmount(n int64, units []Unit) (amount, unit string, ok bool) {
	if n <= 0 {
		return "", "", false
	}
	for i := len(units) - 1; i >= 0; i-- {
		if n%units[i].One == 0 {
			return strconv.FormatInt(n/units[i].One, 10), units[i].Value, true
		}
	}
	return "", "", false
}

// DurationText writes d as a Go duration in the unit it was picked in
// ("90m", "48h", "500ms"), not as time.Duration.String's "1h30m0s". Days
// become hours: Go durations have no days.
func DurationText(d time.Duration) string {
	amount, unit, ok := SplitAmount(int64(d), DurationUnits[:len(DurationUnits)-1])
	if !ok {
		return d.String()
	}
	return amount + unit
}

// amountPick is how a picker shows an amount: its number, its unit and
// the placeholder an empty one shows (the default, in the unit shown).
type amountPick struct {
	Amount, Unit, Placeholder string
}

// pickOf is the picker's state for n of units. An empty picker (n zero)
// shows unit, the one picked before its number, or else the default's
// unit, with the default as placeholder when that unit holds it exactly.
// ok is false when n is no whole number of any unit; the form then falls
// back to text.
func pickOf(n, def int64, unit string, units []Unit) (amountPick, bool) {
	if n != 0 {
		a, u, ok := SplitAmount(n, units)
		return amountPick{Amount: a, Unit: u}, ok
	}
	pick := amountPick{Unit: units[0].Value}
	if a, u, ok := SplitAmount(def, units); ok {
		pick.Placeholder, pick.Unit = a, u
	}
	for _, u := range units {
		if u.Value == unit && unit != pick.Unit {
			pick.Unit, pick.Placeholder = unit, ""
			if def > 0 && def%u.One == 0 {
				pick.Placeholder = strconv.FormatInt(def/u.One, 10)
			}
		}
	}
	return pick, true
}

// pick is pickOf for the builder's duration field name, which may have
// had its unit picked before its number.
func (p *BuilderProps) pick(name string, d, def time.Duration) (amountPick, bool) {
	pick, ok := p.pickIn(name, int64(d), int64(def), DurationUnits)
	if d == 0 && def == 0 && p.PickedUnits[name] == "" {
		pick.Unit = "s" // an empty wait starts in seconds, not milliseconds
	}
	return pick, ok
}

// pickIn is pickOf for the builder's field name in units.
func (p *BuilderProps) pickIn(name string, n, def int64, units []Unit) (amountPick, bool) {
	return pickOf(n, def, p.PickedUnits[name], units)
}

// fieldPick is pick for a connector's duration field, whose value is
// text: empty, a duration, or a template (ok false: shown as text).
func (p *BuilderProps) fieldPick(name string, v any, def any) (amountPick, bool) {
	s := strings.TrimSpace(TextValue(v))
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return amountPick{}, false
		}
	}
	dd, _ := time.ParseDuration(TextValue(def))
	return p.pick(name, d, dd)
}
