package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Sentinels returned by Ready (and so shown by /readyz).
var (
	ErrNotStarted   = errors.New("gateway: listeners not started")
	ErrShuttingDown = errors.New("gateway: shutting down")
)

// Defaults applied by New to zero Options fields.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultCertPollInterval  = 5 * time.Second
)

// Options configures a Server. Zero values mean the documented defaults.
// There is deliberately no ReadTimeout or WriteTimeout: they bound the whole
// request or response, so they would cut off a long upload or download.
// Slow-loris clients are bounded by ReadHeaderTimeout, idle keep-alive
// connections by IdleTimeout.
type Options struct {
	// Handler serves client requests on the plain and HTTPS listeners.
	// Required; replace it later with Swap.
	Handler http.Handler

	// Listen is the plain HTTP address; "" disables it.
	Listen string
	// TLSListen is the HTTPS address; used unless TLSMode is TLSOff.
	// Default "": required by the TLS modes.
	TLSListen string
	// TLSMode is TLSOff (default when ""), TLSFiles, TLSACME or TLSSelfSigned.
	TLSMode TLSMode
	// CertFile and KeyFile are the PEM pair for TLSFiles. They are re-read
	// by ReloadCertificates and whenever either file's mtime changes.
	// Default "": required by TLSFiles.
	CertFile, KeyFile string
	// SelfSignedNames are extra SANs for TLSSelfSigned (localhost,
	// 127.0.0.1 and ::1 are always included). Default: none.
	SelfSignedNames []string
	// ACME configures TLSACME. Default: the zero ACMEOptions, whose
	// defaults are documented there.
	ACME ACMEOptions
	// HTTPRedirect makes the plain listener answer 308 to https:// (TLS
	// modes only; ACME http-01 challenges are still served). Default
	// false.
	HTTPRedirect bool

	ReadHeaderTimeout time.Duration // default DefaultReadHeaderTimeout
	IdleTimeout       time.Duration // default DefaultIdleTimeout
	MaxHeaderBytes    int           // default DefaultMaxHeaderBytes

	// MaxConnections caps the client connections open at once (plain and
	// HTTPS together). A plain connection over it is answered 503 SlowDown
	// and closed; an HTTPS one is closed. Default DefaultMaxConnections;
	// negative: no cap.
	MaxConnections int
	// MaxInFlight caps the client requests in progress at once; one over it
	// is answered 503 SlowDown (Retry-After: 1) at once. Default
	// DefaultMaxInFlight; negative: no cap.
	MaxInFlight int

	// CertPoll, when non-nil, triggers the TLSFiles change check on every
	// receive (tests); otherwise a ticker every CertPollInterval does
	// (default DefaultCertPollInterval).
	CertPoll         <-chan time.Time
	CertPollInterval time.Duration

	// AdminListen is the admin address; "" disables it.
	AdminListen string
	// Listeners, when a field is non-nil, are pre-bound sockets used
	// instead of binding Listen, TLSListen or AdminListen (socket
	// activation; tests that must know the ports first). The Server owns
	// and closes them.
	Listeners Listeners
	// PProf mounts /debug/pprof/ on the admin listener. Default false.
	PProf bool
	// AdminToken is the bearer token POST /-/reload and /debug/pprof/
	// require ("Authorization: Bearer <token>"). When it is "" they are
	// open on a loopback admin listener and answer 403 on any other.
	// Default "". Never logged.
	AdminToken string
	// AdminRequireToken treats the admin listener as reachable from other
	// hosts even when it is bound to loopback (a sidecar or port-forward
	// can expose it; tests). Default false: decided by LoopbackAddr.
	AdminRequireToken bool
	// Gatherer is served on /metrics; nil leaves /metrics out.
	Gatherer prometheus.Gatherer
	// Ready is the caller's readiness check (e.g. upstream credentials
	// resolvable); nil means always ready once started.
	Ready func(ctx context.Context) error
	// Reload is called by POST /-/reload; nil leaves the endpoint out.
	Reload func(ctx context.Context) error

	// Logger receives lifecycle and certificate events. Default: none.
	Logger zerolog.Logger
	// Now is the clock (self-signed validity). Default time.Now.
	Now func() time.Time
}

// Listeners are optional pre-bound sockets, see Options.Listeners.
type Listeners struct {
	Plain, TLS, Admin net.Listener
}

