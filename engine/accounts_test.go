package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestSetupOnlyOnce(t *testing.T) {
	te := startEngine(t, "", Config{})
	ctx := context.Background()
	if need, _ := te.NeedsSetup(ctx); !need {
		t.Fatal("fresh engine does not need setup")
	}
	if err := te.Setup(ctx, "owner", "short"); !errors.Is(err, ErrBadInput) {
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
		} else if !errors.Is(err, ErrSetupDone) {
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d setups succeeded", wins)
	}
}

func TestLoginSessionsAndThrottle(t *testing.T) {
	te := startEngine(t, "", Config{})
	ctx := context.Background()
	if err := te.Setup(ctx, "ada", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	u, _ := te.store.User(ctx, "ada")
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
	if _, err := te.store.Session(ctx, s.Token); err == nil {
		t.Fatal("session stored under its raw token")
	}
	te.Logout(ctx, s.Token)
	if _, err := te.SessionFor(ctx, s.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("session survived logout")
	}
	for i := 0; i < loginFailures; i++ {
		if _, err := te.Login(ctx, "ada", "wrong", "5.6.7.8"); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := te.Login(ctx, "ada", "correct horse battery", "5.6.7.8"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("after %d failures: %v", loginFailures, err)
	}
	if _, err := te.Login(ctx, "nobody", "whatever", "9.9.9.9"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown user: %v", err)
	}
}
