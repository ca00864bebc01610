package policycheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/vulndb"
)

// TokenEnv is the environment variable that holds the token sent to the
// mirror, when --token-file is not given.
const TokenEnv = "GOMIRROR_TOKEN"

// Options say how to check: with a mirror (Mirror) or a policy file
// (PolicyFile).
type Options struct {
	// Mirror is the gomirror server that decides; with neither Mirror
	// nor PolicyFile, the first URL of `go env GOPROXY`.
	Mirror string
	// PolicyFile is a policy file to decide with here, its facts fetched
	// from Proxy and VulnDB.
	PolicyFile string
	// Proxy is the module proxy the facts (and, with PolicyFile, the build
	// list) come from; "" is the first URL of `go env GOPROXY`.
	Proxy string
	// VulnDB is the vulnerability database's URL; "" is Proxy + "/vuln"
	// (a gomirror serves it there).
	VulnDB string
	// Token is sent to Mirror, or with PolicyFile to Proxy and VulnDB
	// ("" for none); TokenName selects the rule set of a policy file as if
	// that token asked.
	Token, TokenName string
	// Explain records the checks of each decision.
	Explain bool
	// Client makes the HTTP requests; nil is http.DefaultClient.
	Client *http.Client
	// Go runs the go command.
	Go golist.GoCommand
}

// Checker is a Decider and the Resolver of build lists that goes with it.
type Checker struct {
	Decider  Decider
	Resolver Resolver
	// Where says what decides, for people: "the mirror at URL" or "policy FILE".
	Where  string
	closer io.Closer
}

// Close releases what the checker holds (a temporary directory).
func (c *Checker) Close() error {
	if c.closer == nil {
		return nil
	}
	return c.closer.Close()
}

// ReadToken reads a token from the file name (its first line, spaces
// trimmed), or from TokenEnv when name is "".
func ReadToken(name string) (string, error) {
	if name == "" {
		return strings.TrimSpace(os.Getenv(TokenEnv)), nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%s: no token in the file", name)
	}
	return tok, nil
}

// NewChecker sets up what opts ask for.
func NewChecker(ctx context.Context, opts Options) (*Checker, error) {
	if opts.Mirror != "" && opts.PolicyFile != "" {
		return nil, errors.New("give --mirror or --policy, not both")
	}
	goproxy := ""
	if opts.Proxy == "" || opts.Mirror == "" && opts.PolicyFile == "" {
		env, err := gocmd.Env(ctx, gocmd.Cmd{Path: opts.Go.Path, Environ: opts.Go.Env}, "GOPROXY")
		if err != nil {
			return nil, err
		}
		goproxy = env["GOPROXY"]
	}
	first := firstURL(goproxy)
	if opts.PolicyFile == "" {
		mirror := opts.Mirror
		if mirror == "" {
			if first == "" {
				return nil, fmt.Errorf("go env GOPROXY is %q, with no URL first: give --mirror URL or --policy FILE", goproxy)
			}
			mirror = first
		}
		if err := checkURL("--mirror", mirror); err != nil {
			return nil, err
		}
		resolve := opts.Proxy
		if resolve == "" {
			resolve = mirror
		}
		return &Checker{
			Decider:  &Remote{Mirror: mirror, Client: opts.Client, Token: opts.Token, Explain: opts.Explain},
			Resolver: GoList{Go: opts.Go, Proxy: resolve},
			Where:    "the mirror at " + redactURL(mirror),
		}, nil
	}
	pol, err := policy.Load(opts.PolicyFile)
	if err != nil {
		return nil, err
	}
	proxy := opts.Proxy
	if proxy == "" {
		if first == "" {
			return nil, fmt.Errorf("go env GOPROXY is %q, with no URL first: give --proxy URL", goproxy)
		}
		proxy = first
	}
	if err := checkURL("--proxy", proxy); err != nil {
		return nil, err
	}
	vdb := opts.VulnDB
	if vdb == "" {
		vdb = strings.TrimRight(proxy, "/") + "/vuln"
	}
	if err := checkURL("--vulndb", vdb); err != nil {
		return nil, err
	}
	var header http.Header
	if opts.Token != "" {
		header = http.Header{"Authorization": {"Bearer " + opts.Token}}
	}
	facts := &ProxyFacts{Proxy: proxy, Client: opts.Client, Header: header,
		VulnDB: &BatchVulns{DB: &vulndb.Client{URL: vdb, HTTP: opts.Client, Header: header}}}
	return &Checker{
		Decider:  &Local{Policy: pol, Token: opts.TokenName, Facts: facts, Explain: opts.Explain},
		Resolver: GoList{Go: opts.Go, Proxy: proxy},
		Where:    "policy " + opts.PolicyFile,
		closer:   facts,
	}, nil
}

// firstURL is the first URL of a GOPROXY list, "" if it starts with
// direct or off (or is empty).
func firstURL(goproxy string) string {
	f := strings.FieldsFunc(goproxy, func(r rune) bool { return r == ',' || r == '|' })
	if len(f) == 0 {
		return ""
	}
	if f[0] == "direct" || f[0] == "off" {
		return ""
	}
	return f[0]
}

func checkURL(flag, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http or https URL", flag, redactURL(s))
	}
	return nil
}

// redactURL hides a password in a URL's user information.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
