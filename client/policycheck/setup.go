package policycheck

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/redact"
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
	// Token is sent only to a server named here: to Mirror, or with
	// PolicyFile to Proxy and to VulnDB if it has Proxy's origin; never to
	// a URL taken from go env GOPROXY, nor over plain http to a host other
	// than loopback (an error). "" for none. TokenName selects the rule set of a policy file as if
	// that token asked.
	Token, TokenName string
	// Explain records the checks of each decision.
	Explain bool
	// Client makes the HTTP requests; nil is http.DefaultClient.
	Client *http.Client
	// Go runs the go command.
	Go golist.GoCommand
	// Warn, if not nil, is told what the user should know that no
	// decision says (with PolicyFile: a VulnDB that cannot be read, once).
	Warn func(i18n.Text)
}

// Checker is a Decider and the Resolver of build lists that goes with it.
type Checker struct {
	Decider  Decider
	Resolver Resolver
	// Where says what decides, for people: "the mirror at URL" or "policy FILE".
	Where i18n.Text
	// Notes are things to tell the user on standard error (a token not
	// sent, and why).
	Notes  []i18n.Text
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
		return "", i18n.Errorf("%s: no token in the file", name)
	}
	return tok, nil
}

// NewChecker sets up what opts ask for.
func NewChecker(ctx context.Context, opts Options) (*Checker, error) {
	if opts.Mirror != "" && opts.PolicyFile != "" {
		return nil, i18n.Errorf("give --mirror or --policy, not both")
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
				return nil, i18n.Errorf("go env GOPROXY is %q, with no URL first: give --mirror URL or --policy FILE", goproxy)
			}
			mirror = first
		}
		if err := checkURL("--mirror", mirror); err != nil {
			return nil, err
		}
		tok, notes, err := tokenFor(opts.Token, opts.Mirror, mirror, "--mirror")
		if err != nil {
			return nil, err
		}
		resolve := opts.Proxy
		if resolve == "" {
			resolve = mirror
		}
		if err := checkURL("--proxy", resolve); err != nil {
			return nil, err
		}
		// The go command that resolves the build list through the mirror
		// needs the token too (auth all, private modules); through
		// another --proxy it gets none.
		g := opts.Go
		if g.Token, _, err = tokenFor(tok, opts.Mirror, resolve, "--mirror"); err != nil {
			return nil, err
		}
		return &Checker{
			Decider:  &Remote{Mirror: mirror, Client: opts.Client, Token: tok, Explain: opts.Explain},
			Resolver: GoList{Go: g, Proxy: resolve},
			Where:    i18n.T("the mirror at %s", redact.URL(mirror)),
			Notes:    notes,
		}, nil
	}
	pol, err := policy.Load(opts.PolicyFile)
	if err != nil {
		return nil, err
	}
	proxy := opts.Proxy
	if proxy == "" {
		if first == "" {
			return nil, i18n.Errorf("go env GOPROXY is %q, with no URL first: give --proxy URL", goproxy)
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
	tok, notes, err := tokenFor(opts.Token, opts.Proxy, proxy, "--proxy")
	if err != nil {
		return nil, err
	}
	vtok, vnotes, err := tokenFor(tok, opts.Proxy, vdb, "--proxy")
	if err != nil {
		return nil, err
	}
	if tok != "" && vtok == "" {
		vnotes = []i18n.Text{i18n.T("the token is not sent to --vulndb %s: not the origin of --proxy", redact.URL(vdb))}
	}
	facts := &ProxyFacts{Proxy: proxy, Client: opts.Client, Header: bearer(tok),
		VulnDB: &BatchVulns{DB: &vulndb.Client{URL: vdb, HTTP: opts.Client, Header: bearer(vtok)}, URL: redact.URL(vdb), Warn: opts.Warn}}
	g := opts.Go
	g.Token = tok // the go command resolves through the proxy the token is for
	return &Checker{
		Decider:  &Local{Policy: pol, Token: opts.TokenName, Facts: facts, Explain: opts.Explain},
		Resolver: GoList{Go: g, Proxy: proxy},
		Where:    i18n.T("policy %s", opts.PolicyFile),
		Notes:    append(notes, vnotes...),
		closer:   facts,
	}, nil
}

func bearer(tok string) http.Header {
	if tok == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// tokenFor returns the token to send to URL u: tok if u has the origin
// (scheme, host and port) of named, the URL the user named with flag,
// and is https or on a loopback host; "" with a note when named is ""
// (u came from go env GOPROXY, which may be any proxy, a public one
// included) or u has another origin. A token that would go over plain
// http to another host is an error: it must not be sent, and the check
// would fail without it.
func tokenFor(tok, named, u, flag string) (string, []i18n.Text, error) {
	if tok == "" {
		return "", nil, nil
	}
	if named == "" {
		return "", []i18n.Text{i18n.T("the token is not sent to %s, taken from go env GOPROXY: it goes only to a mirror named with %s", redact.URL(u), flag)}, nil
	}
	nu, err1 := url.Parse(named)
	uu, err2 := url.Parse(u)
	if err1 != nil || err2 != nil || !strings.EqualFold(nu.Scheme, uu.Scheme) || !strings.EqualFold(nu.Host, uu.Host) {
		return "", nil, nil
	}
	if uu.Scheme != "https" && !loopback(uu.Hostname()) {
		return "", nil, i18n.Errorf("%s %s: refusing to send the token over plain http to a host other than loopback: use https", flag, redact.URL(u))
	}
	return tok, nil, nil
}

// loopback reports whether host is localhost or a loopback IP address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
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
		return i18n.Errorf("%s %q: want an http or https URL", flag, redact.URL(s))
	}
	return nil
}
