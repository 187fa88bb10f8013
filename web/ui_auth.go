package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/web/views"
)

// Cookies and fields of browser sessions.
const (
	// sessionCookie holds the session token; only its hash is stored.
	sessionCookie = "switchyard_session"
	// preSessionCookie holds the CSRF token of the setup and login forms
	// (double submit), before any session exists.
	preSessionCookie = "switchyard_pre"
	csrfField        = "_csrf"
	csrfHeader       = "X-CSRF-Token"
	localSession     = "switchyard.session"
)

// uiState is what the UI remembers between requests.
type uiState struct {
	// setupDone caches that an owner exists, so pages stop asking the
	// store once it does.
	setupDone atomic.Bool
}

// render writes a templ component as an HTML answer.
func render(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}

// isHTMX reports whether htmx sent the request (it swaps a fragment).
func isHTMX(c *fiber.Ctx) bool { return c.Get("HX-Request") == "true" }

// redirect sends the browser elsewhere after a form: a 303 for plain
// requests, HX-Redirect for htmx (which would otherwise swap the target
// page into a fragment).
func redirect(c *fiber.Ctx, to string) error {
	if isHTMX(c) {
		c.Set("HX-Redirect", to)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// session returns the session requireSession found.
func session(c *fiber.Ctx) auth.Session {
	sess, _ := c.Locals(localSession).(auth.Session)
	return sess
}

// flashes are the notices a redirect may ask the next page to show
// (?flash=saved); only these fixed texts, so a link cannot put words on a
// page.
var flashes = map[string]string{
	"saved":              "Saved.",
	"deleted":            "Flow deleted. Its runs stay in the history.",
	"copied":             "Copy saved, disabled: review it, then enable it.",
	"retried":            "Retry started: this is the new run.",
	"replayed":           "Replay started: this is the new run.",
	"connection-saved":   "Connection saved.",
	"connection-deleted": "Connection deleted.",
	"value-saved":        "Value saved.",
	"value-deleted":      "Value deleted.",
	"token-revoked":      "Token revoked.",
	"polled":             "Polled: the result is below.",
	"poll-forced":        "The new items are running.",
	"poll-seeded":        "The new items were recorded as seen, without running them.",
	"poll-flooded":       "The poll found more new items than the flood limit: the flow is paused until you choose below.",
	"poll-failed":        "The poll failed: the error is below.",
	"seen-reset":         "Seen set reset: the next poll records what is there without running it.",
	"restored":           "Restored: that content is now the newest version.",
	"restore-unchanged":  "That version's content is the current one already; nothing was saved.",
	"run-started":        "Run started by hand: this is the run.",
	"run-none":           "Polled now, and no run started: no new items, a first poll that only records what is there, or a flood pause.",
}

// pageProps fills what every page needs.
func (s *Server) pageProps(c *fiber.Ctx, title, active string) views.PageProps {
	sess := session(c)
	p := views.PageProps{Title: title, User: sess.User, CSRF: sess.CSRF, Active: active,
		AssetVersion: assetVersion, Flash: flashes[c.Query("flash")]}
	if p.User != "" {
		// The store keeps the unresolved runs apart: counting them walks
		// those alone, capped, never the history.
		if n, more, err := s.eng.CountUnresolved(c.UserContext(), attentionCap); err == nil {
			p.Attention, p.AttentionMore = n, more
		}
	}
	return p
}

// attentionCap is where the navigation stops counting unresolved runs
// ("999+").
const attentionCap = 999

// uiError renders an error as an HTML page, with the status the API
// would give it.
func (s *Server) uiError(c *fiber.Ctx, err error) error {
	status, body := s.classify(c, err)
	heading := "Something went wrong"
	switch status {
	case fiber.StatusNotFound:
		heading = "Not found"
	case fiber.StatusBadRequest:
		heading = "That did not work"
	case fiber.StatusConflict:
		heading = "Not possible right now"
	case fiber.StatusForbidden:
		heading = "Refused"
	case fiber.StatusTooManyRequests:
		heading = "Busy"
	}
	mp := views.MessageProps{Page: s.pageProps(c, heading, ""), Heading: heading, Message: body.Error, Back: "/"}
	if msg, back, label, ok := plainMissing(c, status, err); ok {
		mp.Heading, mp.Page.Title, mp.Message, mp.Back, mp.BackLabel = "Not found", "Not found", msg, back, label
	}
	return render(c, status, views.Message(mp))
}

// page adapts a UI handler: any error it returns becomes an HTML page
// rather than the API's JSON.
func (s *Server) page(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := h(c); err != nil {
			return s.uiError(c, err)
		}
		return nil
	}
}

func (s *Server) uiNotFound(c *fiber.Ctx) error {
	return s.uiError(c, errStatus(fiber.StatusNotFound, "There is no page at %s.", c.Path()))
}

// needsSetup reports whether no owner exists yet.
func (s *Server) needsSetup(c *fiber.Ctx) (bool, error) {
	if s.ui.setupDone.Load() {
		return false, nil
	}
	need, err := s.auth.NeedsSetup(c.UserContext())
	if err != nil {
		return false, err
	}
	if !need {
		s.ui.setupDone.Store(true)
	}
	return need, nil
}

// safeMethod reports whether a method changes nothing (no CSRF check).
func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// requireSession guards UI routes: without an owner every page leads to
// setup, without a session to login, and every state-changing request
// must carry the session's CSRF token (form field _csrf or header
// X-CSRF-Token).
func (s *Server) requireSession(c *fiber.Ctx) error {
	need, err := s.needsSetup(c)
	if err != nil {
		return s.uiError(c, err)
	}
	if need {
		return redirect(c, "/setup")
	}
	sess, err := s.auth.SessionFor(c.UserContext(), c.Cookies(sessionCookie))
	if err != nil {
		if !safeMethod(c.Method()) {
			return render(c, fiber.StatusUnauthorized, views.Message(views.MessageProps{
				Page: s.pageProps(c, "Signed out", ""), Heading: "Signed out",
				Message: "Your session has ended. Sign in again; nothing was changed.", Back: "/login"}))
		}
		return redirect(c, "/login?next="+url.QueryEscape(string(c.Request().URI().RequestURI())))
	}
	c.Locals(localSession, sess)
	withActor(c, engine.Actor{Kind: "user", Name: sess.User})
	if !safeMethod(c.Method()) {
		tok := c.Get(csrfHeader)
		if tok == "" {
			tok = c.FormValue(csrfField)
		}
		if !sess.CheckCSRF(tok) {
			return render(c, fiber.StatusForbidden, views.Message(views.MessageProps{
				Page: s.pageProps(c, "Refused", ""), Heading: "Refused",
				Message: "This request did not carry a valid CSRF token. Reload the page and try again.", Back: "/"}))
		}
	}
	return c.Next()
}

// crossSite reports whether a browser sent the request from another
// site. Browsers say so in Sec-Fetch-Site, which no proxy's rewriting of
// Host confuses; older ones only send Origin, whose host must then be
// this site's (the request's Host or the public URL's). Requests without
// either do not come from a browser page.
func (s *Server) crossSite(c *fiber.Ctx) bool {
	if site := c.Get("Sec-Fetch-Site"); site != "" {
		return site != "same-origin"
	}
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true // "null" (a sandboxed frame, a data: URL) or garbage
	}
	if u.Host == c.Hostname() {
		return false
	}
	pub, err := url.Parse(s.cfg.PublicURL)
	return s.cfg.PublicURL == "" || err != nil || !strings.EqualFold(u.Host, pub.Host)
}

