package web

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// Refused deliveries: every request to /hooks/ answered 4xx or 5xx
// without a run is recorded, in one place (recordRefusal, called by
// observeHook after the webhook handler and by framingGuard, which
// refuses before any route). The handler only leaves notes in the
// request's locals: which flow it found, what kind of refusal, the reason
// in words when the answer hides it (a failed signature).

// Request locals of refusals.
const (
	localRefusalFlow   = "switchyard.refusal_flow"
	localRefusalKind   = "switchyard.refusal_kind"
	localRefusalReason = "switchyard.refusal_reason"
	localRefusalScheme = "switchyard.refusal_scheme"
	localHookBody      = "switchyard.hook_body"
)

// refusalHeaderValueMax caps each header value kept with a refusal (and
// its content type); refusalPathMax its path.
const (
	refusalHeaderValueMax = 256
	refusalPathMax        = 1024
)

// capped is s cut to at most max bytes at a character boundary, with "…"
// when it was cut.
func capped(s string, max int) string {
	if len(s) <= max {
		return s
	}
	out, _ := bodyExcerpt([]byte(s), max)
	return out + "…"
}

// noteRefusal leaves what the handler knows about a refusal for
// recordRefusal; empty values are not set.
func noteRefusal(c *fiber.Ctx, kind, reason string) {
	if kind != "" {
		c.Locals(localRefusalKind, kind)
	}
	if reason != "" {
		c.Locals(localRefusalReason, reason)
	}
}

// recordRefusal records the answer c is about to send as a refusal when
// it is one: 4xx or 5xx and no run started (a sync webhook whose run
// failed names its run). err is what the handler returned (nil when it
// wrote the answer itself). It costs a lock when the refusal log takes
// no more (a flood), and at most a 1 KiB copy when it does.
func (s *Server) recordRefusal(c *fiber.Ctx, err error) {
	status := c.Response().StatusCode()
	if status < 400 || len(c.Response().Header.Peek(headerRunID)) > 0 {
		return
	}
	flowID, _ := c.Locals(localRefusalFlow).(string)
	if !s.eng.AdmitRefusal(flowID) {
		return
	}
	kind, _ := c.Locals(localRefusalKind).(string)
	if kind == "" {
		kind = refusalKindOf(status, err)
	}
	reason, _ := c.Locals(localRefusalReason).(string)
	if reason == "" {
		reason = refusalText(kind, err)
	}
	scheme, _ := c.Locals(localRefusalScheme).(string)
	r := engine.Refusal{
		At: time.Now().UTC(), FlowID: flowID, Status: status, Kind: kind, Reason: reason, Scheme: scheme,
		Method: c.Method(), Path: capped(c.Path(), refusalPathMax), Remote: c.IP(),
		ContentType: capped(c.Get(fiber.HeaderContentType), refusalHeaderValueMax),
		Headers:     s.refusalHeaders(c, flowID),
	}
	if body, ok := c.Locals(localHookBody).([]byte); ok {
		r.Size = int64(len(body))
		r.Body, r.BodyTruncated = bodyExcerpt(body, engine.RefusalBodyMax)
	} else if cl := c.Request().Header.ContentLength(); cl > 0 {
		r.Size = int64(cl)
	}
	s.eng.RecordRefusal(r)
}

// refusalKindOf names a refusal the handler did not name, by its status.
func refusalKindOf(status int, err error) string {
	switch {
	case status == fiber.StatusBadRequest:
		return "malformed_body"
	case status == fiber.StatusTooManyRequests && errors.Is(err, engine.ErrSaturated):
		return "queue_full"
	case status == fiber.StatusTooManyRequests:
		return "rate_limit"
	case status == fiber.StatusInternalServerError:
		return "other"
	}
	return refusalReason(status)
}

// refusalText is a refusal's reason in words: the answer's own message
// for the errors handlers raise, a fixed one for the rest (an internal
// error's text is for the log).
func refusalText(kind string, err error) string {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.msg
	case kind == "queue_full":
		return "queue full: the engine is saturated"
	case kind == "storage_unavailable":
		return "storage unavailable"
	}
	return "internal error"
}

