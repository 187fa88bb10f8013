package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/web/views"
)

// maxPickedDuration bounds a picked duration (a number of days would
// otherwise overflow one); every flow setting's own limit is lower.
const maxPickedDuration = 100 * 365 * 24 * time.Hour

// maxPickedSize bounds a picked size; the flow's own limit is lower.
const maxPickedSize = 1 << 40

// pickedDuration reads a duration picker: a whole number of one of units.
// An amount typed as a duration ("90s", "1h30m") is taken as such,
// whatever the unit says. No amount, no duration (0 and no message).
// msg says what is wrong, in the user's words.
func pickedDuration(amount, unit string, units []views.Unit) (d time.Duration, msg string) {
	amount = strings.TrimSpace(amount)
	if _, err := strconv.ParseInt(amount, 10, 64); err != nil {
		if d, err := time.ParseDuration(amount); err == nil && d > 0 {
			return d, ""
		}
	}
	n, msg := pickedAmount(amount, unit, units, int64(maxPickedDuration), "100 years")
	return time.Duration(n), msg
}

// pickedAmount reads an amount picker: a whole number from 1 up of one of
// units, at most most (said as mostText). No amount, no value (0 and no
// message).
func pickedAmount(amount, unit string, units []views.Unit, most int64, mostText string) (n int64, msg string) {
	amount = strings.TrimSpace(amount)
	if amount == "" {
		return 0, ""
	}
	n, err := strconv.ParseInt(amount, 10, 64)
	if err != nil || n <= 0 {
		return 0, "write a whole number from 1 up, such as 30, or leave it empty"
	}
	labels := make([]string, len(units))
	for i, u := range units {
		labels[i] = u.Label
		if u.Value == unit {
			if n > most/u.One {
				return 0, "at most " + mostText
			}
			return n * u.One, ""
		}
	}
	return 0, "choose " + strings.Join(labels[:len(labels)-1], ", ") + " or " + labels[len(labels)-1]
}
