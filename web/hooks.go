package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/verify"
)

// Webhook answer headers.
const (
	headerRunID     = "Switchyard-Run-Id"
	headerDuplicate = "Switchyard-Duplicate"
)

// What a webhook answer may do in a browser. A flow builds its answer
// from the payload, so on the UI's origin it must be inert: a sandbox
// (an opaque origin: no script, no cookies, no storage, no forms) that
// loads nothing. On the hooks listener, an origin of its own, an answer
// may run script and post forms, still in an opaque origin, so it can
// neither read nor plant the UI's cookies. A flow cannot loosen either: a
// policy it sets is sent as a second one, and browsers enforce both.
const (
	hookPolicy          = "sandbox; default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	hooksListenerPolicy = "sandbox allow-scripts allow-forms allow-popups allow-modals; base-uri 'none'"
)

// onHooksListener reports whether c came in on the hooks listener.
func (s *Server) onHooksListener(c *fiber.Ctx) bool {
	return s.hooksApp != nil && c.App() == s.hooksApp
}

// hookHeaders are the security headers of every webhook answer.
func (s *Server) hookHeaders(c *fiber.Ctx) error {
	s.setHookPolicy(c)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	return c.Next()
}

func (s *Server) setHookPolicy(c *fiber.Ctx) {
	if s.onHooksListener(c) {
		c.Set(fiber.HeaderContentSecurityPolicy, hooksListenerPolicy)
	} else {
		c.Set(fiber.HeaderContentSecurityPolicy, hookPolicy)
	}
}

// hooksElsewhere answers /hooks/ on the main listener when webhooks have
// a listener of their own: flow-built answers never share the UI's origin.
func (s *Server) hooksElsewhere(c *fiber.Ctx) error {
	return errStatus(fiber.StatusNotFound, "webhooks are served on the hooks listener (%s), not here", s.hooksBaseURL(c)+"/hooks/")
}

// hooksNotFound answers everything the hooks listener does not serve.
func (s *Server) hooksNotFound(c *fiber.Ctx) error {
	return errStatus(fiber.StatusNotFound, "this listener serves only /hooks/ and /healthz, /readyz")
}

