package tty

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotTerminals: /dev/null (a character device), a pipe, a regular file
// and a reader that is no file are not terminals.
func TestNotTerminals(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, x := range map[string]io.Reader{"devnull": null, "pipe": r, "file": f, "reader": strings.NewReader("")} {
		if IsTerminal(x) {
			t.Errorf("%s is a terminal", name)
		}
	}
}
