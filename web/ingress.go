package web

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Ingress limits that hold for every webhook, whatever its flow says.
const (
	// MaxJSONDepth bounds how deeply a JSON body may nest; deeper bodies
	// cost a lot to decode and are never what a provider sends.
	MaxJSONDepth = 64
	// maxAPIBody is the body limit of every route but webhooks.
	maxAPIBody = 4 << 20
	// maxDrain is the largest refused body still read to its end so that
	// the client can read the 413.
	maxDrain = 16 << 20
)

// errBodyTooLarge is what readLimited returns past its limit.
var errBodyTooLarge = errors.New("body too large")

// readBody reads a request body of at most limit bytes without holding
// more than that in memory: a declared Content-Length over the limit is
// refused before any of the body is read, and a streamed body is cut at
// the limit.
func readBody(c *fiber.Ctx, limit int64) ([]byte, error) {
	req := c.Request()
	if cl := req.Header.ContentLength(); cl > 0 && int64(cl) > limit {
		// Closing on a client still sending makes its kernel see a reset
		// instead of our 413. A moderately oversized body is read and
		// thrown away (no memory held) so the caller gets a clear answer;
		// a huge one is cut off.
		if stream := req.BodyStream(); stream != nil && int64(cl) <= maxDrain {
			_, _ = io.Copy(io.Discard, io.LimitReader(stream, maxDrain))
		}
		return nil, errBodyTooLarge
	}
	if stream := req.BodyStream(); stream != nil {
		return readLimited(stream, limit)
	}
	return bytes.Clone(req.Body()), nil
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errBodyTooLarge
	}
	return data, nil
}

// decode undoes a gzip or deflate Content-Encoding under the same limit
// as the body itself, so a small compressed bomb cannot expand past it.
func decode(encoding string, body []byte, limit int64) ([]byte, error) {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, errStatus(fiber.StatusBadRequest, "malformed gzip body: %v", err)
		}
		defer zr.Close()
		r = zr
	case "deflate":
		// RFC 9110's deflate is the zlib format, but some clients send raw
		// deflate; the zlib header tells them apart.
		if len(body) >= 2 && body[0]&0x0f == 8 && (uint16(body[0])<<8|uint16(body[1]))%31 == 0 {
			zr, err := newZlibReader(body)
			if err != nil {
				return nil, errStatus(fiber.StatusBadRequest, "malformed deflate body: %v", err)
			}
			defer zr.Close()
			r = zr
		} else {
			fr := flate.NewReader(bytes.NewReader(body))
			defer fr.Close()
			r = fr
		}
	default:
		return nil, errStatus(fiber.StatusUnsupportedMediaType, "unsupported Content-Encoding %q; send gzip, deflate or none", encoding)
	}
	out, err := readLimited(r, limit)
	if errors.Is(err, errBodyTooLarge) {
		return nil, errStatus(fiber.StatusRequestEntityTooLarge, "decompressed body exceeds this flow's limit of %d bytes", limit)
	}
	if err != nil {
		return nil, errStatus(fiber.StatusBadRequest, "malformed %s body: %v", encoding, err)
	}
	return out, nil
}

// jsonDepth reports whether a JSON document nests deeper than max. It
// only counts brackets outside strings; validity is checked elsewhere.
func jsonDepth(b []byte, max int) bool {
	depth, inStr, esc := 0, false, false
	for _, ch := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case ch == '\\':
				esc = true
			case ch == '"':
				inStr = false
			}
		case ch == '"':
			inStr = true
		case ch == '{' || ch == '[':
			depth++
			if depth > max {
				return true
			}
		case ch == '}' || ch == ']':
			depth--
		}
	}
	return false
}

// limitBody caps the body of every route except webhooks (which apply
// their flow's own limit in the handler).
func limitBody(max int64) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if isHookPath(c.Path()) {
			return c.Next()
		}
		body, err := readBody(c, max)
		if errors.Is(err, errBodyTooLarge) {
			return errStatus(fiber.StatusRequestEntityTooLarge, "request body exceeds %d bytes", max)
		}
		if err != nil {
			return errStatus(fiber.StatusBadRequest, "reading request body: %v", err)
		}
		c.Request().SetBodyRaw(body)
		return c.Next()
	}
}

// canonicalHeaders copies the request headers into an http.Header, as
// signature checks expect them.
func canonicalHeaders(c *fiber.Ctx) http.Header {
	h := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		h.Add(string(k), string(v))
	})
	return h
}

func remoteAddr(c *fiber.Ctx) netip.Addr {
	ip, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return ip.Unmap()
}

func newZlibReader(b []byte) (io.ReadCloser, error) { return zlib.NewReader(bytes.NewReader(b)) }