// Server runs the listeners. Create with New, then Start once and
// Shutdown once. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	handler swapper
	files   *fileCert       // TLSFiles
	tlsConf *tls.Config     // TLSFiles and TLSSelfSigned; ACME builds its own
	acme    *acmeState      // TLSACME, set by Start
	servers []*http.Server  // client servers, set by Start
	admin   *http.Server    // set by Start
	addrs   [3]net.Addr     // plain, tls, admin
	errc    chan error      // serve failures
	wg      sync.WaitGroup  // serve goroutines and the cert poller
	quit    chan struct{}   // closed by Shutdown
	bgCtx   context.Context // background ACME management; ends at Shutdown
	bgStop  context.CancelFunc
	started atomic.Bool
	stopped atomic.Bool
	mu      sync.Mutex // serializes Start and Shutdown
	// bound publishes addrs once Start has bound them, so Addrs never
	// waits on mu (Shutdown holds it for the whole drain).
	bound atomic.Pointer[[3]net.Addr]

	conns            *connLimit // nil: no connection cap
	inFlight         atomic.Int64
	inFlightRejected atomic.Uint64
}

// New validates opts and prepares TLS material (loads the files or
// generates the self-signed certificate). Nothing is bound until Start.
func New(opts Options) (*Server, error) {
	if opts.Handler == nil {
		return nil, errors.New("gateway: nil handler")
	}
	applyDefaults(&opts)
	s := &Server{opts: opts, errc: make(chan error, 3), quit: make(chan struct{})}
	s.bgCtx, s.bgStop = context.WithCancel(context.Background())
	s.handler.swap(opts.Handler)
	if opts.MaxConnections > 0 {
		s.conns = newConnLimit(int64(opts.MaxConnections), log.New(debugWriter{opts.Logger}, "", 0))
	}
	switch opts.TLSMode {
	case TLSOff:
		if opts.Listen == "" && opts.Listeners.Plain == nil {
			return nil, errors.New("gateway: no listener: listen empty and tls off")
		}
	case TLSFiles:
		if opts.CertFile == "" || opts.KeyFile == "" {
			return nil, errors.New("gateway: tls files: cert_file and key_file are required")
		}
		s.files = &fileCert{certFile: opts.CertFile, keyFile: opts.KeyFile}
		if err := s.files.load(); err != nil {
			return nil, err
		}
		s.tlsConf = baseTLS(s.files.cur.get)
	case TLSSelfSigned:
		c, err := selfSigned(opts.SelfSignedNames, opts.Now())
		if err != nil {
			return nil, err
		}
		var p certPointer
		p.Store(c)
		s.tlsConf = baseTLS(p.get)
	case TLSACME:
		// Checked here so a bad config fails before anything is bound.
		if err := checkACME(opts.ACME); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("gateway: unknown tls mode %q", opts.TLSMode)
	}
	if opts.TLSMode != TLSOff && opts.TLSListen == "" && opts.Listeners.TLS == nil {
		return nil, fmt.Errorf("gateway: tls mode %s needs a tls listen address", opts.TLSMode)
	}
	return s, nil
}