// credentialHeader reports whether a header carries a credential, by its
// (lower-case) name: authorization and cookies, signatures, tokens, keys.
func credentialHeader(name string) bool {
	if credentialHeaders[name] || name == "set-cookie" {
		return true
	}
	for _, w := range []string{"auth", "signature", "token", "secret", "key", "hmac", "password", "cookie", "session"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// refusalHeaders keeps up to RefusalHeadersMax headers, names in lower
// case, values capped, credentials (and the flow's own token header)
// replaced by engine.Redacted.
func (s *Server) refusalHeaders(c *fiber.Ctx, flowID string) map[string]string {
	tokenHeader := ""
	if a, err := s.eng.Flow(flowID); flowID != "" && err == nil {
		if v := a.Flow().Trigger.Verify; v != nil && v.Scheme == flows.VerifyToken {
			tokenHeader = strings.ToLower(v.Header)
		}
	}
	h := map[string]string{}
	c.Request().Header.VisitAll(func(k, val []byte) {
		if len(h) >= engine.RefusalHeadersMax {
			return
		}
		name := strings.ToLower(string(k))
		value := string(val)
		if credentialHeader(name) || name == tokenHeader {
			value = engine.Redacted
		} else {
			value = capped(value, refusalHeaderValueMax)
		}
		if prev, ok := h[name]; ok {
			h[name] = prev + ", " + value
		} else {
			h[name] = value
		}
	})
	return h
}

// credentialValue finds values of credential-like fields in a JSON or
// form body ("password": "…", token=…), whether the body parses or not.
var credentialValue = regexp.MustCompile(`(?i)("[^"]*(?:password|passwd|secret|token|api[_-]?key|apikey|authorization|credential|signature)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"?|((?:^|&)[^=&]*(?:password|passwd|secret|token|api[_-]?key|apikey|authorization|credential|signature)[^=&]*=)[^&]*`)

// bodyExcerpt is the start of body, at most max bytes cut at a character
// boundary, invalid UTF-8 replaced, values of credential-like fields
// replaced by engine.Redacted; truncated says there was more.
func bodyExcerpt(body []byte, max int) (excerpt string, truncated bool) {
	b := body
	if len(b) > max {
		b, truncated = b[:max], true
		// Drop a character the cut split (at most UTFMax-1 bytes).
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = credentialValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := credentialValue.FindStringSubmatch(m)
		if sub[1] != "" {
			return sub[1] + `"` + engine.Redacted + `"`
		}
		return sub[2] + engine.Redacted
	})
	return s, truncated
}

// pageQuery reads the limit and cursor of a listing paged by sequence
// number (refusals, the audit trail).
func pageQuery(c *fiber.Ctx) (limit int, cursor string, err error) {
	cursor = c.Query("cursor")
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, "", fieldError("limit", "must be a number from 1 to 500")
		}
		limit = n
	}
	if cursor != "" {
		// Sequence numbers are positive int64s in either store.
		if n, err := strconv.ParseInt(cursor, 10, 64); err != nil || n <= 0 {
			return 0, "", fieldError("cursor", cursorMalformed)
		}
	}
	return limit, cursor, nil
}

// listRefusals lists refused webhook requests, newest first: a flow's
// (GET /api/flows/{id}/refusals) or every one, those to paths no flow
// listens on included (GET /api/refusals).
func (s *Server) listRefusals(c *fiber.Ctx) error {
	f := engine.RefusalFilter{}
	if id := c.Params("id"); id != "" {
		a, err := s.eng.Flow(id)
		if err != nil {
			return err
		}
		f.FlowID = a.Flow().ID
	}
	var err error
	if f.Limit, f.Cursor, err = pageQuery(c); err != nil {
		return err
	}
	p, err := s.eng.ListRefusals(c.UserContext(), f)
	if err != nil {
		return cursorError(err)
	}
	return c.JSON(p)
}

// refusedPage is the UI's list of every refused request, or (?flow=)
// of one flow's.
func (s *Server) refusedPage(c *fiber.Ctx) error {
	_, cursor, err := pageQuery(c)
	if err != nil {
		return err
	}
	f := engine.RefusalFilter{Limit: 100, Cursor: cursor}
	if id := c.Query("flow"); id != "" {
		a, err := s.eng.Flow(id)
		if err != nil {
			return err
		}
		f.FlowID = a.Flow().ID
	}
	p, err := s.eng.ListRefusals(c.UserContext(), f)
	if err != nil {
		return err
	}
	props := views.RefusedProps{Page: s.pageProps(c, "Refused requests", "refused"), FlowID: f.FlowID, Refusals: p.Refusals,
		NextCursor: p.NextCursor, Unrecorded: s.eng.Stats().RefusalsDropped}
	return render(c, fiber.StatusOK, views.Refused(props))
}
