// Package wire builds, from a config.Serve, the parts that more than one
// command assembles (gomirror serve in package server, gomirror verify in
// package verify), so that each is built the same way: the storage
// (OpenStorage), the upstream chain
// with its groups and upstream-netrc credentials (Chain), and the checksum
// database's Remote and Verifier (SumDB).
package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
	"github.com/gomirror/gomirror/vcscred"
)

// OpenStorage opens the storage driver that cfg names (setting storage;
// empty means the default, fs) with cfg's settings, through storage.Open.
// The program registers the drivers it offers (gomirror does in package
// server). Errors are *config.Error.
func OpenStorage(ctx context.Context, cfg *config.Serve) (storage.Storage, error) {
	store, err := storage.Open(ctx, StorageDriver(cfg), cfg)
	if err != nil {
		if _, ok := errors.AsType[*config.Error](err); !ok {
			err = &config.Error{Key: "storage", Source: cfg.Storage, Err: err}
		}
		return nil, err
	}
	return store, nil
}

// StorageDriver is the name of the storage driver of cfg: its setting
// storage, or fs if that is empty.
func StorageDriver(cfg *config.Serve) string {
	if cfg.Storage == "" {
		return "fs"
	}
	return cfg.Storage
}

// Chain builds the upstream chain of cfg, with the groups of mirrors it
// uses (which the caller probes with Group.Run while serving: a group the
// chain does not name, say with the upstream "off", connects to nothing).
// direct serves the "direct" element; errors are *config.Error.
func Chain(cfg *config.Serve, client *http.Client, direct upstream.Fetcher, log *slog.Logger) (*upstream.Chain, []*upstream.Group, error) {
	creds, err := netrcCredentials(cfg)
	if err != nil {
		return nil, nil, err
	}
	logNetrcUse(log, cfg, creds)
	groups := map[string]*upstream.Group{}
	for _, gc := range cfg.UpstreamGroups {
		mirrors := make([]string, len(gc.Mirrors))
		for i, m := range gc.Mirrors {
			mirrors[i] = withCredentials(m, creds)
		}
		g, err := upstream.NewGroup(gc.Name, mirrors, client, groupOptions(gc, log))
		if err != nil {
			return nil, nil, &config.Error{Key: "upstream-groups", Source: "group " + gc.Name, Err: err}
		}
		groups[gc.Name] = g
	}
	chain, err := upstream.ParseChain(withCredentialsList(cfg.Upstream, creds), upstream.Options{Client: client, Direct: direct, Groups: groups})
	if err != nil {
		return nil, nil, &config.Error{Key: "upstream", Source: fmt.Sprintf("value %q", redact.List(cfg.Upstream)), Err: err}
	}
	var used []*upstream.Group
	for _, l := range chain.Links() {
		if g, ok := l.Fetcher.(*upstream.Group); ok && !slices.Contains(used, g) {
			used = append(used, g)
		}
	}
	return chain, used, nil
}

// SumDB is the checksum database of a configuration.
type SumDB struct {
	Remote *sumdb.Remote
	// Store is where its verified data is kept: the unsynced view of the
	// artifacts' storage (tiles and records are verified whenever they are
	// read and can be fetched again, so they skip the fsync that artifacts
	// get).
	Store    storage.Storage
	Verifier *sumdb.Verifier
}

// NewSumDB builds the checksum database of cfg (setting sumdb), reached
// through the first upstream of chain that proxies it, else directly with
// client, its data kept in store. It returns nil if sumdb is "off".
// Modules matching nosumdb or private are exempt: opts.NoSumDB is set from
// cfg; the rest of opts is the caller's. Errors are *config.Error.
func NewSumDB(cfg *config.Serve, store storage.Storage, chain *upstream.Chain, client *http.Client, opts sumdb.VerifierOptions) (*SumDB, error) {
	if strings.TrimSpace(cfg.SumDB) == "off" {
		return nil, nil
	}
	db, err := sumdb.Parse(cfg.SumDB)
	if err != nil {
		return nil, &config.Error{Key: "sumdb", Source: redact.Text(cfg.SumDB), Err: redact.Err(err)}
	}
	remote, err := sumdb.NewRemote(db, chain, client)
	if err != nil {
		return nil, &config.Error{Key: "sumdb", Source: redact.Text(cfg.SumDB), Err: redact.Err(err)}
	}
	// Private modules are never named to the checksum database.
	if opts.NoSumDB, err = cfg.NoSumDBPatterns(); err != nil {
		return nil, &config.Error{Key: "nosumdb", Source: "startup", Err: err}
	}
	dbStore := storage.Unsynced(store)
	return &SumDB{Remote: remote, Store: dbStore, Verifier: sumdb.NewVerifier(db, dbStore, remote, opts)}, nil
}

