package auth

import "time"

// SetClock makes a use now as its clock, for the tokens file reload
// interval and the failure limiter, and counts the file as checked at now().
func SetClock(a *Authenticator, now func() time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.now = now
	a.checked = now()
}

// TrackedAddresses returns how many client addresses the failure limiter
// tracks.
func TrackedAddresses(a *Authenticator) int { return a.limiter.size() }
