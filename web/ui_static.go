package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// staticFiles are the UI's stylesheet, script and vendored htmx, built
// into the binary.
//
//go:embed static
var staticFiles embed.FS

// staticAsset is one embedded file, read once at start-up.
type staticAsset struct {
	data  []byte
	ctype string
}

// assets maps a path under /static/ to its file.
var assets, assetVersion = loadAssets()

// loadAssets reads every embedded file and derives one version string from
// their contents, so any change to any asset changes every asset URL.
func loadAssets() (map[string]staticAsset, string) {
	out := map[string]staticAsset{}
	var names []string
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		ctype := mime.TypeByExtension(path.Ext(name))
		switch {
		case strings.HasSuffix(name, ".js"):
			ctype = "text/javascript; charset=utf-8"
		case strings.HasSuffix(name, ".css"):
			ctype = "text/css; charset=utf-8"
		case ctype == "":
			ctype = "text/plain; charset=utf-8"
		}
		out[name] = staticAsset{data: data, ctype: ctype}
		names = append(names, name)
		return nil
	})
	if err != nil {
		panic("web: read embedded assets: " + err.Error())
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write(out[n].data)
	}
	return out, hex.EncodeToString(h.Sum(nil))[:12]
}

// static serves /static/*. URLs carry ?v=<content hash>, so answers may be
// cached for a year.
func (s *Server) static(c *fiber.Ctx) error {
	a, ok := assets[c.Params("*")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("not found")
	}
	c.Set(fiber.HeaderContentType, a.ctype)
	if c.Query("v") == assetVersion {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	c.Set(fiber.HeaderETag, `"`+assetVersion+`"`)
	if c.Get(fiber.HeaderIfNoneMatch) == `"`+assetVersion+`"` {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(a.data)
}
