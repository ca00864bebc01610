package diskspace

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOfAgreesWithDF: the figures are df's (1-byte blocks) for the same
// directory, within what another process may write in between.
func TestOfAgreesWithDF(t *testing.T) {
	dir := t.TempDir()
	u, err := Of(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.Used <= 0 || u.Avail < 0 || u.Total() != u.Used+u.Avail {
		t.Fatalf("usage %+v", u)
	}
	df, err := exec.LookPath("df")
	if err != nil {
		t.Skip("no df to compare with")
	}
	out, err := exec.Command(df, "-B1", "--output=used,avail", dir).Output()
	if err != nil {
		t.Skipf("df -B1 --output (GNU df) failed: %v", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) != 4 {
		t.Fatalf("df printed %q", out)
	}
	used, _ := strconv.ParseInt(fields[2], 10, 64)
	avail, _ := strconv.ParseInt(fields[3], 10, 64)
	const slack = 64 << 20 // other writers between the two calls
	if d := u.Used - used; d < -slack || d > slack {
		t.Errorf("used %d, df says %d", u.Used, used)
	}
	if d := u.Avail - avail; d < -slack || d > slack {
		t.Errorf("avail %d, df says %d", u.Avail, avail)
	}
}

// TestOfMissingDirectory fails naming the directory, as not found.
func TestOfMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	_, err := Of(dir)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Of(%s): %v; want a not-found error naming it", dir, err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("Of created the directory")
	}
}
