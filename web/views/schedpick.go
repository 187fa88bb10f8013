package views

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// The schedule picker writes a schedule trigger's cron from choices a
// person makes ("on weekdays at 09:00"); cron stays as its advanced mode.
// Its form fields are trigger.schedule.mode and, by mode,
// trigger.schedule.every / .minute / .time / .days / .day; trigger.cron in
// cron mode.

// Schedule picker modes.
const (
	SchedEvery    = "every"
	SchedHourly   = "hourly"
	SchedDaily    = "daily"
	SchedWeekdays = "weekdays"
	SchedWeekly   = "weekly"
	SchedMonthly  = "monthly"
	SchedCron     = "cron"
)

// SchedModes are the picker's modes in the order it offers them.
var SchedModes = []struct{ Mode, Label string }{
	{SchedEvery, "Every few minutes"},
	{SchedHourly, "Every hour"},
	{SchedDaily, "Every day"},
	{SchedWeekdays, "On weekdays (Monday to Friday)"},
	{SchedWeekly, "Every week, on chosen days"},
	{SchedMonthly, "Every month, on one day"},
	{SchedCron, "Advanced: a cron expression"},
}

// Weekdays are the days the weekly mode offers: cron's number and name.
var Weekdays = []struct{ Num, Label string }{
	{"1", "Mon"}, {"2", "Tue"}, {"3", "Wed"}, {"4", "Thu"}, {"5", "Fri"}, {"6", "Sat"}, {"0", "Sun"},
}

// SchedState is the picker as the form holds it.
type SchedState struct {
	Mode   string
	Every  string   // minutes, every mode
	Minute string   // hourly mode: minutes past the hour
	Time   string   // HH:MM, daily, weekdays, weekly and monthly modes
	Days   []string // cron day numbers (0 = Sunday), weekly mode
	Day    string   // day of the month, monthly mode
	Cron   string   // cron mode
}

// SchedError is a problem of one picker field: Field is its form name.
type SchedError struct{ Field, Message string }

// Error returns the message, which names no field (the form shows it
// beside its field).
func (e *SchedError) Error() string { return e.Message }

// BuildCron writes the cron expression of the picker's choices, or says which
// field is wrong.
func (s *SchedState) BuildCron() (string, error) {
	atTime := func() (h, m int, err error) {
		t, perr := time.Parse("15:04", strings.TrimSpace(s.Time))
		if perr != nil {
			return 0, 0, &SchedError{"trigger.schedule.time", "enter a time such as 09:00"}
		}
		return t.Hour(), t.Minute(), nil
	}
	number := func(field, v string, lo, hi int, what string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return 0, &SchedError{field, fmt.Sprintf("%s: a whole number from %d to %d", what, lo, hi)}
		}
		return n, nil
	}
	switch s.Mode {
	case SchedEvery:
		n, err := number("trigger.schedule.every", s.Every, 1, 59, "minutes")
		if err != nil {
			return "", err
		}
		if n == 1 {
			return "* * * * *", nil
		}
		return fmt.Sprintf("*/%d * * * *", n), nil
	case SchedHourly:
		m, err := number("trigger.schedule.minute", s.Minute, 0, 59, "minutes past the hour")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d * * * *", m), nil
	case SchedDaily, SchedWeekdays, SchedWeekly, SchedMonthly:
		h, m, err := atTime()
		if err != nil {
			return "", err
		}
		switch s.Mode {
		case SchedDaily:
			return fmt.Sprintf("%d %d * * *", m, h), nil
		case SchedWeekdays:
			return fmt.Sprintf("%d %d * * 1-5", m, h), nil
		case SchedWeekly:
			var days []string
			for _, d := range Weekdays {
				if slices.Contains(s.Days, d.Num) {
					days = append(days, d.Num)
				}
			}
			if len(days) == 0 {
				return "", &SchedError{"trigger.schedule.days", "choose at least one day"}
			}
			return fmt.Sprintf("%d %d * * %s", m, h, strings.Join(days, ",")), nil
		default:
			d, err := number("trigger.schedule.day", s.Day, 1, 31, "day of the month")
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%d %d %d * *", m, h, d), nil
		}
	}
	return strings.TrimSpace(s.Cron), nil
}

