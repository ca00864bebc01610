// Package server assembles gomirror's parts (storage, upstream chain,
// checksum database, cache, HTTP edge, metrics) from a config.Serve and runs
// the HTTP server until its context is cancelled.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/console"
	"github.com/gomirror/gomirror/coord"
	"github.com/gomirror/gomirror/egress"
	"github.com/gomirror/gomirror/gate"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/internal/netconf"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/tempdir"
	"github.com/gomirror/gomirror/internal/wire"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/proxy"
	"github.com/gomirror/gomirror/snapshot"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/uphistory"
	"github.com/gomirror/gomirror/upstream"
	"github.com/gomirror/gomirror/vcscred"
	"github.com/gomirror/gomirror/vulndb"
)

// The checksum database confirms the versions a group's mirrors disagree
// on (upstream.Group.SetConfirmer).
var _ upstream.Confirmer = (*sumdb.Verifier)(nil)

// Server is an assembled gomirror server.
type Server struct {
	cfg     *config.Serve
	log     *slog.Logger
	store   storage.Storage
	mirror  *cache.Mirror
	sumdb   *sumdb.Verifier // nil if the checksum database is off
	metrics *obs.Metrics
	handler http.Handler
	credDir string            // VCS credential files
	groups  []*upstream.Group // probed while serving
	// upHistory is the upstreams' recent history (/api/v1/upstreams).
	upHistory *uphistory.History
	// closeRedis closes the coordinator's connections; nil without Redis.
	closeRedis func() error
	// egress is the public direct fetches' way out; nil without direct.
	egress *egress.Proxy

	// operator is the mux of the operator endpoints (edge.go); admin
	// serves it on admin-listen (nil without).
	operator  *operatorMux
	admin     http.Handler
	adminAddr atomic.Pointer[net.Addr] // bound admin-listen address

	clients *clientaddr.Resolver // trusted-proxies
	parser  *proxy.Parser        // of request paths, for edgeContext
	ready   *readiness           // /readyz's storage probe, shared and reused briefly
	// records is the audit log, catalog and statistics (records.go); nil
	// with database off.
	records *records
	// alerts evaluates the alert rules (alerts.go); nil without any (its
	// methods then do nothing).
	alerts *alert.Engine
	// vulndb is the vulnerability database served at /vuln/ (vulndb.go);
	// nil with vulndb off.
	vulndb *vulndb.DB
	// vulnAPI is its /vuln/ API (nil without), on the main listener and
	// admin-listen.
	vulnAPI http.Handler
	// policy is the policy in force (setting policy), followed while
	// serving; nil without one. gate is the mirror that applies it.
	policy *policy.Live
	gate   *gate.Mirror
	// tracker records the artifacts served (access times, flushed to the
	// database; what is being served, for the collector); nil with
	// neither a database nor storage-max-size or retention.
	tracker *gc.Tracker
	// collector is the garbage collector (gc.go); nil without
	// storage-max-size or retention. collectorDone is closed when its run
	// has returned.
	collector     *collector
	collectorDone chan struct{}
	// views serves /snapshots/ and /env/ (package snapshot); its clock is
	// viewsNow, which tests move forward by viewsSkew nanoseconds.
	views     *snapshot.Views
	viewsSkew atomic.Int64
}

// viewsNow is the clock of s.views.
func (s *Server) viewsNow() time.Time { return time.Now().Add(time.Duration(s.viewsSkew.Load())) }

