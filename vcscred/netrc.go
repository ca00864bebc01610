package vcscred

// NetrcEntry is one machine entry of a .netrc file.
type NetrcEntry struct {
	Machine, Login, Password string
}

// ParseNetrc returns the machine/login/password entries of a .netrc file's
// contents, as the go command reads them: macdef and default entries are
// ignored, and an entry lacking a login or password is skipped.
func ParseNetrc(data string) []NetrcEntry {
	lines := parseNetrc(data)
	out := make([]NetrcEntry, len(lines))
	for i, l := range lines {
		out[i] = NetrcEntry{Machine: l.machine, Login: l.login, Password: l.password}
	}
	return out
}
