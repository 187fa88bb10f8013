package web

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/web/views"
)

// historyShown is how many versions the panel under the builder lists.
const historyShown = 5

// historyPage shows a flow's versions and the changes between two of them
// (?from=&to=; by default the current version against the one before).
func (s *Server) historyPage(c *fiber.Ctx) error {
	a, err := s.eng.Flow(c.Params("id"))
	if err != nil {
		return err
	}
	id := a.Flow().ID
	h, err := s.eng.FlowHistory(c.UserContext(), id, 0)
	if err != nil {
		return err
	}
	p := views.HistoryProps{Page: s.pageProps(c, "History of "+a.Flow().Name, "flows"), FlowID: id, FlowName: a.Flow().Name, History: h}
	known := map[int64]bool{}
	for _, v := range h.Versions {
		known[v.Version] = true
	}
	if len(h.Versions) > 0 {
		p.To = h.Versions[0].Version
		if len(h.Versions) > 1 {
			p.From = h.Versions[1].Version
		}
	}
	// A version that is not there falls back to the default pair.
	if n, err := strconv.ParseInt(c.Query("to"), 10, 64); err == nil && known[n] {
		p.To = n
	}
	if n, err := strconv.ParseInt(c.Query("from"), 10, 64); err == nil && (known[n] || n == 0) {
		p.From = n
	}
	if p.To != 0 {
		if p.Changes, err = s.eng.DiffVersions(c.UserContext(), id, p.From, p.To); err != nil {
			return err
		}
	}
	return render(c, fiber.StatusOK, views.History(p))
}

// restoreVersionUI restores a version and goes back to the history,
// showing what the restore changed.
func (s *Server) restoreVersionUI(c *fiber.Ctx) error {
	n, err := versionParam(c.Params("n"), "version")
	if err != nil {
		return err
	}
	a, created, err := s.eng.RestoreVersion(c.UserContext(), c.Params("id"), n)
	if err != nil {
		return err
	}
	id := a.Flow().ID
	if !created {
		return redirect(c, "/flows/"+id+"/history?flash=restore-unchanged")
	}
	v := strconv.FormatInt(a.Record.Version, 10)
	return redirect(c, "/flows/"+id+"/history?flash=restored&from="+strconv.FormatInt(a.Record.Version-1, 10)+"&to="+v)
}