// hooksBaseURL is the external base URL webhooks are reached at: the
// hooks listener's public URL, else this request's host with the hooks
// listener's port, else (no hooks listener) baseURL.
func (s *Server) hooksBaseURL(c *fiber.Ctx) string {
	switch {
	case s.cfg.HooksPublicURL != "":
		return strings.TrimRight(s.cfg.HooksPublicURL, "/")
	case s.cfg.HooksAddr == "":
		return s.baseURL(c)
	case s.onHooksListener(c):
		return c.Protocol() + "://" + c.Hostname()
	}
	host := c.Hostname()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	_, port, err := net.SplitHostPort(s.cfg.HooksAddr)
	if err != nil {
		return s.baseURL(c)
	}
	return c.Protocol() + "://" + net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// hook is webhook ingress: find the flow, check the request (rate limit,
// size, encoding, media type, signature), store the event durably, and only
// then answer.
func (s *Server) hook(c *fiber.Ctx) error {
	start := time.Now()
	path := strings.Trim(c.Params("*"), "/")
	a, ok := s.eng.WebhookFlow(path)
	if !ok {
		if owner := s.eng.WebhookPathOwner(path); owner != "" {
			c.Locals(localRefusalFlow, owner)
			noteRefusal(c, "flow_disabled", "flow "+owner+" is disabled")
		}
		return errStatus(fiber.StatusNotFound, "no enabled flow listens on /hooks/%s", path)
	}
	f := a.Flow()
	c.Locals(localRefusalFlow, f.ID)
	trig := f.Trigger
	if len(trig.Methods) > 0 && !slices.ContainsFunc(trig.Methods, func(m string) bool { return strings.EqualFold(m, c.Method()) }) {
		c.Set(fiber.HeaderAllow, strings.Join(trig.Methods, ", "))
		return errStatus(fiber.StatusMethodNotAllowed, "method %s not allowed on /hooks/%s", c.Method(), path)
	}
	if rl := trig.RateLimit; rl != nil {
		if ok, wait := s.limiter.Allow(f.ID, *rl, time.Now()); !ok {
			s.refuse(c, f, "", fmt.Sprintf("rate limit of %d per %s", rl.Requests, rl.Per.Std()), fiber.StatusTooManyRequests)
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return errStatus(fiber.StatusTooManyRequests, "rate limit exceeded, retry later")
		}
	}
	wait, err := queryWait(c)
	if err != nil {
		return err
	}
	body, contentType, err := readHookBody(c, trig.EffectiveMaxBody())
	if err != nil {
		return err
	}
	if v := trig.Verify; v != nil {
		if err := s.verifyRequest(c, f, v, body); err != nil {
			return err
		}
		if v.Scheme == flows.VerifySlack {
			// Slack's url_verification handshake is signed like any event
			// and answered with its challenge; it starts no run.
			if challenge, ok := verify.SlackChallenge(body); ok {
				c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
				return c.SendString(challenge)
			}
		}
	}
	ev := &engine.Event{
		Source:      flows.TriggerWebhook,
		Method:      c.Method(),
		Path:        path,
		Headers:     requestHeaders(c, trig.Verify),
		Query:       requestQuery(c, trig.Verify),
		RemoteAddr:  c.IP(),
		ContentType: contentType,
		Body:        body,
		ReceivedAt:  time.Now().UTC(),
	}
	// ?wait= makes an async flow answer like a sync one when its run
	// finishes in time.
	sync := trig.Respond == flows.RespondSync || wait > 0
	timeout := trig.EffectiveTimeout()
	if trig.Respond != flows.RespondSync && wait > 0 {
		timeout = wait
	}
	acc, err := s.eng.Accept(c.UserContext(), a, ev, sync)
	if err != nil {
		var de *engine.DedupeError
		if errors.As(err, &de) {
			noteRefusal(c, "bad_request", "")
			return errStatus(fiber.StatusBadRequest, "%s", de.Error())
		}
		if errors.Is(err, engine.ErrSaturated) {
			c.Set(fiber.HeaderRetryAfter, "1")
		}
		return err
	}
	c.Set(headerRunID, acc.RunID)
	if acc.Duplicate {
		c.Set(headerDuplicate, "true")
		s.metrics.hookAck.Observe(time.Since(start).Seconds())
		return c.Status(fiber.StatusOK).JSON(fiber.Map{"run_id": acc.RunID, "duplicate": true})
	}
	if !sync {
		// The hot path: run ids need no escaping, so skip the encoder.
		s.metrics.hookAck.Observe(time.Since(start).Seconds())
		c.Status(fiber.StatusAccepted)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(`{"run_id":"` + acc.RunID + `"}`)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case run := <-acc.Done:
		return s.syncAnswer(c, run)
	case <-timer.C:
		s.eng.Forget(acc.RunID)
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"run_id": acc.RunID, "status": "running"})
	}
}

// readHookBody reads a webhook's body the one way every hook request is
// read (real or test, see hookTest): capped at the flow's limit while
// streaming, decoded (gzip, deflate), checked against its media type, and
// a JSON body checked for depth. It returns the body and its Content-Type.
func readHookBody(c *fiber.Ctx, limit int64) ([]byte, string, error) {
	raw, err := readBody(c, limit)
	if err == nil {
		c.Locals(localHookBody, raw)
	}
	if errors.Is(err, errBodyTooLarge) {
		return nil, "", errStatus(fiber.StatusRequestEntityTooLarge, "body exceeds this flow's limit of %d bytes", limit)
	}
	if err != nil {
		return nil, "", errStatus(fiber.StatusBadRequest, "reading body: %v", err)
	}
	body, err := decode(c.Get(fiber.HeaderContentEncoding), raw, limit)
	if err != nil {
		return nil, "", err
	}
	c.Locals(localHookBody, body) // a refusal keeps the decoded start
	contentType := c.Get(fiber.HeaderContentType)
	if err := checkBody(contentType, body); err != nil {
		return nil, "", err
	}
	if engine.IsJSONType(contentType) && jsonDepth(body, MaxJSONDepth) {
		noteRefusal(c, "too_deep", "")
		return nil, "", errStatus(fiber.StatusBadRequest, "JSON body nests deeper than %d levels", MaxJSONDepth)
	}
	return body, contentType, nil
}

