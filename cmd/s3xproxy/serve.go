package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/s3xproxy/s3xproxy/config"
	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/proxy/gateway"
	"github.com/s3xproxy/s3xproxy/proxy/metrics"
	"github.com/s3xproxy/s3xproxy/proxy/route"
)

// readyCheckTimeout bounds the upstream-credentials check behind /readyz.
const readyCheckTimeout = 5 * time.Second

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/s3xproxy/s3xproxy.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "s3xproxy serve: unexpected arguments %q\n", fs.Args())
		return 2
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return serve(context.Background(), serveParams{ConfigPath: *path, Signals: sigs, Stderr: stderr})
}

// serveParams is what serve needs from the process; tests fill it with
// their own signal channel so they never signal the test binary.
type serveParams struct {
	ConfigPath string
	// Signals delivers SIGHUP (reload) and SIGTERM/SIGINT (shutdown).
	Signals <-chan os.Signal
	// Stderr receives the log.
	Stderr io.Writer
	// OnStart, if set, is called once the listeners are up.
	OnStart func(*gateway.Server)
	// Metrics, if set, is used instead of a fresh metrics.New (tests read it).
	Metrics *metrics.Metrics
	// Listeners, where set, are pre-bound sockets used instead of the
	// configured addresses (tests that must know the ports first).
	Listeners gateway.Listeners
}

// serve runs the proxy until a shutdown signal or ctx ends, and returns the
// exit code: 0 after a clean drain, 1 when startup failed, a listener died
// or the shutdown grace ran out with requests still running.
func serve(ctx context.Context, p serveParams) int {
	cfg, err := config.Load(p.ConfigPath)
	if err != nil {
		printConfigErrors(p.Stderr, err)
		return 1
	}
	logger := newLogger(cfg.Log, p.Stderr)
	m := p.Metrics
	if m == nil {
		m = metrics.New(metrics.Options{ProcessCollectors: true})
	}
	a := &app{path: p.ConfigPath, stderr: p.Stderr, log: logger, metrics: m,
		budget: proxy.NewReplayBudget(int64(cfg.Retry.ReplayBudget))}
	m.SetReplayBudget(a.budget)
	gen, err := a.build(cfg)
	if err != nil {
		logger.Error().Err(err).Msg("cannot build the proxy from the config")
		return 1
	}
	a.install(gen)
	gwOpts := a.gatewayOptions(cfg, gen)
	gwOpts.Listeners = p.Listeners
	gw, err := gateway.New(gwOpts)
	if err != nil {
		logger.Error().Err(err).Msg("cannot set up listeners")
		gen.proxy.Close()
		return 1
	}
	a.gw = gw
	a.metrics.SetLimits(func() metrics.Limits {
		st := gw.Limits()
		return metrics.Limits{Connections: st.Connections, InFlight: st.InFlight,
			RejectedConnections: st.RejectedConnections, RejectedRequests: st.RejectedRequests}
	})
	if err := gw.Start(ctx); err != nil {
		logger.Error().Err(err).Msg("cannot start listeners")
		gw.Shutdown(context.Background())
		gen.proxy.Close()
		return 1
	}
	if p.OnStart != nil {
		p.OnStart(gw)
	}
	code := a.loop(ctx, p.Signals)
	return max(code, a.shutdown(p.Signals))
}

// loop handles signals until shutdown is due; it returns 1 if a listener
// failed, else 0.
func (a *app) loop(ctx context.Context, sigs <-chan os.Signal) int {
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				a.log.Info().Msg("SIGHUP: reloading config")
				_ = a.reload(ctx) // logged inside; the old config keeps serving
				continue
			}
			a.log.Info().Str("signal", sig.String()).Msg("shutting down")
			return 0
		case err := <-a.gw.Errors():
			a.log.Error().Err(err).Msg("listener failed; shutting down")
			return 1
		case <-ctx.Done():
			return 0
		}
	}
}

// shutdown fails readiness, drains within server.shutdown_grace and
// closes every proxy generation. A second SIGTERM/SIGINT ends the drain
// at once.
func (a *app) shutdown(sigs <-chan os.Signal) int {
	a.drain(sigs)
	grace := a.current().cfg.Server.ShutdownGrace
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig != syscall.SIGHUP {
					a.log.Warn().Str("signal", sig.String()).Msg("second signal: cutting remaining requests")
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	code := 0
	if err := a.gw.Shutdown(ctx); err != nil {
		a.log.Error().Err(err).Dur("grace", grace).Msg("shutdown grace exceeded; remaining requests cut")
		code = 1
	}
	a.closing.Wait() // old generations still draining after a reload
	if err := a.current().proxy.Close(); err != nil {
		a.log.Error().Err(err).Msg("closing the proxy")
	}
	a.log.Info().Msg("stopped")
	return code
}

// drain fails readiness and waits server.drain_delay with the listeners
// still accepting, so that a load balancer's health check takes this
// replica out before connections would be refused or reset. A second
// SIGTERM/SIGINT ends the wait.
func (a *app) drain(sigs <-chan os.Signal) {
	a.gw.FailReadiness()
	d := a.current().cfg.Server.DrainDelay
	if d <= 0 {
		return
	}
	a.log.Info().Dur("drain_delay", d).Msg("readiness failing; listeners close after the drain delay")
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				a.log.Warn().Str("signal", sig.String()).Msg("second signal: ending the drain delay")
				return
			}
		}
	}
}