var (
	cronNum   = `([0-9]|[1-5][0-9])`
	cronHour  = `([0-9]|1[0-9]|2[0-3])`
	reEvery   = regexp.MustCompile(`^(\*|\*/` + cronNum + `) \* \* \* \*$`)
	reHourly  = regexp.MustCompile(`^` + cronNum + ` \* \* \* \*$`)
	reAtTime  = regexp.MustCompile(`^` + cronNum + ` ` + cronHour + ` (\*|[1-9]|[12][0-9]|3[01]) \* (\*|1-5|[0-6](,[0-6])*)$`)
	dayOrders = map[string]int{"1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "0": 6}
)

// SchedStateOf reads a cron expression back into the picker: one it
// writes opens in its mode, anything else (and no cron yet: a new
// schedule, which starts as every day at 09:00) in cron mode.
func SchedStateOf(cron string) *SchedState {
	c := strings.Join(strings.Fields(cron), " ")
	if c == "" {
		return &SchedState{Mode: SchedDaily, Time: "09:00", Every: "15", Minute: "0", Day: "1"}
	}
	st := &SchedState{Every: "15", Minute: "0", Time: "09:00", Day: "1"}
	if m := reEvery.FindStringSubmatch(c); m != nil {
		st.Mode, st.Every = SchedEvery, "1"
		if m[2] != "" {
			st.Every = m[2]
		}
		if n, _ := strconv.Atoi(st.Every); n >= 1 {
			return st
		}
	}
	if m := reHourly.FindStringSubmatch(c); m != nil {
		st.Mode, st.Minute = SchedHourly, m[1]
		return st
	}
	if m := reAtTime.FindStringSubmatch(c); m != nil {
		mi, _ := strconv.Atoi(m[1])
		h, _ := strconv.Atoi(m[2])
		st.Time = fmt.Sprintf("%02d:%02d", h, mi)
		dom, dow := m[3], m[4]
		switch {
		case dom == "*" && dow == "*":
			st.Mode = SchedDaily
			return st
		case dom == "*" && dow == "1-5":
			st.Mode = SchedWeekdays
			return st
		case dom == "*":
			days := strings.Split(dow, ",")
			// Only a list the picker would write: each day once, Monday
			// first, Sunday last.
			if slices.IsSortedFunc(days, func(a, b string) int { return dayOrders[a] - dayOrders[b] }) && len(slices.Compact(slices.Clone(days))) == len(days) {
				st.Mode, st.Days = SchedWeekly, days
				return st
			}
		case dow == "*":
			st.Mode, st.Day = SchedMonthly, dom
			return st
		}
	}
	return &SchedState{Mode: SchedCron, Cron: cron, Every: "15", Minute: "0", Time: "09:00", Day: "1"}
}

// shows reports whether the picker shows a field in its mode.
func (s *SchedState) shows(field string) bool {
	switch field {
	case "every":
		return s.Mode == SchedEvery
	case "minute":
		return s.Mode == SchedHourly
	case "time":
		return s.Mode == SchedDaily || s.Mode == SchedWeekdays || s.Mode == SchedWeekly || s.Mode == SchedMonthly
	case "days":
		return s.Mode == SchedWeekly
	case "day":
		return s.Mode == SchedMonthly
	case "cron":
		return s.Mode == SchedCron
	}
	return false
}

// hasDay reports whether the weekly mode has the day chosen.
func (s *SchedState) hasDay(num string) bool { return slices.Contains(s.Days, num) }

// SchedPreview is the next fire times of a schedule in its zone, or why
// there are none.
type SchedPreview struct {
	Zone  string
	Times []time.Time
	// Errors are the problems found, by form field name.
	Errors map[string]string
}

// schedule is what the picker renders: its state and preview.
func (p *BuilderProps) schedule() *SchedState {
	if p.Sched != nil {
		return p.Sched
	}
	return SchedStateOf(p.Flow.Trigger.Cron)
}

// schedTime formats a fire time for the preview, in its zone.
func schedTime(t time.Time) string { return t.Format("Mon 2 Jan 2006, 15:04 MST") }

// schedLive makes a picker input refresh the picker and its preview as
// the user changes it (and, for typed fields, while typing).
func schedLive(p *BuilderProps) templ.Attributes {
	if p.SchedURL == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{
		"hx-post":    p.SchedURL,
		"hx-trigger": "change, keyup changed delay:500ms",
		"hx-target":  "#schedule-picker",
		"hx-select":  "#schedule-picker",
		"hx-swap":    "outerHTML",
		// The latest change wins: an answer to an older one is dropped.
		"hx-sync": "closest .schedule-picker:replace",
	}
}
