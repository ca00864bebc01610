package console

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/db"
)

// A client token's module list is the catalog filtered by MayRead, and
// must tell nothing of the modules filtered out: not how many there are
// on a page (with the substring search, a count is an oracle that spells
// out a hidden path one character at a time), nor where one is (the
// database's cursor is the last row it returned, which may be hidden).
// So readableModules fetches database pages and filters them until the
// page is full or it has scanned scanBudget rows, and the cursor it gives
// is either
//
//   - the path of the last module shown, in clear (the database's own
//     cursor format), when the page filled and one more module the viewer
//     may see follows (or the budget ran out on a module it sees): the
//     viewer sees that path; or
//   - sealed, when the budget ran out on a hidden row: the position
//     (a path the viewer may not see) encrypted with AES-GCM under a key
//     that only this process holds, bound to the session and the query
//     (the additional data), so that nothing of it can be read, and it
//     cannot be moved to another query to narrow the position down.
//
// The key is random per process, not derived from the session's ID: the
// viewer holds that ID (its cookie), and could derive any key made from
// it and open the cursor. A sealed cursor therefore does not survive a
// restart, nor reach another replica; opening it then fails, and the
// viewer is asked to search again (errExpiredCursor). Cursors in clear
// work everywhere.
//
// What a client token can still learn: that the budget ran out (a "Next
// page" link on a page that is not full), meaning that at least
// scanBudget minus the rows shown of the stored modules matching its
// query are hidden from it, and the time a page takes.

// Bounds of the modules page.
const (
	// modulesLimit is how many modules a page lists.
	modulesLimit = 100
	// scanPage is the size of the database pages read for a client
	// token (db.MaxModulesLimit).
	scanPage = db.MaxModulesLimit
	// scanBudget is how many rows a client token's page reads at most
	// before it stops with a sealed cursor.
	scanBudget = 3 * scanPage
)

// sealedPrefix starts a sealed cursor; '.' is not in the database
// cursors' alphabet (base64url).
const sealedPrefix = "s."

// errExpiredCursor is the answer to a sealed cursor this process cannot
// open: of another session, query, process or replica, or tampered with.
var errExpiredCursor error = expiredCursorError{}

// expiredCursorError is errExpiredCursor: a bad request (api.StatusOf),
// whose text the error page translates.
type expiredCursorError struct{}

func (expiredCursorError) Error() string    { return "This page link has expired; please search again." }
func (expiredCursorError) BadRequest() bool { return true }

// newSealer returns an AES-256-GCM AEAD with a random key.
func newSealer() (cipher.AEAD, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// cursorData is the additional data that binds a sealed cursor to a
// session and a query.
func cursorData(v *viewer, q string) []byte {
	return []byte("gomirror console modules cursor\x00" + v.idHash + "\x00" + q)
}

// seal returns the sealed cursor of position after (a module path) for
// v's query q.
func (c *Console) seal(v *viewer, q, after string) string {
	nonce := make([]byte, c.sealer.NonceSize(), c.sealer.NonceSize()+len(after)+c.sealer.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(c.sealer.Seal(nonce, nonce, []byte(after), cursorData(v, q)))
}

// open returns the position a cursor names, as a database cursor: a
// sealed one opened (errExpiredCursor if it cannot be), one in clear as it
// is.
func (c *Console) open(v *viewer, q, cursor string) (string, error) {
	s, ok := strings.CutPrefix(cursor, sealedPrefix)
	if !ok {
		return cursor, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < c.sealer.NonceSize() {
		return "", errExpiredCursor
	}
	n := c.sealer.NonceSize()
	after, err := c.sealer.Open(nil, b[:n], b[n:], cursorData(v, q))
	if err != nil || len(after) == 0 {
		return "", errExpiredCursor
	}
	return base64.RawURLEncoding.EncodeToString(after), nil
}

// readableModules returns a page of at most limit stored modules whose
// path contains q and that v may download, after cursor, and the cursor
// of the next page ("" if there is none): see above.
func (c *Console) readableModules(ctx context.Context, v *viewer, q, cursor string, limit int) ([]db.ModuleSummary, string, error) {
	at, err := c.open(v, q, cursor)
	if err != nil {
		return nil, "", err
	}
	var kept []db.ModuleSummary
	last := ""      // the last row scanned
	lastShown := "" // the last row kept
	for scanned := 0; scanned < c.scanBudget; {
		mods, next, err := c.opts.API.ModulePage(ctx, q, at, min(c.scanPage, c.scanBudget-scanned))
		if err != nil {
			return nil, "", err
		}
		scanned += len(mods)
		for _, m := range mods {
			last = m.Module
			if !c.opts.Auth.MayRead(v.Name, m.Module) {
				continue
			}
			if len(kept) == limit { // one more to show: a next page
				return kept, base64.RawURLEncoding.EncodeToString([]byte(lastShown)), nil
			}
			kept = append(kept, m)
			lastShown = m.Module
		}
		if next == "" || len(mods) == 0 {
			return kept, "", nil // the end of the catalog
		}
		at = next
	}
	if last == lastShown {
		return kept, base64.RawURLEncoding.EncodeToString([]byte(last)), nil
	}
	return kept, c.seal(v, q, last), nil
}

// modulesPage is readableModules for the modules page: the viewer's
// page, or an error for fail.
func (c *Console) modulesPage(ctx context.Context, v *viewer, q, cursor string) (api.Modules, error) {
	limit := c.listLimit
	if v.Admin {
		return c.opts.API.Modules(ctx, q, cursor, limit)
	}
	mods, next, err := c.readableModules(ctx, v, q, cursor, limit)
	if err != nil {
		return api.Modules{}, err
	}
	if mods == nil {
		mods = []db.ModuleSummary{}
	}
	// The totals are the whole mirror's: not shown.
	return api.Modules{Modules: mods, Next: next}, nil
}
