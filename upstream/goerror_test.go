package upstream

import "testing"

func TestGoErrorClassification(t *testing.T) {
	tests := []struct {
		name                  string
		text                  string
		notExist, unreachable bool
	}{
		{"unknown revision", "go: example.test/x@v9.9.9: invalid version: unknown revision v9.9.9", true, false},
		{"repository not found", "remote: Repository not found.\nfatal: repository 'https://example.test/x/' not found", true, false},
		{"no DNS for the VCS host", "fatal: unable to access 'https://example.test/x/': Could not resolve host: example.test", false, true},
		{"connection refused", "fatal: unable to access 'https://example.test/x/': Failed to connect to example.test port 443: Connection refused", false, true},
		{"anything else", "go: git exploded", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := goError(tt.text)
			if got := IsNotExist(err); got != tt.notExist {
				t.Errorf("IsNotExist = %v, want %v", got, tt.notExist)
			}
			if got := IsUnreachable(err); got != tt.unreachable {
				t.Errorf("IsUnreachable = %v, want %v", got, tt.unreachable)
			}
		})
	}
}
