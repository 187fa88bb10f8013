package web

import (
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// listVersions answers GET /api/flows/{id}/versions: every version,
// newest first, with who saved it, when and what changed, and the times
// the flow was turned on or off.
func (s *Server) listVersions(c *fiber.Ctx) error {
	h, err := s.eng.FlowHistory(c.UserContext(), c.Params("id"), 0)
	if err != nil {
		return err
	}
	return c.JSON(h)
}

// versionView is one version with its content and what changed.
type versionView struct {
	engine.VersionInfo
	Flow json.RawMessage `json:"flow"`
	// Against is the version Changes are relative to (0: none, the
	// first version).
	Against int64          `json:"against"`
	Changes []flows.Change `json:"changes"`
}

// versionParam reads a version number from the path or the query.
func versionParam(v, name string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, errStatus(fiber.StatusBadRequest, "%s: must be a version number (1, 2, …)", name)
	}
	return n, nil
}

// getVersion answers GET /api/flows/{id}/versions/{n}[?against=m]: the
// content of version n and its changes from m (default: the version
// before it).
func (s *Server) getVersion(c *fiber.Ctx) error {
	id := c.Params("id")
	n, err := versionParam(c.Params("n"), "version")
	if err != nil {
		return err
	}
	h, err := s.eng.FlowHistory(c.UserContext(), id, 0)
	if err != nil {
		return err
	}
	v := versionView{Changes: []flows.Change{}}
	found := false
	for i, info := range h.Versions {
		if info.Version == n {
			v.VersionInfo, found = info, true
			if i+1 < len(h.Versions) {
				v.Against = h.Versions[i+1].Version
			}
		}
	}
	if !found {
		return errStatus(fiber.StatusNotFound, "flow %q has no version %d", id, n)
	}
	if q := c.Query("against"); q != "" {
		if v.Against, err = versionParam(q, "against"); err != nil {
			return err
		}
	}
	rec, err := s.eng.FlowVersionRecord(c.UserContext(), id, n)
	if err != nil {
		return err
	}
	v.Flow = rec.Flow
	if v.Changes, err = s.eng.DiffVersions(c.UserContext(), id, v.Against, n); err != nil {
		return err
	}
	return c.JSON(v)
}

// restoreVersion answers POST /api/flows/{id}/versions/{n}/restore: 201
// with the flow at its new version, or 200 when the content was the
// current one already (no version is made).
func (s *Server) restoreVersion(c *fiber.Ctx) error {
	n, err := versionParam(c.Params("n"), "version")
	if err != nil {
		return err
	}
	a, created, err := s.eng.RestoreVersion(c.UserContext(), c.Params("id"), n)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(s.flowView(c, a))
}