func applyDefaults(o *Options) {
	if o.TLSMode == "" {
		o.TLSMode = TLSOff
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.CertPollInterval <= 0 {
		o.CertPollInterval = DefaultCertPollInterval
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// checkACME validates opts without building anything.
func checkACME(o ACMEOptions) error {
	switch {
	case o.Storage == "":
		return errors.New("gateway: acme: storage path is required")
	case o.OnDemand && o.Decide == nil:
		return errors.New("gateway: acme: on-demand needs a decision function")
	case !o.OnDemand && len(o.Domains) == 0:
		return errors.New("gateway: acme: no domains and on-demand off")
	}
	return nil
}

// Start binds every configured listener and starts serving. If a listener
// cannot be bound, the ones already bound are closed and the error is
// returned. In TLSACME mode it then starts managing ACME.Domains (waiting
// for them when ACME.Sync is set). ctx bounds only that wait; background
// management runs until Shutdown. After an error, call Shutdown to release
// whatever was started.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started.Load() || s.stopped.Load() {
		return errors.New("gateway: Start called twice or after Shutdown")
	}
	lns, err := s.listen()
	if err != nil {
		return err
	}
	addrs := s.addrs
	s.bound.Store(&addrs)
	plainH := http.Handler(&s.handler)
	tlsConf := s.tlsConf
	if s.opts.TLSMode == TLSACME {
		host, _, _ := net.SplitHostPort(s.addrs[1].String())
		s.acme, err = newACME(s.opts.ACME, host, portOf(s.addrs[0]), portOf(s.addrs[1]))
		if err != nil {
			closeAll(lns)
			return err
		}
		tlsConf = s.acme.tlsConfig()
	}
	if s.opts.HTTPRedirect && s.opts.TLSMode != TLSOff {
		plainH = redirectHandler(portOf(s.addrs[1]))
	}
	if s.acme != nil {
		plainH = s.acme.issuer.HTTPChallengeHandler(plainH)
	}
	if lns[0] != nil {
		s.serve(s.newServer(s.limitInFlight(plainH)), lns[0], nil)
	}
	if lns[1] != nil {
		s.serve(s.newServer(s.limitInFlight(&s.handler)), lns[1], tlsConf)
	}
	if lns[2] != nil {
		s.admin = s.newServer(s.adminMux())
		s.serve(s.admin, lns[2], nil)
	}
	if s.files != nil {
		s.wg.Add(1)
		go s.pollCertFiles()
	}
	s.started.Store(true)
	s.opts.Logger.Info().Stringer("listen", s.addrs[0]).Stringer("tls_listen", s.addrs[1]).
		Stringer("admin_listen", s.addrs[2]).Str("tls_mode", string(s.opts.TLSMode)).Msg("gateway listening")
	if s.acme != nil {
		mctx := s.bgCtx
		if s.opts.ACME.Sync {
			mctx = ctx
		}
		if err := s.acme.manage(mctx); err != nil {
			return err
		}
	}
	return nil
}

// listen binds plain, TLS and admin (in that order) where configured.
func (s *Server) listen() ([3]net.Listener, error) {
	lns := [3]net.Listener{s.opts.Listeners.Plain, s.opts.Listeners.TLS, s.opts.Listeners.Admin}
	addrs := [3]string{s.opts.Listen, s.opts.TLSListen, s.opts.AdminListen}
	if s.opts.TLSMode == TLSOff {
		addrs[1] = ""
		if lns[1] != nil { // owned by us, but unused
			lns[1].Close()
			lns[1] = nil
		}
	}
	names := [3]string{"listen", "tls listen", "admin listen"}
	for i, a := range addrs {
		if lns[i] != nil {
			s.addrs[i] = lns[i].Addr()
			continue
		}
		if a == "" {
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(lns)
			return lns, fmt.Errorf("gateway: %s %s: %w", names[i], a, err)
		}
		lns[i] = ln
		s.addrs[i] = ln.Addr()
	}
	return lns, nil
}

func closeAll(lns [3]net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

func (s *Server) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		// TLS handshake failures from scanners are routine: debug level.
		ErrorLog: log.New(debugWriter{s.opts.Logger}, "", 0),
	}
}

// serve runs srv on ln (with TLS when conf is non-nil) until Shutdown.
func (s *Server) serve(srv *http.Server, ln net.Listener, conf *tls.Config) {
	if srv != s.admin {
		s.servers = append(s.servers, srv)
		if s.conns != nil {
			ln = s.conns.wrap(ln, conf != nil)
		}
	}
	srv.TLSConfig = conf
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var err error
		if conf != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case s.errc <- fmt.Errorf("gateway: serve %s: %w", ln.Addr(), err):
			default:
			}
		}
	}()
}

// limitInFlight applies Options.MaxInFlight to h.
func (s *Server) limitInFlight(h http.Handler) http.Handler {
	if s.opts.MaxInFlight <= 0 {
		return h
	}
	return inFlight{next: h, max: int64(s.opts.MaxInFlight), n: &s.inFlight, rejected: &s.inFlightRejected}
}

// LimitStats is a snapshot of the client limits, for metrics.
type LimitStats struct {
	Connections         int64  // client connections open (0 without a cap)
	InFlight            int64  // client requests in progress (0 without a cap)
	RejectedConnections uint64 // connections refused over MaxConnections
	RejectedRequests    uint64 // requests answered SlowDown over MaxInFlight
}

