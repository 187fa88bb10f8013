package engine

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Account settings.
const (
	// SessionLifetime is how long a login lasts.
	SessionLifetime = 7 * 24 * time.Hour
	// MinPasswordLen is the shortest password setup accepts.
	MinPasswordLen = 10
	bcryptCost     = 11
	// Login throttling: after loginFailures failed logins for a name or an
	// address within loginWindow, further attempts wait loginLockout.
	loginFailures = 5
	loginWindow   = 15 * time.Minute
	loginLockout  = 5 * time.Minute
	// RoleOwner is the role of the account setup creates.
	RoleOwner = "owner"
)

// Sentinel errors of accounts.
var (
	ErrBadLogin  = errors.New("wrong user name or password")
	ErrThrottled = errors.New("too many failed logins; try again later")
	ErrNoSession = errors.New("no valid session")
)

// Session is a logged-in browser: its user and the CSRF token every
// state-changing request must carry.
type Session struct {
	Token     string // the cookie value; only its hash is stored
	User      string
	CSRF      string
	ExpiresAt time.Time
}

// NeedsSetup reports whether no user exists yet (first start).
func (e *Engine) NeedsSetup(ctx context.Context) (bool, error) {
	n, err := e.store.UserCount(ctx)
	return n == 0, err
}

// Setup creates the owner account; it fails with ErrSetupDone once any user
// exists. Problems with the input come back as a *ValidationError-like
// message.
func (e *Engine) Setup(ctx context.Context, name, password string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 {
		return fmt.Errorf("setup: %w: user name must be 1 to 64 characters", ErrBadInput)
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("setup: %w: password must be at least %d characters", ErrBadInput, MinPasswordLen)
	}
	if len(password) > 72 {
		// bcrypt reads only 72 bytes; a longer password would silently
		// lose its tail.
		return fmt.Errorf("setup: %w: password must be at most 72 bytes", ErrBadInput)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return e.store.CreateFirstUser(ctx, UserRecord{Name: name, PasswordHash: hash, Role: RoleOwner, CreatedAt: time.Now().UTC()})
}

// ErrBadInput marks errors caused by what a user typed.
var ErrBadInput = errors.New("invalid input")

// dummyHash makes a login for an unknown user cost as much as for a known
// one, so timing does not reveal which names exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("switchyard-dummy-password"), bcryptCost)

// Login checks a password and opens a session. remote is the client's
// address, used for throttling alongside the user name.
func (e *Engine) Login(ctx context.Context, name, password, remote string) (Session, error) {
	if !e.throttle.allow(name, remote) {
		return Session{}, ErrThrottled
	}
	u, err := e.store.User(ctx, strings.TrimSpace(name))
	hash := u.PasswordHash
	if err != nil {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		e.throttle.fail(name, remote)
		return Session{}, ErrBadLogin
	}
	e.throttle.reset(name, remote)
	tok, csrf := randomToken(), randomToken()
	now := time.Now().UTC()
	rec := SessionRecord{Hash: HashToken(tok), User: u.Name, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionLifetime)}
	if err := e.store.PutSession(ctx, rec); err != nil {
		return Session{}, err
	}
	return Session{Token: tok, User: u.Name, CSRF: csrf, ExpiresAt: rec.ExpiresAt}, nil
}

// SessionFor returns the live session behind a cookie value.
func (e *Engine) SessionFor(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	rec, err := e.store.Session(ctx, HashToken(token))
	if err != nil || !rec.ExpiresAt.After(time.Now()) {
		return Session{}, ErrNoSession
	}
	return Session{Token: token, User: rec.User, CSRF: rec.CSRF, ExpiresAt: rec.ExpiresAt}, nil
}

// Logout ends a session.
func (e *Engine) Logout(ctx context.Context, token string) error {
	err := e.store.DeleteSession(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// CheckCSRF compares a submitted CSRF token with the session's in constant
// time.
func (s Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// Tokens lists API tokens (never the tokens themselves).
func (e *Engine) Tokens(ctx context.Context) ([]TokenRecord, error) { return e.store.Tokens(ctx) }

// CreateToken makes a new API token; the token is shown once.
func (e *Engine) CreateToken(ctx context.Context, name string) (string, TokenRecord, error) {
	return CreateToken(ctx, e.store, name)
}

// RevokeToken deletes an API token by id.
func (e *Engine) RevokeToken(ctx context.Context, id string) error {
	return e.store.DeleteToken(ctx, id)
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("engine: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// throttle counts failed logins per user name and per address.
type throttle struct {
	mu   sync.Mutex
	hits map[string]*failures
}

type failures struct {
	n           int
	first, lock time.Time
}

func newThrottle() *throttle { return &throttle{hits: map[string]*failures{}} }

func (t *throttle) keys(name, remote string) []string {
	return []string{"u:" + strings.ToLower(strings.TrimSpace(name)), "a:" + remote}
}

func (t *throttle) allow(name, remote string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for _, k := range t.keys(name, remote) {
		if f := t.hits[k]; f != nil && now.Before(f.lock) {
			return false
		}
	}
	return true
}

func (t *throttle) fail(name, remote string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if len(t.hits) > 100000 {
		// Bound memory under a spray of names: forget everything rather
		// than grow without limit.
		t.hits = map[string]*failures{}
	}
	for _, k := range t.keys(name, remote) {
		f := t.hits[k]
		if f == nil || now.Sub(f.first) > loginWindow {
			f = &failures{first: now}
			t.hits[k] = f
		}
		f.n++
		if f.n >= loginFailures {
			f.lock = now.Add(loginLockout)
		}
	}
}

func (t *throttle) reset(name, remote string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.hits, t.keys(name, remote)[0])
}