// verifyRequest checks a webhook's signature (or token, basic auth, IP
// allow-list) against the flow's verify settings. A refusal is recorded
// for the flow and answered with a short, generic message: the caller
// learns nothing about why.
func (s *Server) verifyRequest(c *fiber.Ctx, f *flows.Flow, v *flows.Verify, body []byte) error {
	var secrets [][]byte
	for _, name := range append([]string{v.Secret}, v.Secrets...) {
		if name == "" {
			continue
		}
		conn, err := s.eng.Connection(c.UserContext(), name)
		if err != nil {
			s.log.Error("webhook secret unavailable", "request_id", requestIDOf(c), "flow_id", f.ID, "connection", name, "err", err)
			continue
		}
		if val := conn.Values["value"]; val != "" {
			secrets = append(secrets, []byte(val))
		}
	}
	err := verify.Check(v, secrets, verify.Request{
		Method:   c.Method(),
		URL:      s.externalURL(c),
		Header:   canonicalHeaders(c),
		Body:     body,
		RemoteIP: verify.ClientIP(remoteAddr(c), c.Get(fiber.HeaderXForwardedFor), parsePrefixes(v.TrustedProxies)),
		Now:      time.Now(),
	})
	if err == nil {
		return nil
	}
	status, reason := fiber.StatusUnauthorized, err.Error()
	var ref *verify.Refusal
	if errors.As(err, &ref) {
		status, reason = ref.Status, ref.Reason
		if ref.Challenge != "" {
			c.Set(fiber.HeaderWWWAuthenticate, ref.Challenge)
		}
	}
	s.refuse(c, f, v.Scheme, reason, status)
	if status == fiber.StatusForbidden {
		return errStatus(status, "forbidden")
	}
	return errStatus(status, "signature verification failed")
}

// refuse notes why the flow refused a request, for its refusal log
// (recordRefusal) and the log, where the answer only says "refused".
func (s *Server) refuse(c *fiber.Ctx, f *flows.Flow, scheme, reason string, status int) {
	c.Locals(localRefusal, refusalKind(status))
	noteRefusal(c, refusalKind(status), reason)
	if scheme != "" {
		c.Locals(localRefusalScheme, scheme)
	}
	s.log.Warn("webhook refused", "request_id", requestIDOf(c), "flow_id", f.ID, "remote", c.IP(), "scheme", scheme, "reason", reason, "status", status)
}

// externalURL is the URL the sender used, as schemes that sign the URL
// (Twilio, HubSpot) computed it: behind a reverse proxy, PublicURL (or
// HooksPublicURL) says what it was.
func (s *Server) externalURL(c *fiber.Ctx) string {
	return s.hooksBaseURL(c) + c.OriginalURL()
}

func parsePrefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := flows.ParseIPRange(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// syncAnswer answers a sync webhook with what webhook.respond set, else
// the last step's output.
func (s *Server) syncAnswer(c *fiber.Ctx, run *engine.Run) error {
	if r := run.Response; r != nil {
		status := r.Status
		if status == 0 {
			status = fiber.StatusOK
		}
		c.Status(status)
		s.setFlowHeaders(c, r.Headers)
		switch b := r.Body.(type) {
		case nil:
			return nil
		case string:
			if headerValue(r.Headers, fiber.HeaderContentType) == "" {
				c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
			}
			return c.SendString(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				return err
			}
			if headerValue(r.Headers, fiber.HeaderContentType) == "" {
				c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
			}
			return c.Send(data)
		}
	}
	if run.Status == engine.RunFailed {
		// The caller is told that it failed and which run to look up, not
		// why: a step's error can name internal hosts or quote a remote's
		// answer. The run history keeps the detail.
		return sendProblem(c, fiber.StatusInternalServerError, errorBody{Error: syncFailed(run.ID), RunID: run.ID})
	}
	var out any
	for i := len(run.Steps) - 1; i >= 0; i-- {
		// A loop's items are part of the loop, whose output is the list
		// of theirs.
		s := &run.Steps[i]
		if s.Status == engine.StepSucceeded && !s.InLoop() && (s.Use != "" || s.IsLoop()) {
			out = s.Output
			break
		}
	}
	return c.Status(fiber.StatusOK).JSON(out)
}

// syncFailed is the whole answer to a sync webhook whose run failed.
func syncFailed(runID string) string {
	return "the flow failed; run " + runID + " in the run history has the details"
}

// Headers a flow's answer cannot set: cookies (Switchyard's own would be
// planted or cleared on its origin, and no webhook caller keeps cookies),
// the framing and connection headers the server owns, the headers that
// tie an answer to its run and log lines, and the security headers of
// hookHeaders (a flow's Content-Security-Policy is added as a second
// policy instead).
var flowHeadersRefused = map[string]bool{
	"set-cookie": true, "set-cookie2": true,
	"content-length": true, "transfer-encoding": true, "connection": true, "keep-alive": true,
	"upgrade": true, "trailer": true, "te": true, "proxy-connection": true,
	strings.ToLower(headerRunID): true, strings.ToLower(headerDuplicate): true, strings.ToLower(HeaderRequestID): true,
	"x-content-type-options": true, "referrer-policy": true,
}

// setFlowHeaders puts the headers a webhook.respond step set on the
// answer, less those it may not set.
func (s *Server) setFlowHeaders(c *fiber.Ctx, headers map[string]string) {
	var policies []string
	for k, v := range headers {
		name := strings.ToLower(k)
		switch {
		case flowHeadersRefused[name]:
		case name == "content-security-policy":
			policies = append(policies, v)
		default:
			c.Set(k, v)
		}
	}
	s.setHookPolicy(c)
	for _, p := range policies {
		c.Response().Header.Add(fiber.HeaderContentSecurityPolicy, p)
	}
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// checkBody refuses bodies the engine could not read later: malformed JSON
// or forms (400) and media types it does not take (415). Nothing is stored
// for a refused body.
func checkBody(contentType string, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	if contentType == "" {
		return errStatus(fiber.StatusUnsupportedMediaType, "missing Content-Type; send application/json, application/x-www-form-urlencoded or text/*")
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return errStatus(fiber.StatusUnsupportedMediaType, "malformed Content-Type %q", contentType)
	}
	switch {
	case engine.IsJSONType(contentType):
		if err := validJSON(body); err != nil {
			return errStatus(fiber.StatusBadRequest, "malformed JSON body: %v", err)
		}
	case mt == "application/x-www-form-urlencoded":
		if _, err := url.ParseQuery(string(body)); err != nil {
			return errStatus(fiber.StatusBadRequest, "malformed form body: %v", err)
		}
	case strings.HasPrefix(mt, "text/"), mt == "application/xml":
	default:
		return errStatus(fiber.StatusUnsupportedMediaType, "unsupported Content-Type %q; send application/json, application/x-www-form-urlencoded or text/*", mt)
	}
	return nil
}

// validJSON checks a body is exactly one JSON value and says where it breaks.
func validJSON(body []byte) error {
	if json.Valid(body) {
		return nil
	}
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(body, se.Offset)
		return fmt.Errorf("%v at line %d, column %d", se, line, col)
	}
	if err == nil {
		return errors.New("invalid JSON")
	}
	return err
}

func lineCol(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line, col := 1, 1
	for _, ch := range b[:off] {
		if ch == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// credentialHeaders are never stored with an event: they are the caller's
// secrets, not data for the flow.
var credentialHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "cookie": true}

// requestHeaders copies the headers with lower-case names; repeated
// headers are joined with ", ". Credentials (including a verify token's
// header) are replaced by a marker before the event is stored.
func requestHeaders(c *fiber.Ctx, v *flows.Verify) map[string]string {
	tokenHeader := ""
	if v != nil && v.Scheme == flows.VerifyToken {
		tokenHeader = strings.ToLower(v.Header)
	}
	h := map[string]string{}
	c.Request().Header.VisitAll(func(k, val []byte) {
		name := strings.ToLower(string(k))
		value := string(val)
		if credentialHeaders[name] || (tokenHeader != "" && name == tokenHeader) {
			value = engine.Redacted
		}
		if prev, ok := h[name]; ok {
			h[name] = prev + ", " + value
		} else {
			h[name] = value
		}
	})
	return h
}

// requestQuery copies the query; a verify token passed as a parameter is
// replaced by a marker.
func requestQuery(c *fiber.Ctx, v *flows.Verify) map[string]string {
	tokenParam := ""
	if v != nil && v.Scheme == flows.VerifyToken {
		tokenParam = v.Query
	}
	q := map[string]string{}
	c.Request().URI().QueryArgs().VisitAll(func(k, val []byte) {
		name, value := string(k), string(val)
		if tokenParam != "" && name == tokenParam {
			value = engine.Redacted
		}
		if prev, ok := q[name]; ok {
			q[name] = prev + "," + value
		} else {
			q[name] = value
		}
	})
	return q
}