// New assembles a server from cfg. Errors in settings that are only checked
// here (upstream and sumdb syntax) are *config.Error.
func New(cfg *config.Serve, log *slog.Logger) (_ *Server, err error) {
	if cfg.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, &config.Error{Key: "tls-cert", Source: cfg.TLSCert, Err: err}
		}
	}
	var (
		credDir  string
		egressTo *egress.Proxy
		recs     *records
		// alerts is made once the server is (it polls it), before
		// anything is served; the cache's callbacks read it then.
		alerts *alert.Engine
	)
	defer func() {
		if err != nil && alerts != nil {
			alerts.Close(context.Background())
		}
		if err != nil && recs != nil {
			recs.close(context.Background())
		}
		if err != nil && credDir != "" {
			os.RemoveAll(credDir)
		}
		if err != nil && egressTo != nil {
			egressTo.Close()
		}
	}()
	store, err := wire.OpenStorage(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	var (
		coordinator cache.Coordinator
		closeRedis  func() error
	)
	if cfg.Redis != "" {
		var password string
		if cfg.RedisPasswordFile != "" {
			if password, err = config.ReadSecretFile(cfg.RedisPasswordFile); err != nil {
				return nil, &config.Error{Key: "redis-password-file", Source: cfg.RedisPasswordFile, Err: err}
			}
		}
		r, err := coord.New(cfg.Redis, coord.Options{LockTTL: cfg.RedisLockTTL, Logger: log, Password: password})
		if err != nil {
			return nil, &config.Error{Key: "redis", Source: redact.URL(cfg.Redis), Err: redact.Err(err)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.Ping(ctx); err != nil {
			// Serve anyway, alone, until Redis answers.
			log.Warn("redis does not answer; serving without replica coordination until it does", "redis", redact.URL(cfg.Redis), "err", err)
		}
		cancel()
		coordinator = redisCoordinator{r}
		closeRedis = r.Close
	}
	allow, err := netconf.ParseNetworks(cfg.DirectAllowNetworks)
	if err != nil {
		return nil, &config.Error{Key: "direct-allow-networks", Source: cfg.DirectAllowNetworks, Err: err}
	}
	policy := &egress.Policy{Allow: allow}
	client := upstreamClient(cfg, policy)
	// Two sandboxes that share nothing: private modules are fetched with
	// the VCS credentials and the operator's git configuration; public
	// paths, which any client may name, without either.
	privateDirect, err := upstream.NewDirect(filepath.Join(cfg.DirectDir, "private"), cfg.DirectProcs)
	if err != nil {
		return nil, &config.Error{Key: "direct-dir", Source: cfg.DirectDir, Err: err}
	}
	publicDirect, err := upstream.NewDirect(filepath.Join(cfg.DirectDir, "public"), cfg.DirectProcs)
	if err != nil {
		return nil, &config.Error{Key: "direct-dir", Source: cfg.DirectDir, Err: err}
	}
	for _, d := range []*upstream.Direct{privateDirect, publicDirect} {
		d.Timeout, d.QueueTimeout, d.Logger = cfg.FetchTimeout, cfg.DirectQueueTimeout, log
	}
	publicDirect.Isolated, publicDirect.CAFile = true, cfg.DirectCAFile
	// No anonymous client may hold more than half of the public pool.
	publicDirect.Share = max(1, cfg.DirectProcs/2)
	if usesDirect(cfg.Upstream) {
		// The public sandbox reaches the network only through the egress
		// proxy, which checks every destination after resolution. The go
		// command does not proxy IP literals of loopback, so a module
		// path naming one is checked before any go command runs.
		if egressTo, err = egress.NewProxy(policy, egress.ProxyOptions{Logger: log}); err != nil {
			return nil, err
		}
		publicDirect.Env = egressTo.Env()
		publicDirect.CheckHost = hostChecker(policy)
	}
	// The credential files live outside storage (which may be served as a
	// file:// tree) in a 0700 directory of gomirror's own, emptied now (a
	// killed server leaves them behind) and removed by Serve.
	credDir = filepath.Join(cfg.DirectDir, "credentials")
	if err := os.RemoveAll(credDir); err != nil {
		return nil, &config.Error{Key: "direct-dir", Source: cfg.DirectDir, Err: err}
	}
	privateDirect.Env, err = vcscred.Setup(credDir, vcscred.Config{
		Credentials:   vcsCredentials(cfg.VCSCredentials),
		Netrc:         cfg.VCSNetrc,
		SSHKey:        cfg.VCSSSHKey,
		SSHKnownHosts: cfg.VCSSSHKnownHosts,
	})
	if err != nil {
		return nil, &config.Error{Key: "vcs-credentials", Source: "startup", Err: err}
	}
	chain, groupList, err := wire.Chain(cfg, client, publicDirect, log)
	if err != nil {
		return nil, err
	}
	// Private modules go to their version control servers only, and are
	// never named to the checksum database.
	private, err := modpattern.Parse(cfg.Private)
	if err != nil {
		return nil, &config.Error{Key: "private", Source: "startup", Err: err}
	}
	noProxy, err := cfg.NoProxyPatterns()
	if err != nil {
		return nil, &config.Error{Key: "private", Source: "startup", Err: err}
	}
	noSumDB, err := cfg.NoSumDBPatterns()
	if err != nil {
		return nil, &config.Error{Key: "nosumdb", Source: "startup", Err: err}
	}
	guarded, err := cfg.AuthRulePatterns()
	if err != nil {
		return nil, &config.Error{Key: "auth-rules", Source: "startup", Err: err}
	}
	var fetcher upstream.Fetcher = chain
	// With the upstream "off", private modules are not fetched either:
	// "off" means gomirror makes no outbound connection at all.
	if !noProxy.Empty() && !chain.Offline() {
		fetcher = &upstream.Route{Patterns: noProxy, Private: privateDirect, Public: chain}
	}
	metrics := obs.NewMetrics()
	var (
		upHealth   upstreamHealth // the upstream states the alerts and the console see
		mismatches mismatchLog    // the last checksum mismatches, for the console
	)
	// The upstreams' history for /api/v1/upstreams (per replica, in memory).
	upHistory := uphistory.New(uphistory.Options{Mirrors: func() []upstream.MirrorStatus {
		var out []upstream.MirrorStatus
		for _, g := range groupList {
			out = append(out, g.Status()...)
		}
		return out
	}})

	var (
		verifier   cache.Verifier
		dbEndpoint proxy.SumDB
		v          *sumdb.Verifier
	)
	db, err := wire.NewSumDB(cfg, store, chain, client, sumdb.VerifierOptions{Logger: log,
		NegativeTTL: negativeTTL(cfg.NegativeTTL),
		// A request to the database that stalls holds every lookup of
		// the same module that joins it: bound it like a fetch.
		Timeout: min(cfg.FetchTimeout, 30*time.Second)})
	if err != nil {
		return nil, err
	}
	if db != nil {
		v = db.Verifier
		verifier = v
		sp := sumdb.NewEndpoint(v, db.Store, db.Remote, time.Minute)
		if coordinator != nil {
			sp.ShareLatest(coordinator)
		}
		dbEndpoint = sp
		// A version one mirror of a group lists and another lacks is
		// served only once the checksum database confirms it.
		for _, g := range groupList {
			g.SetConfirmer(v)
		}
	}

	// Zips being checked, and prefetched zips held until a client asks
	// (cache.heldZips): fs keeps them next to storage itself; for other
	// stores (S3) this process's own directory under <storage-dir>/tmp,
	// where what killed processes left is removed now (internal/tempdir).
	var tempDir string
	if _, ok := storage.As[storage.TempDirer](store); !ok {
		parent := filepath.Join(cfg.StorageDir, "tmp")
		if err := os.MkdirAll(parent, 0o700); err != nil {
			return nil, &config.Error{Key: "storage-dir", Source: cfg.StorageDir, Err: err}
		}
		if tempDir, err = tempdir.Open(parent); err != nil {
			return nil, &config.Error{Key: "storage-dir", Source: cfg.StorageDir, Err: err}
		}
	}
	recs, err = newRecords(cfg, store, log)
	if err != nil {
		return nil, err
	}
	var (
		onStore   func(key string, size int64)
		tracker   *gc.Tracker
		collector *collector
	)
	if recs != nil || cfg.GCEnabled() {
		tracker = gc.NewTracker()
	}
	if cfg.GCEnabled() {
		collector = newCollector(cfg, log, store, noProxy, tracker, coordinator, recs)
	}
	switch {
	case recs != nil && collector != nil:
		onStore = func(key string, size int64) { recs.feed.Add(key, size); collector.storedArtifact(key, size) }
	case recs != nil:
		onStore = recs.feed.Add
	case collector != nil:
		onStore = collector.storedArtifact
	}
	mirror := cache.New(cache.Options{
		TempDir:      tempDir,
		Coordinator:  coordinator,
		SharedTTL:    cfg.RedisSharedTTL,
		Storage:      store,
		Upstream:     fetcher,
		Verifier:     verifier,
		ListTTL:      cfg.ListTTL,
		FreshTimeout: cfg.FreshTimeout,
		FetchTimeout: cfg.FetchTimeout,
		Prefetch:     cfg.Prefetch,
		// A private module is fetched with gomirror's credentials, and a
		// module under an auth rule is for named tokens only: either is
		// fetched for a client that asked for it, never because a go.mod
		// that any client may read names it.
		NoPrefetch:  modpattern.Join(noProxy, guarded).Match,
		SmallCache:  int64(cfg.MemoryCache) << 20,
		NegativeTTL: negativeTTL(cfg.NegativeTTL),
		Logger:      log,
		OnFetch: func(op, upstream string, d time.Duration, err error) {
			metrics.ObserveFetch(op, upstream, d, err)
			upHealth.observe(upstream, err, time.Now()) // for the alerts and the console
			upHistory.Observe(upstream, d, err, time.Now())
		},
		OnVerify: func(path, version, file string, err error) {
			metrics.ObserveVerify(file, err, sumdb.Classify)
			verified(alerts, path, version, file, err)
			if sumdb.Classify(err) == "mismatch" {
				mismatches.add(path, version, file, time.Now())
			}
		},
		OnStore: onStore,
	})
	s := &Server{egress: egressTo, cfg: cfg, log: log, store: store, mirror: mirror, sumdb: v, metrics: metrics, credDir: credDir, groups: groupList, closeRedis: closeRedis, records: recs, upHistory: upHistory,
		tracker: tracker, collector: collector}
	metrics.WatchMirrors(s.mirrorMetrics)
	metrics.WatchHeldZips(func() obs.HeldZipStats {
		h := mirror.HeldZips()
		return obs.HeldZipStats{Count: h.Count, Bytes: h.Bytes, Held: h.Held, Taken: h.Taken, Evicted: h.Evicted, Expired: h.Expired}
	})
	if len(cfg.Alerts) > 0 {
		opts := alert.Options{Rules: cfg.Alerts, Notifiers: cfg.Notifiers, Log: log, Interval: cfg.AlertInterval,
			Upstreams: func() []alert.UpstreamState { return upHealth.snapshot(s.alertMirrors, time.Now()) }}
		opts.Instance, _ = os.Hostname()
		if recs != nil {
			opts.History = alertHistory{recs}
		}
		if wire.StorageDriver(cfg) == "fs" {
			opts.Storage = func() (used, total int64, err error) { return storageUsage(cfg.StorageDir) }
		}
		if alerts, err = alert.New(opts); err != nil {
			return nil, &config.Error{Key: "alerts", Source: "startup", Err: err}
		}
		s.alerts = alerts
		metrics.WatchAlerts(s.firing)
	}
	if collector != nil {
		metrics.WatchGC(collector.State)
	}
	if recs != nil {
		metrics.WatchStorage(recs.storageTotals)
		metrics.WatchAudit(recs.auditStats)
	}

	mux := http.NewServeMux()
	health := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.RequestFrom(r.Context()).Kind = "health"
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /healthz", health)
	mux.HandleFunc("GET /readyz", s.readyz)
	if err := s.newVulnDB(mux, tempDir, client); err != nil {
		return nil, err
	}
	if collector != nil && s.vulndb != nil {
		// The vulnerability database's module version in use is pinned.
		if p := VulnDBPins(cfg, store, s.vulndb.Status); p != nil {
			collector.pins = append(collector.pins, p)
		}
	}
	anonymousAdmin, _ := cfg.AdminAnonymous()
	authn, err := auth.New(auth.Options{
		Mode: auth.Mode(cfg.Auth),
		// Everything fetched with the VCS credentials (private and
		// noproxy: the private sandbox) needs a token with auth private.
		Private:    noProxy.String(),
		Rules:      authRules(cfg.AuthRules),
		TokensFile: cfg.TokensFile,
		Admin:      !anonymousAdmin,
		Logger:     log,
	})
	if err != nil {
		return nil, &config.Error{Key: "auth", Source: cfg.Auth, Err: err}
	}
	// Operator endpoints: their access rule is in edge.go.
	s.operator = newOperatorMux()
	s.operator.Handle("GET /metrics", metrics.Handler())
	s.operator.HandleFunc("GET /upstreams", s.upstreams)
	handlePprof(s.operator)
	apiStore := noStore
	if recs != nil {
		apiStore = recs.apiStore
	}
	apiOpts := api.Options{Store: apiStore, Rules: cfg.Alerts, Mismatches: mismatches.list, Log: s.log,
		Alerts:          s.alerts.Alerts,
		Upstreams:       func() []api.Upstream { return s.upstreamList(&upHealth) },
		Storage:         store,
		UpstreamHistory: s.upHistory.Upstreams}
	if collector != nil {
		apiOpts.GC = collector.apiState
	}
	if wire.StorageDriver(cfg) == "fs" {
		apiOpts.StorageUsage = func() (used, total int64, err error) { return storageUsage(cfg.StorageDir) }
	}
	apiService := api.NewService(apiOpts)
	apiService.Warm() // in the background: not waited for
	apiHandler := api.NewHandler(apiService)
	for _, pattern := range api.Routes {
		s.operator.Handle(pattern, apiHandler)
	}
	// The console: on the operator mux, where it decides access itself
	// (sessions), by the same rule (edge.go).
	consoleOpts := console.Options{API: apiService, Open: anonymousAdmin, Auth: authn, HTTPS: s.https, Log: log,
		Sessions: func() (console.Sessions, error) { return nil, errDatabaseOff }}
	if recs != nil {
		consoleOpts.Sessions = recs.sessions
	}
	if s.vulndb != nil {
		consoleOpts.Vulns = s.vulndb
	}
	cons, err := console.New(consoleOpts)
	if err != nil {
		return nil, err
	}
	for _, pattern := range console.Routes {
		s.operator.HandleOpen(pattern, cons)
	}
	if s.vulndb != nil {
		// The vulnerability database is public data: a token is needed
		// only where every request needs one (auth all). Also on
		// admin-listen, where the console links to it.
		s.vulnAPI = authn.Wrap(recordClient(vulnKind(s.vulndb.Handler(vulndb.HandlerOptions{Prefix: vulnPrefix, Status: proxy.Status, Logger: log}))), nil)
	}
	opMain, opAdmin := s.operatorHandlers(authn, health)
	var served proxy.Mirror = mirror
	if cfg.Policy != "" {
		if err := s.openPolicy(store, authn); err != nil {
			return nil, err
		}
		served = s.gate
	}
	ph := proxy.NewHandler(served, dbEndpoint, log)
	if tracker != nil {
		ph.Track(tracker)
	}
	// Snapshots and environments (/snapshots/<name>/, /env/<name>/): in
	// front of what is served, so the policy applies to them too.
	s.views = snapshot.NewViews(store, served, snapshot.ViewOptions{Now: s.viewsNow})
	ph.ServeViews(s.views)
	if p, ok := storage.As[storage.Presigner](store); ok && cfg.S3ZipRedirect {
		ph.RedirectZips(func(ctx context.Context, m layout.Module) (string, error) {
			key, err := m.Key(layout.Zip)
			if err != nil {
				return "", err
			}
			u, err := p.PresignGet(ctx, key, 15*time.Minute)
			if err != nil {
				return "", err
			}
			return u.String(), nil
		})
	}
	// The path is parsed once, at the edge (edgeContext, s.parser); auth
	// guards by the module it names and the handler serves it.
	s.parser = proxy.NewParser()
	modules := authn.Wrap(recordClient(ph), proxy.ModuleOf)
	mux.Handle("/", modules)
	if s.vulnAPI != nil {
		mux.Handle(vulnPrefix, s.vulnAPI)
	}
	// The policy check endpoint: a client endpoint (not an operator one),
	// through auth like a request that names no module; it decides only
	// for modules the token may read (server/policy.go).
	mux.Handle(api.PolicyRoute, authn.Wrap(recordClient(s.policyCheck(authn)), nil))
	clients, err := clientaddr.Parse(cfg.TrustedProxies)
	if err != nil {
		return nil, &config.Error{Key: "trusted-proxies", Source: cfg.TrustedProxies, Err: err}
	}
	s.ready = newReadiness(readyTTL, s.probeStorage)
	_, writeTimeout := s.edgeLimits()
	s.clients = clients
	// The client address (clients.Addr) is found once, by accessLog.
	s.handler = withWriteDeadline(s.accessLog(s.withOperator(opMain, withModules(mux, modules, []string{vulnPrefix}, "/healthz", "/readyz", api.PolicyPath))), writeTimeout)
	if opAdmin != nil {
		s.admin = withWriteDeadline(s.accessLog(opAdmin), writeTimeout)
	}
	if cfg.Redis != "" && recs != nil && !cfg.PostgresDatabase() {
		log.Warn("replicas (redis) with an SQLite database: each replica keeps an audit log, statistics and catalog of its own (and an SQLite file must never be shared between hosts); set database to a postgres:// URL they share",
			"database", cfg.Database)
	}
	if chain.Offline() {
		log.Info("upstream off: serving what is stored, with no outbound connections (no upstream, checksum database or version control)")
		if cfg.GCEnabled() {
			log.Warn("storage-max-size or retention with upstream off: what the garbage collector evicts cannot be fetched again", "storage_max_size", cfg.StorageMaxSize, "retention", cfg.Retention)
		}
	}
	log.Info("gomirror configured", "storage", fmt.Sprint(store), "upstream", redact.List(chain.String()), "sumdb", redact.Text(cfg.SumDB),
		"private", patternsForLog(private, "none: no module is kept from the upstream and the checksum database as private"),
		"direct_only", patternsForLog(noProxy, "none"), "nosumdb", patternsForLog(noSumDB, "none"),
		"vcs_credentials", len(cfg.VCSCredentials))
	return s, nil
}

// patternsForLog shows a list of module path patterns in the start-up log,
// or empty when it has none.
func patternsForLog(l modpattern.List, empty string) string {
	if l.Empty() {
		return empty
	}
	return l.String()
}

// mirrorStatus returns every group's mirrors.
func (s *Server) mirrorStatus() []upstream.MirrorStatus {
	var out []upstream.MirrorStatus
	for _, g := range s.groups {
		out = append(out, g.Status()...)
	}
	return out
}

func (s *Server) mirrorMetrics() []obs.Mirror {
	st := s.mirrorStatus()
	out := make([]obs.Mirror, len(st))
	for i, m := range st {
		breaker := map[string]int{"closed": 0, "half-open": 1, "open": 2}[m.Breaker]
		out[i] = obs.Mirror{Group: m.Group, URL: m.URL, Score: m.Score, P50: m.P50, P95: m.P95,
			ErrorRate: m.ErrorRate, Breaker: breaker, Preferred: m.Preferred, Requests: m.Requests, Failures: m.Failures,
			Lags: m.Lags, LagRate: m.LagRate, Disagreements: m.Disagreed}
		if m.LastLag != nil {
			out[i].LagMissing = m.LastLag.MissingCount
		}
	}
	return out
}

// upstreams answers /upstreams: the chain and the state of every mirror of
// its groups, as JSON.
func (s *Server) upstreams(w http.ResponseWriter, r *http.Request) {
	obs.RequestFrom(r.Context()).Kind = "upstreams"
	mirrors := s.mirrorStatus()
	if mirrors == nil {
		mirrors = []upstream.MirrorStatus{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(struct {
		Upstream string                  `json:"upstream"`
		Mirrors  []upstream.MirrorStatus `json:"mirrors"`
	}{redact.List(s.cfg.Upstream), mirrors})
}

// recordClient notes the authenticated client's token name for the access
// log. (The edge marked the request for the direct fetch pools' fair
// shares: requesterOf.)
func recordClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.RequestFrom(r.Context()).Client = auth.Identity(r.Context())
		next.ServeHTTP(w, r)
	})
}

// edgeContext returns ctx, r's, carrying what the edge knows of r for
// everything behind it: its client address addr (clientaddr.With), its
// access-log record rec (obs.WithRequest), the mark of its requester for
// the direct fetch pools' fair shares (upstream.WithRequesterOf,
// requesterOf), and the parse of its path (s.parser: proxy.RequestOf,
// read by auth and the module handler). The request is cloned once for all
// of them.
//
// They are one context node (edgeCtx), one allocation: the client address
// is boxed once per connection (connInfo) when it is the connection's.
func (s *Server) edgeContext(r *http.Request, addr string, rec *obs.Request) context.Context {
	c := &edgeCtx{Context: r.Context()}
	if info := connOf(r.Context()); info != nil && info.addrValue != nil && info.addr == addr {
		c.kv[0].key, c.kv[0].val = info.addrKey, info.addrValue
	} else {
		c.kv[0].key, c.kv[0].val = clientaddr.ContextValue(addr)
	}
	c.kv[1].key, c.kv[1].val = upstream.RequesterOfValue(requesterOf)
	c.kv[2].key, c.kv[2].val = obs.RequestValue(rec)
	if s.parser != nil {
		c.kv[3].key, c.kv[3].val = s.parser.ParseValue(r.URL.Path)
	}
	return c
}

// edgeCtx is a context with the values the edge adds to a request's
// (edgeContext), in one node: Value finds them by their keys, or asks the
// parent.
type edgeCtx struct {
	context.Context
	kv [4]struct{ key, val any } // an unused pair has a nil key
}

func (c *edgeCtx) Value(key any) any {
	for i := range c.kv {
		if c.kv[i].key != nil && c.kv[i].key == key {
			return c.kv[i].val
		}
	}
	return c.Context.Value(key)
}

// requesterOf names the requester of a request, from its context (or a
// fill's detached from it), as the direct fetch pools count it: the
// authenticated client ("token <name>") or, anonymous, its client
// address ("address <clientaddr.Key>").
func requesterOf(ctx context.Context) string {
	if who := auth.Identity(ctx); who != "" {
		return "token " + who
	}
	addr, _ := clientaddr.FromContext(ctx)
	return "address " + clientaddr.Key(addr)
}

func authRules(in []config.AuthRule) []auth.Rule {
	out := make([]auth.Rule, len(in))
	for i, r := range in {
		out[i] = auth.Rule(r)
	}
	return out
}

// redisCoordinator adapts coord.Redis to cache.Coordinator.
type redisCoordinator struct{ *coord.Redis }

func (c redisCoordinator) TryLock(ctx context.Context, key string) (cache.Lease, error) {
	l, err := c.Redis.TryLock(ctx, key)
	if errors.Is(err, coord.ErrHeld) {
		return nil, cache.ErrLockHeld
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func vcsCredentials(in []config.VCSCredential) []vcscred.Credential {
	out := make([]vcscred.Credential, len(in))
	for i, c := range in {
		out[i] = vcscred.Credential(c)
	}
	return out
}

// WaitFills blocks until every upstream fill and checksum database lookup
// in progress has finished.
func (s *Server) WaitFills(ctx context.Context) error {
	if err := s.mirror.Wait(ctx); err != nil {
		return err
	}
	if s.sumdb != nil {
		return s.sumdb.Wait(ctx)
	}
	return nil
}

// negativeTTL maps the setting (0 disables) to cache.Options (negative disables).
func negativeTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// edgeLimits returns max-conns and write-timeout, with their defaults for
// a config that left them zero (one built in code rather than loaded).
func (s *Server) edgeLimits() (maxConns int, writeTimeout time.Duration) {
	maxConns, writeTimeout = s.cfg.MaxConns, s.cfg.WriteTimeout
	if maxConns <= 0 {
		maxConns = config.Defaults().MaxConns
	}
	if writeTimeout <= 0 {
		writeTimeout = config.Defaults().WriteTimeout
	}
	return maxConns, writeTimeout
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// readyz answers /readyz: whether storage takes writes. The probe (an
// fsynced write) runs at most once per readyTTL, shared by concurrent
// requests, so that a flood of requests is not a flood of writes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	obs.RequestFrom(r.Context()).Kind = "health"
	if err := s.ready.check(r.Context()); err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "storage not writable: %v\n", err)
		return
	}
	if s.vulnLoading() {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready: the policy's deny-vulnerable waits for the vulnerability database's first load\n")
		s.vulnReadyz(w)
		return
	}
	io.WriteString(w, "ready\n")
	s.vulnReadyz(w)
	s.policyDetails(w)
}

// probeStorage writes and deletes a small object in storage.
func (s *Server) probeStorage(ctx context.Context) error {
	const probe = layout.ReadyProbe
	err := storage.PutBytes(ctx, s.store, probe, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	if err == nil {
		err = s.store.Delete(ctx, probe)
	}
	return err
}

// Run serves on cfg.Listen until ctx is cancelled, then stops accepting,
// lets in-flight requests and fills finish within ShutdownTimeout, and
// returns. ready, if not nil, receives the bound address once listening.
func (s *Server) Run(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return &config.Error{Key: "listen", Source: s.cfg.Listen, Err: err}
	}
	return s.Serve(ctx, ln, ready)
}

// httpServer returns the server for handler on ln, the function that
// serves it (HTTPS if tls-cert is set) and its scheme, "http" or "https".
// Every connection is bounded in number (max-conns and
// max-conns-per-client, capListener: each listener on its own count) and
// in how long it can hold its place without progress: request headers
// (and the TLS handshake) within ReadHeaderTimeout, the whole request
// (gomirror takes no bodies; a trickled one would otherwise hold the
// connection while net/http discards it) within ReadTimeout, idle
// keep-alive within IdleTimeout. Responses are the caller's to bound (the
// main listener: the per-chunk write deadline of withWriteDeadline, and
// HTTP/2's WriteByteTimeout). The caller may set more fields before
// serving.
func (s *Server) httpServer(ln net.Listener, handler http.Handler) (srv *http.Server, serve func() error, scheme string) {
	maxConns, _ := s.edgeLimits()
	capped := newCapListener(ln, maxConns, s.cfg.MaxConnsPerClient, s.clients.Trusted)
	srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnState:         capped.connState,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLSCert != "" {
		return srv, func() error { return srv.ServeTLS(capped, s.cfg.TLSCert, s.cfg.TLSKey) }, "https"
	}
	return srv, func() error { return srv.Serve(capped) }, "http"
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(addr net.Addr)) error {
	defer os.RemoveAll(s.credDir)
	if s.egress != nil {
		defer s.egress.Close() // after the fills, which use it
	}
	if s.closeRedis != nil {
		defer s.closeRedis() // after the fills, which use it
	}
	_, writeTimeout := s.edgeLimits()
	srv, serve, scheme := s.httpServer(ln, s.handler)
	// HTTP/2 multiplies what one connection can hold by its streams.
	srv.HTTP2 = &http.HTTP2Config{WriteByteTimeout: writeTimeout, MaxConcurrentStreams: maxStreams}
	srv.ConnContext = withConn(s.clients)
	errc := make(chan error, 1)
	stopAdmin, aerr := s.serveAdmin(errc)
	if aerr != nil {
		s.closeOperatorData(context.Background()) // made by New; nothing recorded yet
		return aerr
	}
	defer stopAdmin()
	probes, stopProbes := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProbes()
	if s.records != nil {
		s.records.start(probes)
	}
	if s.alerts != nil {
		go s.alerts.Run(probes)
	}
	for _, g := range s.groups {
		go g.Run(probes)
	}
	if s.upHistory != nil {
		go s.upHistory.Run(probes)
	}
	if s.vulndb != nil {
		go s.vulndb.Run(probes)
	}
	if s.policy != nil {
		go s.policy.Run(probes)
	}
	if s.tracker != nil && s.records != nil {
		go s.tracker.Run(probes, s.records.accessRecorder, func(err error) {
			s.log.Warn("writing access times failed; kept for the next flush", "err", err)
		})
	}
	if s.collector == nil {
		// What crashed processes left in storage (S3's unfinished
		// uploads) goes in the background; the collector does it at each
		// run.
		go sweepLeftovers(probes, s.store, s.log)
	}
	if s.collector != nil {
		s.collectorDone = make(chan struct{})
		go func() {
			defer close(s.collectorDone)
			s.collector.run(probes)
		}()
	}
	go func() { errc <- serve() }()
	s.log.Info("gomirror listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}
	// A listener that fails ends serving as a signal does, with the same
	// shutdown (nothing recorded is lost), and its error is returned.
	var serveErr error
	select {
	case serveErr = <-errc:
		s.log.Error("a listener failed; shutting down", "err", serveErr)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if werr := s.WaitFills(sctx); werr != nil && err == nil {
		err = fmt.Errorf("fills still running at shutdown: %w", werr)
	}
	s.mirror.Close() // the prefetched zips no client asked for
	for _, g := range s.groups {
		// The list comparisons that outlived their requests.
		if gerr := g.Close(sctx); gerr != nil {
			s.log.Warn("upstream group comparisons still running at shutdown", "group", g.String(), "err", gerr)
		}
	}
	// Every request has been logged: what the alerts and the recorder
	// hold goes out, to the database or the spill file, before the
	// process ends.
	stopProbes()
	if s.collectorDone != nil {
		select {
		case <-s.collectorDone: // a collection stops when probes end
		case <-sctx.Done():
		}
	}
	if s.tracker != nil {
		if ferr := s.tracker.Flush(sctx, s.records.accessRecorder(), time.Now()); ferr != nil {
			s.log.Warn("writing the last access times failed", "err", ferr)
		}
	}
	if rerr := s.closeOperatorData(sctx); rerr != nil && err == nil {
		err = rerr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown grace period over; dropping remaining requests")
		srv.Close()
	}
	if serveErr != nil {
		return serveErr
	}
	return err
}

// closeOperatorData sends what the alert engine has queued and writes
// what the recorder holds (to the database, or the spill file), within
// ctx, and closes the database.
func (s *Server) closeOperatorData(ctx context.Context) error {
	if s.alerts != nil {
		s.alerts.Close(ctx)
	}
	if s.records != nil {
		if err := s.records.close(ctx); err != nil {
			return fmt.Errorf("audit records: %w", err)
		}
	}
	return nil
}

// accessLog writes one log line per request and feeds the request metrics.
// It finds the request's client address (s.clients) and gives the request
// its edge context (edgeContext).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		addr := s.clientAddr(r)
		rec := &obs.Request{Method: r.Method, Path: r.URL.Path, Remote: addr}
		ctx := s.edgeContext(r, addr, rec)
		cw := &countingWriter{ResponseWriter: w}
		// Deferred: a handler that cuts its response off (panics with
		// http.ErrAbortHandler) is logged too; one that panics for another
		// reason is logged as a 500, with the panic and its stack (the
		// panicking frames are still below this call), and then aborted
		// the same way, so that net/http drops the connection without
		// logging a second stack, of this call.
		defer func() {
			p := recover()
			rec.Status, rec.Bytes, rec.Duration = cw.status, cw.n, time.Since(start)
			switch {
			case p != nil && p != http.ErrAbortHandler:
				rec.Status, rec.Aborted = http.StatusInternalServerError, fmt.Sprint("panic: ", p)
				s.log.Error("handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				p = http.ErrAbortHandler
			case rec.Status == 0:
				rec.Status = http.StatusOK
			}
			s.metrics.ObserveRequest(rec)
			s.audit(ctx, r, rec, start)
			level := slog.LevelInfo
			if rec.Kind == "health" || rec.Kind == "operator" && r.URL.Path == "/metrics" {
				level = slog.LevelDebug
			}
			logRequest(r.Context(), s.log, level, rec, s.peer(r))
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(cw, r.WithContext(ctx))
	})
}

// clientAddr returns the client address of r (clientaddr.Resolver.Addr):
// the one found for its connection (withConn) when its peer is not a
// trusted proxy, else found now.
func (s *Server) clientAddr(r *http.Request) string {
	if info := connOf(r.Context()); info != nil && info.addr != "" && info.remote == r.RemoteAddr {
		return info.addr
	}
	addr, _ := s.clients.Addr(r)
	return addr
}

// peer returns r's socket peer address as clientaddr.Peer does: the
// client address found for its connection when that is the peer's (not a
// trusted proxy), else found now.
func (s *Server) peer(r *http.Request) string {
	if info := connOf(r.Context()); info != nil && info.addr != "" && info.remote == r.RemoteAddr {
		return info.addr
	}
	return clientaddr.Peer(r)
}

// logRequest writes rec's access log line to l at level, with "via" peer
// (the trusted proxy) when the request came through one (peer is not
// rec.Remote). It hands l's handler the record that l.LogAttrs would, with
// no source position: l.LogAttrs would record the caller's (a
// runtime.Callers walk per request) for a handler that writes it, and
// NewLogger's handlers do not. So the line is the same, byte for byte.
// NewLogger's handlers (lineHandler) encode the line themselves when they
// can, again byte for byte as slog would.
func logRequest(ctx context.Context, l *slog.Logger, level slog.Level, rec *obs.Request, peer string) {
	h := l.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	now := time.Now()
	if lh, ok := h.(*lineHandler); ok && lh.writeRequest(now, level, rec, peer) {
		return
	}
	_ = h.Handle(ctx, requestRecord(now, level, rec, peer)) // as slog.Logger does: a log that fails is not the request's failure
}

// requestRecord is the slog record of rec's access-log line at time t.
func requestRecord(t time.Time, level slog.Level, rec *obs.Request, peer string) slog.Record {
	line := slog.NewRecord(t, level, "request", 0)
	line.AddAttrs(
		slog.String("method", rec.Method),
		slog.String("path", rec.Path),
		slog.Int("status", rec.Status),
		slog.Int64("bytes", rec.Bytes),
		slog.Duration("duration", rec.Duration),
		slog.String("cache", rec.Cache()),
		slog.String("upstream", rec.Upstream),
		slog.String("remote", rec.Remote),
		slog.String("client", rec.Client),
	)
	if peer != rec.Remote {
		line.AddAttrs(slog.String("via", peer))
	}
	if rec.Aborted != "" {
		line.AddAttrs(slog.String("aborted", rec.Aborted))
	}
	return line
}

// countingWriter records the status and body size. It keeps io.ReaderFrom
// so that files still go out through sendfile.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r) // HTTP/1: sendfile for files
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r) // HTTP/2
	}
	w.n += n
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NewLogger returns the logger for cfg: text or JSON on w.
func NewLogger(w io.Writer, cfg *config.Serve) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(newLineHandler(w, cfg.LogFormat == "json", level))
}
