package auth

import (
	"fmt"
	"testing"
	"time"
)

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
