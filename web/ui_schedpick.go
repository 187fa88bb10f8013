package web

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// The schedule picker's server side (views/schedpick.go names its fields):
// reading it from the posted form into a cron expression, and the preview
// endpoint that shows the next five fire times as the user changes it.

// schedPreviewCount is how many fire times the preview shows.
const schedPreviewCount = 5

// readSched reads the picker as posted; nil when the form has none (a form
// from before, or the API). Fields the chosen mode did not show take what
// the current cron says, so switching modes keeps the time chosen.
func readSched(v url.Values) *views.SchedState {
	mode := strings.TrimSpace(v.Get("trigger.schedule.mode"))
	if mode == "" {
		return nil
	}
	base := views.SchedStateOf(v.Get("trigger.cron"))
	st := &views.SchedState{Mode: mode, Cron: strings.TrimSpace(v.Get("trigger.cron"))}
	pick := func(name, fallback string) string {
		if vs, ok := v["trigger.schedule."+name]; ok && len(vs) > 0 {
			return strings.TrimSpace(vs[len(vs)-1])
		}
		return fallback
	}
	st.Every, st.Minute, st.Time, st.Day = pick("every", base.Every), pick("minute", base.Minute), pick("time", base.Time), pick("day", base.Day)
	if v.Get("trigger.schedule.shown") == views.SchedWeekly {
		st.Days = v["trigger.schedule.days"]
	} else if st.Days = base.Days; len(st.Days) == 0 {
		st.Days = []string{"1"}
	}
	return st
}

// cron reads the trigger's cron: written by the picker, or typed in its
// cron mode. A picker field that is wrong is an error on that field.
func (r *flowForm) cron() string {
	st := readSched(r.v)
	if st == nil || st.Mode == views.SchedCron {
		return r.trim("trigger.cron")
	}
	c, err := st.BuildCron()
	if err != nil {
		var se *views.SchedError
		if errors.As(err, &se) {
			r.errs.add(se.Field, se.Message)
		} else {
			r.errs.add("trigger.schedule.mode", err.Error())
		}
		return ""
	}
	return c
}

// schedPreview works out the next fire times of cron in zone, putting
// what is wrong on the field it belongs to: the zone's own field, the cron
// field (or, when the picker wrote the cron, its mode).
func schedPreview(cron, zone string, pickerMode string, errs map[string][]string) *views.SchedPreview {
	pv := &views.SchedPreview{Zone: "UTC", Errors: map[string]string{}}
	loc := time.UTC
	if zone = strings.TrimSpace(zone); zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			pv.Errors["trigger.timezone"] = "unknown time zone " + strconv.Quote(zone) + ": pick one from the list, such as Europe/Berlin"
		} else {
			loc, pv.Zone = l, zone
		}
	}
	if strings.TrimSpace(cron) != "" {
		sched, _, err := engine.ParseSchedule(&flows.Trigger{Cron: cron})
		switch {
		case err != nil && (pickerMode == "" || pickerMode == views.SchedCron):
			pv.Errors["trigger.cron"] = err.Error()
		case err != nil:
			pv.Errors["trigger.schedule.mode"] = err.Error()
		case len(pv.Errors) == 0:
			t := time.Now().In(loc)
			for range schedPreviewCount {
				t = sched.Next(t)
				if t.IsZero() {
					break
				}
				pv.Times = append(pv.Times, t)
			}
		}
	}
	for f, m := range pv.Errors {
		if errs != nil {
			errs[f] = append(errs[f], m)
		}
	}
	return pv
}

// schedulePreview answers the picker's changes: the builder form is
// posted, the picker rendered again with the cron it writes and the next
// fire times in the chosen zone, and errors on their own fields.
func (s *Server) schedulePreview(c *fiber.Ctx) error {
	vals, err := s.fragmentForm(c)
	if err != nil {
		return err
	}
	p := s.fragmentProps(c, vals)
	r := &flowForm{v: vals, errs: formErrors{}}
	p.Sched = readSched(vals)
	t := &p.Flow.Trigger
	t.Type, t.Timezone = flows.TriggerSchedule, strings.TrimSpace(vals.Get("trigger.timezone"))
	t.Cron = r.cron()
	for f, msgs := range r.errs {
		p.Errors[f] = msgs
	}
	mode := ""
	if p.Sched != nil {
		mode = p.Sched.Mode
		if mode != views.SchedCron && t.Cron != "" {
			p.Sched.Cron = t.Cron
		}
	}
	p.SchedPreview = schedPreview(t.Cron, t.Timezone, mode, p.Errors)
	return render(c, fiber.StatusOK, views.SchedulePicker(p))
}
