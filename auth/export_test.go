package auth

import "time"

// Limits and clock of the login throttle, for the external tests.
const (
	LoginFailures = loginFailures
	LoginWindow   = loginWindow
)

// SetClock replaces the throttle's clock.
func SetClock(a *Service, now func() time.Time) { a.throttle.now = now }