// app is the running process state: the current config generation, the
// gateway and the process-lifetime metrics.
type app struct {
	path    string
	stderr  io.Writer
	log     zerolog.Logger
	metrics *metrics.Metrics
	gw      *gateway.Server
	// budget is the one replay budget of every proxy generation, so
	// requests draining on an old one count against the same limit; its
	// limit follows the current config.
	budget *proxy.ReplayBudget

	// ephemeralKey seals local sessions while the config names no keys;
	// made once, so a reload does not end them (sessionkeys.go).
	ephemeralKey     []byte
	ephemeralKeyOnce sync.Once

	cur     atomic.Pointer[generation]
	reloads sync.Mutex     // serializes reload
	closing sync.WaitGroup // old generations waiting to drain and Close
}

// generation is one loaded config and what was built from it.
type generation struct {
	cfg    *config.Config
	proxy  *proxy.Proxy
	decide func(name string) error
	ready  func(ctx context.Context) error
}

func (a *app) current() *generation { return a.cur.Load() }

// install makes gen current for everything that reads it through a
// (decision function, readiness, metrics gauge).
func (a *app) install(gen *generation) {
	a.cur.Store(gen)
	a.budget.SetLimit(int64(gen.cfg.Retry.ReplayBudget))
	if c := gen.proxy.Sessions(); c != nil {
		a.metrics.SetSessionCacheSize(c.Len)
	} else {
		a.metrics.SetSessionCacheSize(nil)
	}
}

// build makes a generation from a validated config. It does not touch the
// running one.
func (a *app) build(cfg *config.Config) (*generation, error) {
	logger := newLogger(cfg.Log, a.stderr)
	opts, err := proxyOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	opts.Observer = a.metrics
	opts.Sessions.Observer = a.metrics
	opts.LocalSessionKeys = a.sessionKeys(cfg, opts.LocalSessionKeys, logger)
	opts.ReplayBudget = a.budget
	decide, err := onDemandDecision(opts)
	if err != nil {
		return nil, err
	}
	px, err := proxy.New(opts)
	if err != nil {
		return nil, err
	}
	creds := opts.UpstreamCredentials
	ready := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
		defer cancel()
		if _, err := creds.Retrieve(ctx); err != nil {
			return fmt.Errorf("upstream credentials not resolvable: %w", err)
		}
		return nil
	}
	return &generation{cfg: cfg, proxy: px, decide: decide, ready: ready}, nil
}

// reload loads the config file again and, if it is valid and builds, swaps
// it in: new requests use the new proxy, requests in flight finish on the
// old one, which is closed once they have. On any error every problem is
// logged and the running config is kept. Listener, TLS and admin settings
// need a restart: a change there is logged and otherwise ignored.
func (a *app) reload(ctx context.Context) error {
	a.reloads.Lock()
	defer a.reloads.Unlock()
	cfg, err := config.Load(a.path)
	if err != nil {
		a.logConfigErrors(err)
		return err
	}
	gen, err := a.build(cfg)
	if err != nil {
		a.log.Error().Err(err).Msg("config reload rejected; keeping the running config")
		return err
	}
	old := a.current()
	a.install(gen)
	drained := a.gw.Swap(gen.proxy)
	a.closing.Add(1)
	go func() {
		defer a.closing.Done()
		<-drained
		if err := old.proxy.Close(); err != nil {
			a.log.Error().Err(err).Msg("closing the previous proxy")
		}
	}()
	if changed := restartOnly(old.cfg, cfg); len(changed) > 0 {
		a.log.Warn().Strs("keys", changed).Msg("these settings change only on restart; kept the running values")
	}
	a.log.Info().Str("config", a.path).Msg("config reloaded")
	if err := a.gw.ReloadCertificates(); err != nil {
		a.log.Error().Err(err).Msg("tls certificate reload failed; keeping the previous certificate")
		return fmt.Errorf("config applied, but %w", err)
	}
	return nil
}

// logConfigErrors logs one line per config problem.
func (a *app) logConfigErrors(err error) {
	es := config.AsErrors(err)
	if len(es) == 0 {
		a.log.Error().Err(err).Msg("config reload rejected; keeping the running config")
		return
	}
	for _, e := range es {
		a.log.Error().Str("file", e.File).Int("line", e.Line).Str("key", e.Key).Str("problem", e.Msg).
			Msg("config reload rejected; keeping the running config")
	}
}

// printConfigErrors writes one line per config problem (startup, before a
// logger exists).
func printConfigErrors(w io.Writer, err error) {
	es := config.AsErrors(err)
	if len(es) == 0 {
		fmt.Fprintf(w, "s3xproxy serve: %v\n", err)
		return
	}
	for _, e := range es {
		fmt.Fprintf(w, "s3xproxy serve: %v\n", e)
	}
}

