package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the failure rate limit.
const (
	// DefaultFailureBurst is how many wrong credentials one client address
	// may send in a row before it is answered 429.
	DefaultFailureBurst = 10
	// DefaultFailureRefill is how long it takes to forgive one failure.
	DefaultFailureRefill = 6 * time.Second

	// SignInBurst is how many console sign-ins with a right token one
	// client address may make in a row (each opens a session) before it
	// is answered 429 (auth.LimitedError).
	SignInBurst = 10
	// SignInRefill is how long it takes for one more sign-in to be
	// allowed.
	SignInRefill = time.Minute
)

// minPrune is the number of tracked addresses below which failureLimiter
// never prunes.
const minPrune = 1024

// failureLimiter is a token bucket per client address that counts wrong
// credentials (or, for sign-ins, right ones: Authenticator.signIns). Only addresses that have failed are tracked; an address
// whose bucket has filled up again is dropped when the map grows.
type failureLimiter struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	m       map[string]*rate.Limiter
	pruneAt int
}

func newFailureLimiter(burst int, every time.Duration) *failureLimiter {
	return &failureLimiter{every: every, burst: burst, m: map[string]*rate.Limiter{}, pruneAt: minPrune}
}

// blocked reports whether key has no failures left at now, and if so how
// long until it has one again.
func (l *failureLimiter) blocked(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	lim := l.m[key]
	l.mu.Unlock()
	if lim == nil {
		return 0, false
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	// Round away float noise so that a whole number of seconds stays one.
	wait := time.Duration(math.Ceil((1 - tokens) * float64(l.every))).Round(time.Millisecond)
	return max(wait, time.Millisecond), true
}

// fail counts one failure for key at now.
func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= l.pruneAt {
			l.prune(now)
		}
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.m[key] = lim
	}
	lim.AllowN(now, 1)
}

// prune drops the addresses whose bucket is full again: they are as if
// they had never failed. It then sets the next size to prune at so that
// pruning costs O(1) per new address overall.
func (l *failureLimiter) prune(now time.Time) {
	full := float64(l.burst)
	for k, lim := range l.m {
		if lim.TokensAt(now) >= full {
			delete(l.m, k)
		}
	}
	l.pruneAt = max(minPrune, 2*len(l.m))
}

// size returns the number of tracked addresses.
func (l *failureLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
