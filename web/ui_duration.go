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

// pickedDuration reads a duration picker: a whole number of one of units.
// An amount typed as a duration ("90s", "1h30m") is taken as such,
// whatever the unit says. No amount, no duration (0 and no message).
// msg says what is wrong, in the user's words.
func pickedDuration(amount, unit string, units []views.DurationUnit) (d time.Duration, msg string) {
	amount = strings.TrimSpace(amount)
	if amount == "" {
		return 0, ""
	}
	n, err := strconv.ParseInt(amount, 10, 64)
	if err != nil {
		if d, err := time.ParseDuration(amount); err == nil && d > 0 {
			return d, ""
		}
	}
	if err != nil || n <= 0 {
		return 0, "write a whole number from 1 up, such as 30, or leave it empty"
	}
	labels := make([]string, len(units))
	for i, u := range units {
		labels[i] = u.Label
		if u.Value == unit {
			if n > int64(maxPickedDuration/u.One) {
				return 0, "at most 100 years"
			}
			return time.Duration(n) * u.One, ""
		}
	}
	return 0, "choose " + strings.Join(labels[:len(labels)-1], ", ") + " or " + labels[len(labels)-1]
}
