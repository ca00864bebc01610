package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gomirror/gomirror/internal/clientaddr"
)

// ErrWrongToken is SignIn's answer to a secret that is no token's.
var ErrWrongToken = errors.New("auth: no token has this secret")

// LimitedError is SignIn's answer to a client address that has used up
// its allowance of wrong credentials (shared with Wrap and WrapAdmin), or
// of sign-ins.
type LimitedError struct {
	Wait time.Duration // until the address may try again
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("auth: too many failed attempts; try again in %v", e.Wait.Round(time.Second))
}

// SignIn checks a token's secret given to a sign-in form by the client of
// r (clientaddr.From), and returns the token's name, role and fingerprint
// (Current). A wrong secret counts against the client address, as wrong
// credentials do in Wrap; an address without failures left gets a
// *LimitedError before its secret is looked at. So does an address that
// has signed in SignInBurst times in a row (a right secret counts too: each
// sign-in opens a session), until SignInRefill has passed.
func (a *Authenticator) SignIn(r *http.Request, secret string) (name string, role Role, fp string, err error) {
	now := a.now()
	remote := clientaddr.From(r)
	key := clientaddr.Key(remote)
	if wait, blocked := a.limiter.blocked(key, now); blocked {
		return "", "", "", &LimitedError{Wait: wait}
	}
	if wait, blocked := a.signIns.blocked(key, now); blocked {
		a.log.Warn("auth: too many console sign-ins", "remote", remote)
		return "", "", "", &LimitedError{Wait: wait}
	}
	set := a.tokens()
	name, ok := set.checkBearer(secret)
	if !ok || secret == "" {
		a.limiter.fail(key, now)
		a.log.Warn("auth: wrong token at console sign-in", "remote", remote)
		return "", "", "", ErrWrongToken
	}
	a.signIns.fail(key, now) // counted, not failed
	role, fp, _ = a.Current(name)
	return name, role, fp, nil
}

// Current returns the role of the token named name as the tokens file has
// it now, and a fingerprint of its entry: a hash of the secret's hash, which
// changes when the token is replaced by another of the same name and
// reveals nothing of the secret. ok is false if there is no such token.
func (a *Authenticator) Current(name string) (role Role, fp string, ok bool) {
	set := a.tokens()
	i, ok := set.byName[name]
	if !ok {
		return "", "", false
	}
	e := set.entries[i]
	sum := sha256.Sum256(append([]byte("gomirror session fingerprint\x00"), e.hash[:]...))
	return e.role, hex.EncodeToString(sum[:16]), true
}

// MayRead reports whether the client token named name may download module
// mod: false if an auth rule matching mod names other tokens only. (Modes
// and private patterns only ask for some valid token.)
func (a *Authenticator) MayRead(name, mod string) bool {
	if a == nil {
		return true
	}
	n := a.needFor(mod, true)
	return n.allowed == nil || n.allowed[name]
}
