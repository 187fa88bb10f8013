package auth

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
	// Login throttling: within loginWindow of its first failure, one
	// address may fail loginFailures times for one user name and
	// loginAddressFailures times in all; further attempts from it are
	// refused unchecked until the window ends. Other addresses are not
	// held back, so nobody can lock the owner out from elsewhere.
	loginFailures        = 5
	loginAddressFailures = 20
	loginWindow          = 5 * time.Minute
	// loginThrottleKeys bounds the throttle's memory under a spray of
	// names and addresses.
	loginThrottleKeys = 100000
	// RoleOwner is the role of the account setup creates.
	RoleOwner = "owner"
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
func (a *Service) NeedsSetup(ctx context.Context) (bool, error) {
	n, err := a.store.UserCount(ctx)
	return n == 0, err
}

// Setup creates the owner account; it fails with ErrSetupDone once any user
// exists. Problems with the input come back as a *ValidationError-like
// message.
func (a *Service) Setup(ctx context.Context, name, password string) error {
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
	return a.store.CreateFirstUser(ctx, UserRecord{Name: name, PasswordHash: hash, Role: RoleOwner, CreatedAt: time.Now().UTC()})
}

// dummyHash makes a login for an unknown user cost as much as for a known
// one, so timing does not reveal which names exist.
// It is made on first use, not at start-up: every command (token create,
// version, ...) would otherwise pay a bcrypt hash before doing anything.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("switchyard-dummy-password"), bcryptCost)
	return h
})

// Login checks a password and opens a session. remote is the client's
// address, used for throttling alongside the user name: the attempt is
// counted before the password is checked, so attempts sent in parallel
// cannot all slip under the limit.
func (a *Service) Login(ctx context.Context, name, password, remote string) (Session, error) {
	if !a.throttle.begin(name, remote) {
		return Session{}, ErrThrottled
	}
	u, err := a.store.User(ctx, strings.TrimSpace(name))
	hash := u.PasswordHash
	if err != nil {
		hash = dummyHash()
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		// The attempt stays counted as a failure.
		return Session{}, ErrBadLogin
	}
	a.throttle.succeeded(name, remote)
	tok, csrf := randomToken(), randomToken()
	now := time.Now().UTC()
	rec := SessionRecord{Hash: HashToken(tok), User: u.Name, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionLifetime)}
	if err := a.store.PutSession(ctx, rec); err != nil {
		return Session{}, err
	}
	return Session{Token: tok, User: u.Name, CSRF: csrf, ExpiresAt: rec.ExpiresAt}, nil
}

// SessionFor returns the live session behind a cookie value.
func (a *Service) SessionFor(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	rec, err := a.store.Session(ctx, HashToken(token))
	if err != nil || !rec.ExpiresAt.After(time.Now()) {
		return Session{}, ErrNoSession
	}
	return Session{Token: token, User: rec.User, CSRF: rec.CSRF, ExpiresAt: rec.ExpiresAt}, nil
}

// Logout ends a session.
func (a *Service) Logout(ctx context.Context, token string) error {
	err := a.store.DeleteSession(ctx, HashToken(token))
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

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// throttle counts login attempts per user name and address, and per
// address. Never per name alone: then anyone could lock the owner out.
type throttle struct {
	mu   sync.Mutex
	hits map[string]*failures
	now  func() time.Time
}

// failures counts the attempts of one key since first that did not
// succeed: failed ones and those still being checked.
type failures struct {
	n     int
	first time.Time
}

func newThrottle() *throttle { return &throttle{hits: map[string]*failures{}, now: time.Now} }

// throttleKey is one counter an attempt adds to, and its limit.
type throttleKey struct {
	key   string
	limit int
}

func (t *throttle) keys(name, remote string) [2]throttleKey {
	return [2]throttleKey{
		{"n:" + strings.ToLower(strings.TrimSpace(name)) + "\x00" + remote, loginFailures},
		{"a:" + remote, loginAddressFailures},
	}
}

// begin counts an attempt before its password is checked, or refuses it
// when one of its counters is at its limit. A refused attempt is not
// counted: the window is not pushed back.
func (t *throttle) begin(name, remote string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	keys := t.keys(name, remote)
	for _, k := range keys {
		if f := t.hits[k.key]; f != nil && now.Sub(f.first) < loginWindow && f.n >= k.limit {
			return false
		}
	}
	if len(t.hits) >= loginThrottleKeys {
		t.prune(now)
	}
	for _, k := range keys {
		f := t.hits[k.key]
		if f == nil || now.Sub(f.first) >= loginWindow {
			f = &failures{first: now}
			t.hits[k.key] = f
		}
		f.n++
	}
	return true
}

// succeeded takes back the attempt begin counted: a right password
// clears the name's failures from that address.
func (t *throttle) succeeded(name, remote string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := t.keys(name, remote)
	delete(t.hits, keys[0].key)
	if f := t.hits[keys[1].key]; f != nil && f.n > 0 {
		f.n--
	}
}

// prune forgets counters whose window has ended; if a spray of names and
// addresses still fills the table, it forgets everything rather than grow
// without limit.
func (t *throttle) prune(now time.Time) {
	for k, f := range t.hits {
		if now.Sub(f.first) >= loginWindow {
			delete(t.hits, k)
		}
	}
	if len(t.hits) >= loginThrottleKeys {
		t.hits = map[string]*failures{}
	}
}
