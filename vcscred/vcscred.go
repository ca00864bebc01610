// Package vcscred hands the version control credentials gomirror holds to
// the git processes of direct fetches.
//
// Secrets never go on a command line or into an environment variable. Setup
// writes them, mode 0600 in a 0700 directory that only gomirror's user can
// read, into two files:
//
//   - a git credential store (see git-credential-store(1)), which git reads
//     through credential.helper when a server answers 401. The helper is set
//     with GIT_CONFIG_COUNT/GIT_CONFIG_KEY_n/GIT_CONFIG_VALUE_n, so the
//     user's own git configuration (url.<base>.insteadOf, say) still applies;
//   - a .netrc file, named by NETRC, for the go command's own HTTPS requests
//     (the ?go-get=1 lookup of a private host's import path).
//
// SSH remotes get GIT_SSH_COMMAND with the configured key and known_hosts
// file, strict host key checking and batch mode: an unknown host or a key
// with a passphrase fails instead of prompting.
package vcscred

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Credential is a username and the source of its secret for one host.
type Credential struct {
	// Host is a host name (meaning https://Host) or an http(s) base URL
	// such as http://127.0.0.1:8080.
	Host         string
	Username     string
	PasswordEnv  string // environment variable holding the secret
	PasswordFile string // file holding the secret (trailing newline dropped)
}

// Config is what Setup needs.
type Config struct {
	Credentials   []Credential
	Netrc         string // a .netrc file with more credentials; "" for none
	SSHKey        string // private key for SSH remotes; "" for ssh's default
	SSHKnownHosts string // known_hosts for SSH remotes; "" for ssh's default
	// LookupEnv reads environment variables; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Setup writes the credential files into dir (created 0700) and returns the
// environment variables that make git and the go command use them. A
// Config without credentials writes no files, but the environment still
// clears any credential helper git would otherwise inherit.
//
// Errors name the credential entry or file at fault but never contain a
// secret.
func Setup(dir string, c Config) (env []string, err error) {
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
	type entry struct {
		scheme, host, user, secret string
	}
	var entries []entry
	for i, cred := range c.Credentials {
		scheme, host, err := splitHost(cred.Host)
		if err != nil {
			return nil, fmt.Errorf("vcs credential %d: %w", i+1, err)
		}
		secret, err := readSecret(cred, c.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("vcs credential %d (%s): %w", i+1, cred.Host, err)
		}
		entries = append(entries, entry{scheme, host, cred.Username, secret})
	}
	var netrc []byte
	if c.Netrc != "" {
		if netrc, err = os.ReadFile(c.Netrc); err != nil {
			return nil, fmt.Errorf("vcs netrc: %w", err)
		}
		for _, l := range parseNetrc(string(netrc)) {
			// A .netrc names hosts, not schemes: only HTTPS gets them.
			entries = append(entries, entry{"https", l.machine, l.login, l.password})
		}
	}

	// An empty helper first resets the list git would otherwise inherit
	// from system or user configuration (a desktop keyring, say).
	config := [][2]string{{"credential.helper", ""}}
	if len(entries) > 0 {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, err
		}
		var store, rc strings.Builder
		for _, e := range entries {
			u := url.URL{Scheme: e.scheme, Host: e.host, User: url.UserPassword(e.user, e.secret)}
			fmt.Fprintln(&store, u.String())
			if e.scheme == "https" {
				fmt.Fprintf(&rc, "machine %s login %s password %s\n", e.host, e.user, e.secret)
			}
		}
		storeFile := filepath.Join(dir, "git-credentials")
		if err := writePrivate(storeFile, store.String()); err != nil {
			return nil, err
		}
		netrcFile := filepath.Join(dir, "netrc")
		if err := writePrivate(netrcFile, rc.String()); err != nil {
			return nil, err
		}
		config = append(config, [2]string{"credential.helper", "store --file=" + shellQuote(storeFile)})
		env = append(env, "NETRC="+netrcFile)
	}
	env = append(env, fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(config)))
	for i, kv := range config {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	if c.SSHKey != "" || c.SSHKnownHosts != "" {
		ssh := []string{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"}
		if c.SSHKey != "" {
			ssh = append(ssh, "-o", "IdentitiesOnly=yes", "-i", shellQuote(c.SSHKey))
		}
		if c.SSHKnownHosts != "" {
			ssh = append(ssh, "-o", "UserKnownHostsFile="+shellQuote(c.SSHKnownHosts))
		}
		env = append(env, "GIT_SSH_COMMAND="+strings.Join(ssh, " "))
	}
	return env, nil
}

// splitHost turns a Credential's Host into a scheme and host[:port].
func splitHost(h string) (scheme, host string, err error) {
	if !strings.Contains(h, "://") {
		if h == "" || strings.ContainsAny(h, "/@ ") {
			return "", "", fmt.Errorf("bad host %q", h)
		}
		return "https", h, nil
	}
	u, err := url.Parse(h)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", "", fmt.Errorf("bad host %q: want a host name or an http(s) base URL", h)
	}
	return u.Scheme, u.Host, nil
}

func readSecret(c Credential, lookupEnv func(string) (string, bool)) (string, error) {
	var s string
	switch {
	case c.PasswordEnv != "":
		v, ok := lookupEnv(c.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", c.PasswordEnv)
		}
		s = v
	case c.PasswordFile != "":
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", err
		}
		s = strings.TrimRight(string(b), "\r\n")
	default:
		return "", errors.New("no password-env or password-file")
	}
	if s == "" || strings.ContainsAny(s, "\n\r") {
		return "", errors.New("the secret is empty or spans several lines")
	}
	return s, nil
}

type netrcLine struct{ machine, login, password string }

// parseNetrc reads the machine/login/password entries of a .netrc file,
// as the go command does (macdef and default entries are ignored).
func parseNetrc(data string) []netrcLine {
	var (
		lines []netrcLine
		l     netrcLine
		inMac bool
	)
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if inMac {
			if line == "" {
				inMac = false
			}
			continue
		}
		f := strings.Fields(line)
		for i := 0; i < len(f)-1; i += 2 {
			switch f[i] {
			case "machine":
				l = netrcLine{machine: f[i+1]}
			case "default":
				i-- // takes no argument
				l = netrcLine{}
			case "login":
				l.login = f[i+1]
			case "password":
				l.password = f[i+1]
			case "macdef":
				inMac = true
			}
			if l.machine != "" && l.login != "" && l.password != "" {
				lines = append(lines, l)
				l = netrcLine{}
			}
		}
	}
	return lines
}

func writePrivate(file, content string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // an old tmp kept its mode
		return err
	}
	return os.Rename(tmp, file)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
