// Package sumdb verifies modules against a checksum database and proxies
// that database to clients.
//
// Verification uses golang.org/x/mod/sumdb.Client, whose tiles, lookups and
// verified tree head live in gomirror's storage: tiles and lookups under
// "sumdb/<name>/..." (the GOPROXY URL space, so the same bytes also answer
// clients' /sumdb/ requests) and the verified tree head under
// ".gomirror/sumdb/<name>/latest", so that it cannot be rolled back across
// restarts.
package sumdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/internal/gocmd"
)

// DB names a checksum database: the parsed form of a GOSUMDB value.
type DB struct {
	Name string // e.g. the database's host name
	Key  string // verifier key, "<name>+<hash>+<keydata>"
	URL  string // where to reach it directly, without the trailing slash
}

// ParseGOSUMDB parses a GOSUMDB value: "off", "<name>", "<name>+<hash>+<key>",
// or either of the last two followed by a space and a URL. A bare name
// takes its key from knownKeys. It returns nil, nil for "off".
func ParseGOSUMDB(value string, knownKeys map[string]string) (*DB, error) {
	value = strings.TrimSpace(value)
	if value == "off" {
		return nil, nil
	}
	if value == "" {
		return nil, errors.New("empty checksum database setting (use \"off\" to disable)")
	}
	fields := strings.Fields(value)
	if len(fields) > 2 {
		return nil, fmt.Errorf("%q: want <name>[+<key>] [<url>]", value)
	}
	key := fields[0]
	if !strings.Contains(key, "+") {
		k, ok := knownKeys[key]
		if !ok {
			return nil, fmt.Errorf("%q: no known key for this database; give it as <name>+<hash>+<key>", key)
		}
		key = k
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("%q: invalid key: %v", value, err)
	}
	db := &DB{Name: v.Name(), Key: key, URL: "https://" + v.Name()}
	if len(fields) == 2 {
		u := strings.TrimSuffix(fields[1], "/")
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return nil, fmt.Errorf("%q: URL must start with https:// or http://", value)
		}
		db.URL = u
	}
	return db, nil
}

// Parse is ParseIn with the Go installation of the go command in PATH
// (go env GOROOT, within 30 seconds), which it reads only when value
// names a database without its key.
//
// The keys are not a constant here, unlike in the go command: the default
// database's key names its host, which this project keeps out of its
// source.
func Parse(value string) (*DB, error) {
	var goroot string
	if name := strings.Fields(value); len(name) > 0 && !strings.Contains(name[0], "+") && name[0] != "off" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		env, err := gocmd.Cmd{}.Env(ctx, "GOROOT")
		if err != nil {
			return nil, fmt.Errorf("finding the go command's known keys (go env GOROOT): %v; give the database as <name>+<hash>+<key>", err)
		}
		goroot = env["GOROOT"]
	}
	return ParseIn(goroot, value)
}

// ParseIn parses a GOSUMDB value as the go command of the Go installation
// at goroot does: a value that is one of its aliases (KnownAliases)
// stands for the value the alias maps to (another database name, with the
// alias's URL), and a bare name takes its key from its table of known keys
// (KnownKeys). goroot is read only when value names a database without
// its key.
func ParseIn(goroot, value string) (*DB, error) {
	name := strings.Fields(value)
	if len(name) == 0 || strings.Contains(name[0], "+") || name[0] == "off" {
		return ParseGOSUMDB(value, nil)
	}
	aliases, err := KnownAliases(goroot)
	if err != nil {
		return nil, err
	}
	if to, ok := aliases[strings.TrimSpace(value)]; ok {
		value = to
	}
	known, err := KnownKeys(goroot)
	if err != nil {
		return nil, err
	}
	return ParseGOSUMDB(value, known)
}

// aliasLine matches the go command's special cases of GOSUMDB values,
// `if gosumdb == "<alias>" { gosumdb = "<name> <URL>" }`.
var aliasLine = regexp.MustCompile(`if\s+(\w+)\s*==\s*"([^"\s]+)"\s*\{\s*(\w+)\s*=\s*"([^"\s]+ [^"\s]+)"\s*\}`)

// KnownAliases reads the go command's aliases of checksum databases from
// the Go installation at goroot: GOSUMDB values it replaces by another
// database name and the URL to reach it at (a name reachable where the
// default one is not), as alias -> "<name> <URL>". It reads them from the
// go command's source (cmd/go/internal/modfetch/sumdb.go), as KnownKeys
// reads the keys; an installation whose source has none (or lacks that
// file) has none.
func KnownAliases(goroot string) (map[string]string, error) {
	aliases := make(map[string]string)
	b, err := os.ReadFile(filepath.Join(goroot, "src", "cmd", "go", "internal", "modfetch", "sumdb.go"))
	if errors.Is(err, fs.ErrNotExist) {
		return aliases, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the go command's checksum database aliases: %w", err)
	}
	for _, m := range aliasLine.FindAllStringSubmatch(string(b), -1) {
		if m[1] == m[3] && m[2] != "off" {
			aliases[m[2]] = m[4]
		}
	}
	return aliases, nil
}

// knownKeyLine matches the entries of the go command's table of known
// checksum databases.
var knownKeyLine = regexp.MustCompile(`"([^"\s]+)":\s*"([^"\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+)"`)

// KnownKeys reads the go command's table of checksum databases whose keys it
// knows (the ones a bare GOSUMDB name may refer to) from the Go installation
// at goroot. gomirror reads the table at run time rather than carrying a
// copy, so it always agrees with the go command installed next to it.
func KnownKeys(goroot string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(goroot, "src", "cmd", "go", "internal", "modfetch", "key.go"))
	if err != nil {
		return nil, fmt.Errorf("reading the go command's known checksum database keys: %w", err)
	}
	keys := make(map[string]string)
	for _, m := range knownKeyLine.FindAllStringSubmatch(string(b), -1) {
		keys[m[1]] = m[2]
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no checksum database keys found in %s", goroot)
	}
	return keys, nil
}
