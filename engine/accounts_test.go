package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
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

// Forty wrong passwords sent at once: only the limit's worth are checked,
// the rest are refused before their password is looked at.
func TestLoginThrottleHoldsUnderConcurrency(t *testing.T) {
	te := startEngine(t, "", Config{})
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
		case errors.Is(err, ErrBadLogin):
			checked++
		case !errors.Is(err, ErrThrottled):
			t.Fatal(err)
		}
	}
	if checked != loginFailures {
		t.Fatalf("%d of 40 parallel guesses were checked, want %d", checked, loginFailures)
	}
}

// Failures from one address hold back that address only: the owner signs
// in from another, and once the window has passed, from the same one.
func TestLoginThrottleCannotLockOwnerOut(t *testing.T) {
	te := startEngine(t, "", Config{})
	ctx := context.Background()
	if err := te.Setup(ctx, "ada", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	te.throttle.now = func() time.Time { return now }
	const attacker, owner = "198.51.100.1", "192.0.2.10"
	for i := 0; i < loginFailures; i++ {
		if _, err := te.Login(ctx, "ada", "wrong", attacker); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := te.Login(ctx, "ada", "correct horse battery", attacker); !errors.Is(err, ErrThrottled) {
		t.Fatalf("the failing address is not held back: %v", err)
	}
	if _, err := te.Login(ctx, "ADA ", "correct horse battery", attacker); !errors.Is(err, ErrThrottled) {
		t.Fatalf("the name's case and spaces get around the limit: %v", err)
	}
	if _, err := te.Login(ctx, "ada", "correct horse battery", owner); err != nil {
		t.Fatalf("the owner, from another address: %v", err)
	}
	now = now.Add(loginWindow)
	if _, err := te.Login(ctx, "ada", "correct horse battery", attacker); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// The throttle's counters, without the cost of checking passwords.
func TestThrottleCounters(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	th.now = func() time.Time { return now }
	const a, b = "198.51.100.1", "192.0.2.10"
	// Spraying names from one address hits the address's own limit.
	for i := 0; i < loginAddressFailures; i++ {
		if !th.begin(fmt.Sprintf("user%d", i), a) {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if th.begin("someone-else", a) {
		t.Fatalf("attempt %d from one address allowed", loginAddressFailures+1)
	}
	if !th.begin("someone-else", b) {
		t.Fatal("another address is held back")
	}
	// A success takes its attempt back and clears the name's failures
	// from that address; failures of other names stay counted.
	for i := 0; i < loginFailures-1; i++ {
		th.begin("ada", b)
	}
	th.succeeded("ada", b)
	for i := 0; i < loginFailures; i++ {
		if !th.begin("ada", b) {
			t.Fatalf("after a success, attempt %d refused", i)
		}
	}
	if th.begin("ada", b) {
		t.Fatal("the name's limit does not hold after a success")
	}
	// A full table forgets ended windows first, and only them.
	now = now.Add(loginWindow)
	for i := len(th.hits); i < loginThrottleKeys; i++ {
		th.hits[fmt.Sprintf("a:filler%d", i)] = &failures{n: 1, first: now}
	}
	if !th.begin("ada", b) || th.hits["a:"+a] != nil || th.hits[fmt.Sprintf("a:filler%d", loginThrottleKeys-1)] == nil ||
		len(th.hits) > loginThrottleKeys {
		t.Fatalf("a full table of %d: kept an ended window, dropped a live one or refused a fresh attempt", len(th.hits))
	}
}
