package policycheck

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/vulndb"
)

// deadDB is a vulnerability database that cannot be read.
type deadDB struct{}

func (deadDB) Vulns(context.Context, []module.Version) ([][]vulndb.Advisory, error) {
	return nil, errors.New("connection refused")
}

// TestBatchVulnsUnreadableWarnsOnce: a database that cannot be read is
// policy.ErrNoVulnDB for every lookup, and Warn is told once, with the
// database's URL and the error (the decisions' lines only say "not
// available").
func TestBatchVulnsUnreadableWarnsOnce(t *testing.T) {
	var warned []string
	b := &BatchVulns{DB: deadDB{}, URL: "http://127.0.0.1:1/vuln", Warn: func(t i18n.Text) { warned = append(warned, t.String()) }}
	ctx := context.Background()
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		if _, err := b.Vulns(ctx, module.Version{Path: "example.com/m", Version: v}); !errors.Is(err, policy.ErrNoVulnDB) {
			t.Errorf("Vulns: %v, want ErrNoVulnDB", err)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "http://127.0.0.1:1/vuln") || !strings.Contains(warned[0], "connection refused") {
		t.Errorf("warnings %q, want one naming the URL and the error", warned)
	}
}