// secureCookies reports whether cookies must be Secure: the request came
// over https or the public URL is https.
func (s *Server) secureCookies(c *fiber.Ctx) bool {
	return c.Protocol() == "https" || strings.HasPrefix(strings.ToLower(s.cfg.PublicURL), "https://")
}

func (s *Server) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: s.secureCookies(c)}
	if !expires.IsZero() {
		ck.Expires = expires
	}
	c.Cookie(ck)
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: s.secureCookies(c), Expires: time.Unix(0, 0), MaxAge: -1})
}

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("web: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// preToken returns the pre-session CSRF token, setting its cookie first
// when the browser has none.
func (s *Server) preToken(c *fiber.Ctx) string {
	if tok := c.Cookies(preSessionCookie); len(tok) >= 32 {
		return tok
	}
	tok := randomString()
	s.setCookie(c, preSessionCookie, tok, time.Time{})
	return tok
}

// checkPreToken compares the form's token with the cookie's.
func checkPreToken(c *fiber.Ctx) bool {
	ck, form := c.Cookies(preSessionCookie), c.FormValue(csrfField)
	return ck != "" && subtle.ConstantTimeCompare([]byte(ck), []byte(form)) == 1
}

func (s *Server) setupPage(c *fiber.Ctx) error {
	need, err := s.needsSetup(c)
	if err != nil {
		return s.uiError(c, err)
	}
	if !need {
		return redirect(c, "/login")
	}
	return render(c, fiber.StatusOK, views.Setup(views.SetupProps{Page: s.prePage(c, "Set up")}))
}

func (s *Server) prePage(c *fiber.Ctx, title string) views.PageProps {
	return views.PageProps{Title: title, CSRF: s.preToken(c), AssetVersion: assetVersion}
}

func (s *Server) setupSubmit(c *fiber.Ctx) error {
	need, err := s.needsSetup(c)
	if err != nil {
		return s.uiError(c, err)
	}
	if !need {
		return redirect(c, "/login")
	}
	name, pw := strings.TrimSpace(c.FormValue("name")), c.FormValue("password")
	fail := func(status int, msg string) error {
		return render(c, status, views.Setup(views.SetupProps{Page: s.prePage(c, "Set up"), Name: name, Error: msg}))
	}
	if !checkPreToken(c) {
		return fail(fiber.StatusForbidden, "The form expired. Please try again.")
	}
	if pw != c.FormValue("password2") {
		return fail(fiber.StatusBadRequest, "The passwords do not match.")
	}
	if err := s.auth.Setup(c.UserContext(), name, pw); err != nil {
		switch {
		case errors.Is(err, auth.ErrSetupDone):
			return redirect(c, "/login")
		case errors.Is(err, auth.ErrBadInput):
			msg := err.Error()
			if i := strings.LastIndex(msg, auth.ErrBadInput.Error()+": "); i >= 0 {
				msg = msg[i+len(auth.ErrBadInput.Error())+2:]
			}
			return fail(fiber.StatusBadRequest, upperFirst(msg)+".")
		}
		return s.uiError(c, err)
	}
	s.ui.setupDone.Store(true)
	sess, err := s.auth.Login(c.UserContext(), name, pw, c.IP())
	if err != nil {
		return redirect(c, "/login")
	}
	s.auditLogin(c, name, true, "owner account created")
	s.setCookie(c, sessionCookie, sess.Token, sess.ExpiresAt)
	s.clearCookie(c, preSessionCookie)
	return redirect(c, "/flows")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// localPath keeps a ?next= target on this site: anything but an on-site
// path goes to "/".
func localPath(p string) string {
	if !onSitePath(p) {
		return "/"
	}
	return p
}

// onSitePath reports whether p is a path of this site that a redirect may
// name: one leading slash and no "//" in the path (which browsers read as
// another host), no backslash (which they read as a slash), only
// printable ASCII (no control characters or tabs, which browsers drop and
// which would break out of the Location header; our own links are
// percent-encoded), no scheme, and not the sign-out.
func onSitePath(p string) bool {
	if len(p) == 0 || len(p) > 2048 || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if ch := p[i]; ch <= ' ' || ch >= 0x7f || ch == '\\' {
			return false
		}
	}
	path, _, _ := strings.Cut(p, "?")
	path, _, _ = strings.Cut(path, "#")
	if strings.Contains(path, "//") || path == "/logout" || strings.HasPrefix(path, "/logout/") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

func (s *Server) loginPage(c *fiber.Ctx) error {
	need, err := s.needsSetup(c)
	if err != nil {
		return s.uiError(c, err)
	}
	if need {
		return redirect(c, "/setup")
	}
	if _, err := s.auth.SessionFor(c.UserContext(), c.Cookies(sessionCookie)); err == nil {
		return redirect(c, localPath(c.Query("next")))
	}
	return render(c, fiber.StatusOK, views.Login(views.LoginProps{Page: s.prePage(c, "Sign in"), Next: localPath(c.Query("next"))}))
}

func (s *Server) loginSubmit(c *fiber.Ctx) error {
	need, err := s.needsSetup(c)
	if err != nil {
		return s.uiError(c, err)
	}
	if need {
		return redirect(c, "/setup")
	}
	name, next := c.FormValue("name"), localPath(c.FormValue("next"))
	fail := func(status int, msg string) error {
		return render(c, status, views.Login(views.LoginProps{Page: s.prePage(c, "Sign in"), Name: name, Next: next, Error: msg}))
	}
	if !checkPreToken(c) {
		return fail(fiber.StatusForbidden, "The form expired. Please try again.")
	}
	sess, err := s.auth.Login(c.UserContext(), name, c.FormValue("password"), c.IP())
	switch {
	case errors.Is(err, auth.ErrThrottled):
		c.Set(fiber.HeaderRetryAfter, "300")
		return fail(fiber.StatusTooManyRequests, "Too many attempts. Wait a few minutes, then try again.")
	case errors.Is(err, auth.ErrBadLogin):
		s.auditLogin(c, name, false, "")
		return fail(fiber.StatusUnauthorized, "Wrong user name or password.")
	case err != nil:
		return s.uiError(c, err)
	}
	s.auditLogin(c, name, true, "")
	s.setCookie(c, sessionCookie, sess.Token, sess.ExpiresAt)
	return redirect(c, next)
}

func (s *Server) logout(c *fiber.Ctx) error {
	if err := s.auth.Logout(c.UserContext(), session(c).Token); err != nil {
		return s.uiError(c, err)
	}
	s.clearCookie(c, sessionCookie)
	return redirect(c, "/login")
}

// sessionAPI admits an API call made by the UI's own scripts: a session
// cookie counts only together with the session's X-CSRF-Token header, so
// another site cannot ride on the cookie.
func (s *Server) sessionAPI(c *fiber.Ctx, cookie string) error {
	sess, err := s.auth.SessionFor(c.UserContext(), cookie)
	if err != nil {
		return errStatus(fiber.StatusUnauthorized, "session expired; sign in again or use a bearer token")
	}
	if !sess.CheckCSRF(c.Get(csrfHeader)) {
		return errStatus(fiber.StatusForbidden, "a session cookie needs the X-CSRF-Token header")
	}
	c.Locals(localSession, sess)
	withActor(c, engine.Actor{Kind: "user", Name: sess.User})
	return c.Next()
}