// restartOnly names the settings that differ between a and b but are
// bound at startup (listeners, TLS, admin).
func restartOnly(a, b *config.Config) []string {
	var keys []string
	if !reflect.DeepEqual(a.TLS, b.TLS) {
		keys = append(keys, "tls")
	}
	if !reflect.DeepEqual(a.Admin, b.Admin) {
		keys = append(keys, "admin")
	}
	sa, sb := a.Server, b.Server
	sa.VirtualHostDomains, sb.VirtualHostDomains = nil, nil // reloadable
	sa.ShutdownGrace, sb.ShutdownGrace = 0, 0               // read at shutdown
	sa.DrainDelay, sb.DrainDelay = 0, 0                     // read at shutdown
	sa.BodyIdleTimeout, sb.BodyIdleTimeout = 0, 0           // a proxy option: reloadable
	if !reflect.DeepEqual(sa, sb) {
		keys = append(keys, "server")
	}
	return keys
}

// gatewayOptions maps the config onto gateway.Options. The decision
// function and readiness check read the current generation, so a reload
// changes them too.
func (a *app) gatewayOptions(cfg *config.Config, gen *generation) gateway.Options {
	opts := gateway.Options{
		Handler:           gen.proxy,
		Listen:            cfg.Server.Listen,
		TLSListen:         cfg.TLS.Listen,
		TLSMode:           gateway.TLSMode(cfg.TLS.Mode),
		CertFile:          cfg.TLS.CertFile,
		KeyFile:           cfg.TLS.KeyFile,
		SelfSignedNames:   append(append([]string{}, cfg.TLS.ACME.Domains...), cfg.Server.VirtualHostDomains...),
		HTTPRedirect:      cfg.Server.HTTPRedirect,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		MaxConnections:    orDisabled(cfg.Server.MaxConnections),
		MaxInFlight:       orDisabled(cfg.Server.MaxInFlight),
		AdminListen:       cfg.Admin.Listen,
		PProf:             cfg.Admin.PProf,
		AdminToken:        cfg.Admin.Token,
		Gatherer:          a.metrics.Registry(),
		Ready:             func(ctx context.Context) error { return a.current().ready(ctx) },
		Reload:            a.reload,
		Logger:            a.log,
	}
	if opts.TLSMode == gateway.TLSACME {
		opts.ACME = gateway.ACMEOptions{
			CA:       cfg.TLS.ACME.CA,
			Email:    cfg.TLS.ACME.Email,
			Domains:  cfg.TLS.ACME.Domains,
			OnDemand: cfg.TLS.ACME.OnDemand,
			Decide:   func(name string) error { return a.current().decide(name) },
			Storage:  cfg.TLS.ACME.Storage,
			Logger:   zapLogger(a.stderr),
		}
		if cfg.TLS.ACME.CAFile != "" {
			pool, err := rootsWith(cfg.TLS.ACME.CAFile)
			if err != nil {
				a.log.Error().Err(err).Msg("tls.acme.ca_file unusable; trusting system roots only")
			} else {
				opts.ACME.Roots = pool
			}
		}
	}
	return opts
}

// errNotOnDemand is returned by the decision function for names it refuses.
var errNotOnDemand = errors.New("not a virtual-host name of a listed bucket")

// onDemandDecision returns the on-demand TLS decision for opts: a name is
// accepted only when it is <bucket>.<virtual host domain> and the bucket is
// an alias, an alias target or in buckets.allow. With buckets.default
// passthrough, other valid bucket names are still reachable, but never get
// an on-demand certificate: anyone could otherwise make the proxy order
// certificates for made-up names.
func onDemandDecision(opts proxy.Options) (func(name string) error, error) {
	aliases := make([]route.Alias, len(opts.Aliases))
	for i, al := range opts.Aliases {
		aliases[i] = route.Alias{Name: al.Name, Target: al.Target}
	}
	r, err := route.New(route.Options{
		Region: opts.Region, Zones: opts.Zones, FIPS: opts.FIPS, Dualstack: opts.Dualstack,
		Scheme: opts.Scheme, DNSSuffix: opts.DNSSuffix, Aliases: aliases,
		DenyUnlisted: true, Allow: opts.Allow,
	})
	if err != nil {
		return nil, fmt.Errorf("on-demand tls decision: %w", err)
	}
	domains := make([]string, len(opts.VirtualHostDomains))
	for i, d := range opts.VirtualHostDomains {
		domains[i] = "." + strings.ToLower(strings.TrimSuffix(d, "."))
	}
	return func(name string) error {
		name = strings.ToLower(name)
		for _, d := range domains {
			bucket, ok := strings.CutSuffix(name, d)
			if !ok || bucket == "" || strings.Contains(bucket, ".") {
				continue
			}
			if _, err := r.Resolve(bucket); err != nil {
				return fmt.Errorf("%q: %w", name, errNotOnDemand)
			}
			return nil
		}
		return fmt.Errorf("%q: %w", name, errNotOnDemand)
	}, nil
}

// zapLogger is certmagic's logger: JSON lines on w at info level.
func zapLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.RFC3339TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), zap.InfoLevel)
	return zap.New(core).Named("certmagic")
}
