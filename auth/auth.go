// Package auth owns who may use Switchyard: the owner's account, browser
// sessions with their CSRF tokens, login throttling and API tokens. It
// knows nothing of HTTP or of the runtime; it keeps its records through
// the small Store interface, which each store package implements.
package auth

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Store is what auth keeps. Write methods are durable when they return.
type Store interface {
	// Tokens are API tokens, kept as hashes.
	PutToken(ctx context.Context, t TokenRecord) error
	TokenByHash(ctx context.Context, hash string) (TokenRecord, error)
	Tokens(ctx context.Context) ([]TokenRecord, error)
	DeleteToken(ctx context.Context, id string) error

	// CreateFirstUser stores the owner only while no user exists
	// (ErrSetupDone otherwise), atomically, so two setup forms racing
	// cannot both win.
	CreateFirstUser(ctx context.Context, u UserRecord) error
	User(ctx context.Context, name string) (UserRecord, error)
	UserCount(ctx context.Context) (int, error)

	// Sessions are browser sessions, kept by the hash of their token.
	PutSession(ctx context.Context, s SessionRecord) error
	Session(ctx context.Context, hash string) (SessionRecord, error)
	DeleteSession(ctx context.Context, hash string) error
	// PurgeSessions forgets sessions that expired before now.
	PurgeSessions(ctx context.Context, now time.Time) (int, error)
}

// TokenRecord is a stored API token: only its SHA-256 hash is kept.
type TokenRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Hash      string    `json:"hash"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
}

// UserRecord is a person who may use the UI. Only a password hash is kept.
type UserRecord struct {
	Name         string    `json:"name"`
	PasswordHash []byte    `json:"password_hash"`
	Role         string    `json:"role"`
	CreatedAt    time.Time `json:"created_at"`
}

// SessionRecord is a browser session; the store keys it by the SHA-256 of
// the cookie value, so a copy of the database gives no usable session.
type SessionRecord struct {
	Hash      string    `json:"hash"`
	User      string    `json:"user"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Sentinel errors of auth and of its stores.
var (
	// ErrNotFound: a store has no such token, user or session.
	ErrNotFound  = errors.New("not found")
	ErrSetupDone = errors.New("setup already done: an owner exists")
	// ErrBadInput marks errors caused by what a user typed.
	ErrBadInput  = errors.New("invalid input")
	ErrBadLogin  = errors.New("wrong user name or password")
	ErrThrottled = errors.New("too many failed logins; try again later")
	ErrNoSession = errors.New("no valid session")
)

// Service is accounts, sessions and tokens over a Store.
type Service struct {
	store    Store
	throttle *throttle
	log      *slog.Logger
}

// New makes the service over a store; log may be nil.
func New(store Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, throttle: newThrottle(), log: log}
}

// purgeEvery is how often PurgeLoop forgets expired sessions.
const purgeEvery = 10 * time.Minute

// PurgeLoop forgets expired sessions now and every ten minutes until ctx
// ends.
func (s *Service) PurgeLoop(ctx context.Context) {
	tick := time.NewTicker(purgeEvery)
	defer tick.Stop()
	for {
		if _, err := s.store.PurgeSessions(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Error("purge sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// MarkNotFound returns err, which a store made for a record it does not
// have, so that errors.Is(err, ErrNotFound) holds as well; other errors
// are returned as they are. notFound is the store's own sentinel.
func MarkNotFound(err, notFound error) error {
	if errors.Is(err, notFound) {
		return markedNotFound{err}
	}
	return err
}

// markedNotFound is a store's not-found error and ErrNotFound at once.
type markedNotFound struct{ error }

func (e markedNotFound) Unwrap() error { return e.error }

func (markedNotFound) Is(target error) bool { return target == ErrNotFound }
