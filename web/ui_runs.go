package web

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/web/views"
)

// runsPageSize is how many runs one page of history shows.
const runsPageSize = 50

// periods are the run history's time filters.
var periods = map[string]time.Duration{
	"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour,
}

// runsProps reads the filter from the query string and loads one page.
func (s *Server) runsProps(c *fiber.Ctx) (views.RunsProps, error) {
	p := views.RunsProps{
		Filter: views.RunsFilter{Flow: c.Query("flow"), Status: c.Query("status"), Period: c.Query("period"), Q: c.Query("q")},
	}
	attention := c.Query("resolved") == "false"
	if attention {
		// Needs attention: the failed runs nothing resolved yet.
		p.Page = s.pageProps(c, "Needs attention", "attention")
		p.Filter.Resolved, p.Filter.Status = "false", ""
	} else {
		p.Page = s.pageProps(c, "Runs", "runs")
	}
	p.FlowNames = map[string]string{}
	for _, a := range s.eng.Flows() {
		p.FlowIDs = append(p.FlowIDs, a.Flow().ID)
		p.FlowNames[a.Flow().ID] = a.Flow().Name
	}
	if p.Filter.Flow != "" && !contains(p.FlowIDs, p.Filter.Flow) {
		// A deleted flow's runs stay readable.
		p.FlowIDs = append(p.FlowIDs, p.Filter.Flow)
		sort.Strings(p.FlowIDs)
	}
	if st := engine.RunStatus(p.Filter.Status); st != "" && !st.Valid() {
		p.Error = "Unknown status " + p.Filter.Status + "."
		p.Filter.Status = ""
	}
	if _, ok := periods[p.Filter.Period]; !ok {
		p.Filter.Period = ""
	}
	if p.Filter.Q != "" {
		if _, err := engine.ParseSearch(p.Filter.Q); err != nil {
			p.Error = "Search: " + err.Error() + "."
			p.Filter.Q = ""
		}
	}
	f := runsFilter(p.Filter)
	f.Cursor, f.Limit = c.Query("cursor"), runsPageSize
	page, err := s.eng.ListRuns(c.UserContext(), f)
	if errors.Is(err, engine.ErrBadID) {
		p.Error = "That page link is broken; showing the newest runs."
		f.Cursor = ""
		page, err = s.eng.ListRuns(c.UserContext(), f)
	}
	if err != nil {
		return p, err
	}
	p.Runs = page.Runs
	var failed []string
	for _, r := range page.Runs {
		if r.Status == engine.RunFailed {
			failed = append(failed, r.ID)
		}
	}
	if p.Resolved, err = s.eng.ResolvedAmong(c.UserContext(), failed); err != nil {
		return p, err
	}
	q := runsQuery(p.Filter)
	base := "/runs"
	if enc := q.Encode(); enc != "" {
		base += "?" + enc
	}
	if page.NextCursor != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", page.NextCursor)
		p.NextURL = "/runs?" + nq.Encode()
	}
	if f.Cursor != "" {
		p.FirstURL = base
	} else {
		// Only the first page changes as runs arrive.
		p.RowsURL = "/runs/rows"
		if enc := q.Encode(); enc != "" {
			p.RowsURL += "?" + enc
		}
		lq := url.Values{}
		if p.Filter.Flow != "" {
			lq.Set("flow", p.Filter.Flow)
		}
		p.LiveURL = "/ui/events"
		if enc := lq.Encode(); enc != "" {
			p.LiveURL += "?" + enc
		}
	}
	return p, nil
}

func (s *Server) runsPage(c *fiber.Ctx) error {
	p, err := s.runsProps(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Runs(p))
}

// runRows is the table body alone, for the live refresh.
func (s *Server) runRows(c *fiber.Ctx) error {
	p, err := s.runsProps(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.RunRows(p))
}

// maxFindFields is how many fields of a run's trigger the run page offers
// to find other runs by.
const maxFindFields = 12

func (s *Server) runPage(c *fiber.Ctx) error {
	run, err := s.eng.Run(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	links, err := s.eng.RunLinks(c.UserContext(), run.ID)
	if err != nil {
		return err
	}
	p := views.RunDetailProps{Page: s.pageProps(c, "Run "+run.ID, "runs"), Run: run, Links: links, WaitingFor: s.eng.WaitingFor(run)}
	if p.Loops, err = runLoopPages(c, run); err != nil {
		return err
	}
	if f, err := s.eng.FlowVersion(c.UserContext(), run.FlowID, run.FlowVersion); err == nil {
		p.Flow = f
	}
	if !run.Status.Final() {
		p.LiveURL = "/ui/events?run=" + url.QueryEscape(run.ID)
	}
	if ev, err := s.eng.Event(c.UserContext(), run.EventID); err == nil {
		tv := &views.TriggerView{Source: ev.Source, Method: ev.Method, Path: ev.Path, Query: ev.Query, ReceivedAt: ev.ReceivedAt,
			Headers: make(map[string]string, len(ev.Headers))}
		for k, v := range ev.Headers {
			if sensitiveHeaders[k] {
				v = engine.Redacted
			}
			tv.Headers[k] = v
		}
		if body, perr := engine.ParseBody(ev.ContentType, ev.Body); perr == nil && body != nil {
			if str, ok := body.(string); ok {
				tv.Body = str
			} else {
				tv.Body = views.Pretty(body)
			}
		} else {
			tv.Body = string(ev.Body)
		}
		p.Trigger = tv
		p.Find = engine.EventSearchFields(ev, maxFindFields)
	}
	return render(c, fiber.StatusOK, views.RunDetail(p))
}

func (s *Server) retryRunUI(c *fiber.Ctx) error {
	run, err := s.eng.RetryRun(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return redirect(c, "/runs/"+run.ID+"?flash=retried")
}

// replayPage asks before a replay, listing the steps that will call
// external services again.
func (s *Server) replayPage(c *fiber.Ctx) error {
	run, err := s.eng.Run(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	if !run.Status.Final() {
		return fmt.Errorf("web: replay run %s: %w (status %s)", run.ID, engine.ErrNotFinal, run.Status)
	}
	ext, err := s.eng.ReplayPlan(c.UserContext(), run.ID)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.ReplayConfirm(views.ReplayProps{Page: s.pageProps(c, "Replay run", "runs"), Run: run, External: ext}))
}

// replayRunUI replays once the confirmation page was answered; a post
// without it (an old page, a script) is sent to that page first.
func (s *Server) replayRunUI(c *fiber.Ctx) error {
	if c.FormValue("confirm") != "yes" {
		return redirect(c, "/runs/"+url.PathEscape(c.Params("id"))+"/replay")
	}
	run, err := s.eng.ReplayRun(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return redirect(c, "/runs/"+run.ID+"?flash=replayed")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runLoopPages picks the page of items shown for each loop of a run: the
// one ?loop=ID&page=N asks for, else the first.
func runLoopPages(c *fiber.Ctx, run *engine.Run) (map[string]*engine.LoopPage, error) {
	var out map[string]*engine.LoopPage
	for _, s := range run.Steps {
		if !s.IsLoop() {
			continue
		}
		page := 1
		if c.Query("loop") == s.ID {
			n, err := pageParam(c.Query("page"))
			if err != nil {
				return nil, err
			}
			page = n
		}
		lp, err := run.LoopPage(s.ID, page)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]*engine.LoopPage{}
		}
		out[s.ID] = lp
	}
	return out, nil
}
