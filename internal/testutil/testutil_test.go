package testutil

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/dirhash"
)

func TestRunCommand(t *testing.T) {
	cmd := &cobra.Command{
		Use: "echo",
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), strings.Join(args, " "))
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s", in)
			if len(args) > 0 && args[0] == "fail" {
				return errors.New("failed")
			}
			return nil
		},
	}
	out, errOut, err := RunCommand(t, cmd, strings.NewReader("input"), "a", "b")
	if out != "a b" || errOut != "warning: input" || err != nil {
		t.Errorf("RunCommand = %q, %q, %v", out, errOut, err)
	}
	// Errors are returned, not printed.
	if _, errOut, err := RunCommand(t, cmd, strings.NewReader(""), "fail"); err == nil || errOut != "warning: " {
		t.Errorf("failing command: stderr %q, %v", errOut, err)
	}
}

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Errorf("%d bytes, want 800", n)
	}
}

func TestGoEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	t.Setenv("GOFLAGS", "-mod=mod")
	if got := GoEnv(t, "GOFLAGS"); got != "-mod=mod" {
		t.Errorf("GoEnv(GOFLAGS) = %q", got)
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d: %v", p, err)
	}
	ln.Close()
}

func TestHashZipIsDirhashHashZip(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"m@v1.0.0/go.mod", "m@v1.0.0/a.go"} {
		w, _ := zw.Create(name)
		w.Write([]byte("content of " + name))
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "m.zip")
	os.WriteFile(p, buf.Bytes(), 0o644)
	want, err := dirhash.HashZip(p, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	if got := MustHashZip(t, buf.Bytes()); got != want {
		t.Errorf("HashZip = %s, dirhash.HashZip = %s", got, want)
	}
	if _, err := HashZip([]byte("not a zip")); err == nil {
		t.Error("HashZip of garbage succeeded")
	}
}