// groupOptions maps a group's config to upstream.GroupOptions.
func groupOptions(gc config.UpstreamGroup, log *slog.Logger) upstream.GroupOptions {
	o := upstream.GroupOptions{
		Timeout:         gc.Timeout,
		RetryBackoff:    gc.RetryBackoff,
		MaxRetryAfter:   gc.MaxRetryAfter,
		HedgeAfterMin:   gc.HedgeAfterMin,
		LatencyWeight:   gc.LatencyWeight,
		ErrorWeight:     gc.ErrorWeight,
		SwitchThreshold: gc.SwitchThreshold,
		BreakerFailures: gc.BreakerFailures,
		BreakerCooldown: gc.BreakerCooldown,
		ProbeInterval:   gc.ProbeInterval,
		ProbePath:       gc.ProbePath,
		LagHalfLife:     gc.LagHalfLife,
		NoCompare:       gc.Compare != nil && !*gc.Compare,
		Logger:          log,
	}
	if gc.Retries != nil {
		o.Retries = *gc.Retries
		if o.Retries == 0 {
			o.Retries = -1 // none
		}
	}
	if gc.LagWeight != nil {
		o.LagWeight = *gc.LagWeight
		if o.LagWeight == 0 {
			o.LagWeight = -1 // record lags, do not score them
		}
	}
	if gc.Hedge != nil && !*gc.Hedge {
		o.NoHedge = true
	}
	return o
}

// netrcCredentials reads the upstream-netrc file: basic-auth credentials by
// host[:port], lower case. nil if the setting is empty.
func netrcCredentials(cfg *config.Serve) (map[string]*url.Userinfo, error) {
	if cfg.UpstreamNetrc == "" {
		return nil, nil
	}
	data, err := config.ReadSecretFile(cfg.UpstreamNetrc)
	if err != nil {
		return nil, &config.Error{Key: "upstream-netrc", Source: cfg.UpstreamNetrc, Err: err}
	}
	creds := map[string]*url.Userinfo{}
	for _, e := range vcscred.ParseNetrc(data) {
		host := strings.ToLower(e.Machine)
		if _, dup := creds[host]; !dup { // the first entry wins, as for the go command
			creds[host] = url.UserPassword(e.Login, e.Password)
		}
	}
	return creds, nil
}

// withCredentials returns rawURL with the credentials that creds has for
// its host[:port], if it is an http(s) URL without userinfo of its own.
// The go command's rule is kept: a machine name with a port matches that
// port only, one without matches the URL only if it has no port either.
func withCredentials(rawURL string, creds map[string]*url.Userinfo) string {
	if len(creds) == 0 {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return rawURL
	}
	ui, ok := creds[strings.ToLower(u.Host)]
	if !ok {
		return rawURL
	}
	u.User = ui
	return u.String()
}

// withCredentialsList is withCredentials for each element of a
// GOPROXY-syntax list.
func withCredentialsList(list string, creds map[string]*url.Userinfo) string {
	if len(creds) == 0 {
		return list
	}
	var b strings.Builder
	elems := upstream.SplitList(list)
	for i, e := range elems {
		if i > 0 {
			// The separator after the previous element.
			if elems[i-1].FallOnAnyErr {
				b.WriteByte('|')
			} else {
				b.WriteByte(',')
			}
		}
		b.WriteString(withCredentials(e.Value, creds))
	}
	return b.String()
}

// logNetrcUse says which upstream hosts got credentials from upstream-netrc
// (never the credentials), so that a machine name that matches nothing is
// noticed.
func logNetrcUse(log *slog.Logger, cfg *config.Serve, creds map[string]*url.Userinfo) {
	if len(creds) == 0 {
		return
	}
	used := map[string]bool{}
	check := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.User == nil {
			if _, ok := creds[strings.ToLower(u.Host)]; ok {
				used[strings.ToLower(u.Host)] = true
			}
		}
	}
	for _, e := range upstream.SplitList(cfg.Upstream) {
		check(e.Value)
	}
	for _, g := range cfg.UpstreamGroups {
		for _, m := range g.Mirrors {
			check(m)
		}
	}
	var hosts, unused []string
	for h := range creds {
		if used[h] {
			hosts = append(hosts, h)
		} else {
			unused = append(unused, h)
		}
	}
	slices.Sort(hosts)
	slices.Sort(unused)
	log.Info("upstream-netrc: basic auth for upstream hosts", "hosts", strings.Join(hosts, ","), "unused_machines", strings.Join(unused, ","))
}

// DatabaseDSN returns the database setting with the password of
// database-password-file, if set, in its URL: what db.Open takes. The
// result holds a secret: it is never logged (redact.URL).
func DatabaseDSN(cfg *config.Serve) (string, error) {
	if cfg.DatabasePasswordFile == "" {
		return cfg.Database, nil
	}
	pw, err := config.ReadSecretFile(cfg.DatabasePasswordFile)
	if err != nil {
		return "", &config.Error{Key: "database-password-file", Source: cfg.DatabasePasswordFile, Err: err}
	}
	u, err := url.Parse(cfg.Database)
	if err != nil {
		return "", &config.Error{Key: "database", Source: redact.URL(cfg.Database), Err: redact.Err(err)}
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), nil
}