// Limits returns the current LimitStats.
func (s *Server) Limits() LimitStats {
	st := LimitStats{InFlight: s.inFlight.Load(), RejectedRequests: s.inFlightRejected.Load()}
	if s.conns != nil {
		st.Connections = s.conns.open.Load()
		st.RejectedConnections = s.conns.rejected.Load()
	}
	return st
}

// Errors delivers a listener that stopped serving for any reason other
// than Shutdown. The caller should treat it as fatal.
func (s *Server) Errors() <-chan error { return s.errc }

// Swap makes h the handler for requests that start from now on and returns
// a channel closed once every request running on the previous handler has
// finished (the caller may then Close it).
func (s *Server) Swap(h http.Handler) <-chan struct{} { return s.handler.swap(h) }

// Addrs returns the bound plain, TLS and admin addresses (nil when that
// listener is disabled or Start has not run).
func (s *Server) Addrs() (plain, tls, admin net.Addr) {
	a := s.bound.Load()
	if a == nil {
		return nil, nil, nil
	}
	return a[0], a[1], a[2]
}

// ReloadCertificates re-reads the TLSFiles pair now. On error the previous
// certificate keeps being served. Other modes: no-op.
func (s *Server) ReloadCertificates() error {
	if s.files == nil {
		return nil
	}
	if err := s.files.load(); err != nil {
		return err
	}
	s.opts.Logger.Info().Str("cert_file", s.files.certFile).Msg("tls certificate reloaded")
	return nil
}

func (s *Server) pollCertFiles() {
	defer s.wg.Done()
	tick := s.opts.CertPoll
	if tick == nil {
		t := time.NewTicker(s.opts.CertPollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.quit:
			return
		case <-tick:
			tried, err := s.files.reloadIfChanged()
			switch {
			case err != nil:
				s.opts.Logger.Error().Err(err).Msg("tls certificate changed but could not be loaded; keeping the previous one")
			case tried:
				s.opts.Logger.Info().Str("cert_file", s.files.certFile).Msg("tls certificate reloaded after change")
			}
		}
	}
}

// Ready reports whether the gateway should receive traffic: started, not
// shutting down, and the Options.Ready check passes.
func (s *Server) Ready(ctx context.Context) error {
	if s.stopped.Load() {
		return ErrShuttingDown
	}
	if !s.started.Load() {
		return ErrNotStarted
	}
	if s.opts.Ready != nil {
		return s.opts.Ready(ctx)
	}
	return nil
}

// FailReadiness makes Ready (and /readyz) answer ErrShuttingDown from now
// on, with the listeners still serving: the first step of a drain.
func (s *Server) FailReadiness() { s.stopped.Store(true) }

// Shutdown fails readiness at once, stops the client listeners from
// accepting, waits for in-flight requests (long uploads included) until
// ctx ends, then stops the admin listener. Connections still active when
// ctx ends are closed and ctx's error is returned. Safe to call once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopped.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit:
		return nil // already shut down
	default:
		close(s.quit)
	}
	s.opts.Logger.Info().Msg("gateway shutting down: readiness failing, draining requests")
	errs := make([]error, len(s.servers))
	var wg sync.WaitGroup
	for i, srv := range s.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
				errs[i] = fmt.Errorf("gateway: shutdown: %w", err)
			}
		}()
	}
	wg.Wait()
	if s.conns != nil {
		s.conns.stop()
	}
	s.bgStop()
	if s.acme != nil {
		s.acme.stop()
	}
	if s.admin != nil {
		if err := s.admin.Shutdown(ctx); err != nil {
			s.admin.Close()
			errs = append(errs, fmt.Errorf("gateway: admin shutdown: %w", err))
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// redirectHandler sends every request to the same host and URI over
// HTTPS. 308 keeps the method and body (a PUT stays a PUT).
func redirectHandler(tlsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/\\@ ") {
			http.Error(w, "bad host", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") { // IPv6 literal
			host = "[" + host + "]"
		}
		if tlsPort != 443 && tlsPort != 0 {
			host = fmt.Sprintf("%s:%d", host, tlsPort)
		}
		http.Redirect(w, r, "https://"+host+r.RequestURI, http.StatusPermanentRedirect)
	})
}

// debugWriter turns http.Server's error log into debug-level log lines.
type debugWriter struct{ l zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.l.Debug().Str("component", "http").Msg(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
