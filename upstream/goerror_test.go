package upstream

import (
	"errors"
	"strings"
	"testing"
)

func TestGoErrorClassification(t *testing.T) {
	tests := []struct {
		name                  string
		text                  string
		isolated              bool
		notExist, unreachable bool
		refused               bool
	}{
		{"unknown revision", "go: example.test/x@v9.9.9: invalid version: unknown revision v9.9.9", false, true, false, false},
		{"repository not found", "remote: Repository not found.\nfatal: repository 'https://example.test/x/' not found", false, true, false, false},
		{"no DNS for the VCS host", "fatal: unable to access 'https://example.test/x/': Could not resolve host: example.test", false, false, true, false},
		{"connection refused", "fatal: unable to access 'https://example.test/x/': Failed to connect to example.test port 443: Connection refused", false, false, true, false},
		{"a repository that wants credentials", "go: example.test/x@v1.0.0: invalid version: git ls-remote -q origin in /d: exit status 128:\n\tfatal: could not read Username for 'https://example.test': terminal prompts disabled", true, true, false, false},
		{"a git fetch that failed", "go: example.test/x@v1.0.0: invalid version: git fetch -f origin in /d: exit status 128:\n\terror: RPC failed; HTTP 500", false, false, false, false},
		{"the egress proxy refused the go command", `go: unrecognized import path "example.test/x": https fetch: Get "https://example.test/x?go-get=1": Forbidden by gomirror egress policy`, true, false, false, true},
		{"the egress proxy refused git", "fatal: unable to access 'https://example.test/x/': CONNECT tunnel failed, response 403", true, false, false, true},
		// The public sandbox answers the same for a closed and an open
		// port behind a redirect: no port scanning through it.
		{"public: a closed port", `go: unrecognized import path "example.test/x": https fetch: Get "https://127.0.0.1:9/x?go-get=1": dial tcp 127.0.0.1:9: connect: connection refused`, true, true, false, false},
		{"public: an open port without TLS", `go: unrecognized import path "example.test/x": https fetch: Get "https://127.0.0.1:22/x?go-get=1": tls: first record does not look like a TLS handshake`, true, true, false, false},
		{"private: a closed port is an outage", `go: unrecognized import path "example.test/x": https fetch: Get "https://127.0.0.1:9/x?go-get=1": dial tcp 127.0.0.1:9: connect: connection refused`, false, false, true, false},
		{"no secure protocol", "go: example.test/x.git@v1.0.0: no secure protocol found for repository", false, false, false, false},
		{"anything else", "go: git exploded", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := goError(tt.text, tt.isolated)
			if got := IsNotExist(err); got != tt.notExist {
				t.Errorf("IsNotExist = %v, want %v", got, tt.notExist)
			}
			if got := IsUnreachable(err); got != tt.unreachable {
				t.Errorf("IsUnreachable = %v, want %v", got, tt.unreachable)
			}
			if strings.Contains(tt.text, "no secure protocol found") && !strings.Contains(err.Error(), "no secure protocol found") {
				t.Errorf("error %q does not say what the go command said went wrong", err)
			}
			var re *RefusedError
			if got := errors.As(err, &re); got != tt.refused {
				t.Errorf("refused = %v, want %v", got, tt.refused)
			}
		})
	}
}
