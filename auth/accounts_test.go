package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/auth"
	"github.com/switchyard/switchyard/engine/boltstore"
)

func TestSetupOnlyOnce(t *testing.T) {
	te, _ := newService(t)
	ctx := context.Background()
	if need, _ := te.NeedsSetup(ctx); !need {
		t.Fatal("fresh engine does not need setup")
	}
	if err := te.Setup(ctx, "owner", "short"); !errors.Is(err, auth.ErrBadInput) {
		t.Fatalf("short password: %v", err)
	}
	// Two setups racing: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = te.Setup(ctx, []string{"alice", "mallory"}[i], "correct horse battery")
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if !errors.Is(err, auth.ErrSetupDone) {
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d setups succeeded", wins)
	}
}

func TestLoginSessionsAndThrottle(t *testing.T) {
	te, store := newService(t)
	ctx := context.Background()
	if err := te.Setup(ctx, "ada", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	u, _ := store.User(ctx, "ada")
	if string(u.PasswordHash) == "correct horse battery" || len(u.PasswordHash) < 50 {
		t.Fatal("password not hashed")
	}
	s, err := te.Login(ctx, "ada", "correct horse battery", "1.2.3.4")
	if err != nil {
		t.Fatal(err)
	}
	got, err := te.SessionFor(ctx, s.Token)
	if err != nil || got.User != "ada" || !got.CheckCSRF(s.CSRF) || got.CheckCSRF("") || got.CheckCSRF("x") {
		t.Fatalf("session %+v %v", got, err)
	}
	if _, err := store.Session(ctx, s.Token); err == nil {
		t.Fatal("session stored under its raw token")
	}
	te.Logout(ctx, s.Token)
	if _, err := te.SessionFor(ctx, s.Token); !errors.Is(err, auth.ErrNoSession) {
		t.Fatal("session survived logout")
	}
	for i := 0; i < auth.LoginFailures; i++ {
		if _, err := te.Login(ctx, "ada", "wrong", "5.6.7.8"); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := te.Login(ctx, "ada", "correct horse battery", "5.6.7.8"); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("after %d failures: %v", auth.LoginFailures, err)
	}
	if _, err := te.Login(ctx, "nobody", "whatever", "9.9.9.9"); !errors.Is(err, auth.ErrBadLogin) {
		t.Fatalf("unknown user: %v", err)
	}
}

// Forty wrong passwords sent at once: only the limit's worth are checked,
// the rest are refused before their password is looked at.
func TestLoginThrottleHoldsUnderConcurrency(t *testing.T) {
	te, _ := newService(t)
	ctx := context.Background()
	if err := te.Setup(ctx, "ada", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = te.Login(ctx, "ada", fmt.Sprintf("guess %d", i), "203.0.113.7")
		}(i)
	}
	wg.Wait()
	checked := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, auth.ErrBadLogin):
			checked++
		case !errors.Is(err, auth.ErrThrottled):
			t.Fatal(err)
		}
	}
	if checked != auth.LoginFailures {
		t.Fatalf("%d of 40 parallel guesses were checked, want %d", checked, auth.LoginFailures)
	}
}

// Failures from one address hold back that address only: the owner signs
// in from another, and once the window has passed, from the same one.
func TestLoginThrottleCannotLockOwnerOut(t *testing.T) {
	te, _ := newService(t)
	ctx := context.Background()
	if err := te.Setup(ctx, "ada", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	auth.SetClock(te, func() time.Time { return now })
	const attacker, owner = "198.51.100.1", "192.0.2.10"
	for i := 0; i < auth.LoginFailures; i++ {
		if _, err := te.Login(ctx, "ada", "wrong", attacker); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := te.Login(ctx, "ada", "correct horse battery", attacker); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("the failing address is not held back: %v", err)
	}
	if _, err := te.Login(ctx, "ADA ", "correct horse battery", attacker); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("the name's case and spaces get around the limit: %v", err)
	}
	if _, err := te.Login(ctx, "ada", "correct horse battery", owner); err != nil {
		t.Fatalf("the owner, from another address: %v", err)
	}
	now = now.Add(auth.LoginWindow)
	if _, err := te.Login(ctx, "ada", "correct horse battery", attacker); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// newService is the service over a fresh bbolt store.
func newService(t *testing.T) (*auth.Service, auth.Store) {
	t.Helper()
	s, err := boltstore.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return auth.New(s, nil), s
}

// PurgeLoop forgets expired sessions and keeps live ones.
func TestPurgeLoopForgetsExpiredSessions(t *testing.T) {
	te, store := newService(t)
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	for _, s := range []auth.SessionRecord{{Hash: "old", User: "ada", ExpiresAt: now.Add(-time.Minute)}, {Hash: "live", User: "ada", ExpiresAt: now.Add(time.Hour)}} {
		if err := store.PutSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { te.PurgeLoop(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := store.Session(ctx, "old")
		if errors.Is(err, auth.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired session still there: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if _, err := store.Session(context.Background(), "live"); err != nil {
		t.Fatalf("live session purged: %v", err)
	}
}
