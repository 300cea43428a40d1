package proxy

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// Proxy is the s3xproxy HTTP handler. Safe for concurrent use. Build it with
// New; the zero value is not usable.
type Proxy struct {
	opts      Options
	now       func() time.Time
	log       zerolog.Logger
	domains   []string
	router    *route.Router
	creds     aws.CredentialsProvider
	signer    *signing.Signer
	keys      *keyring
	verifier  *signing.Verifier
	cache     *session.Cache
	transport *signingTransport
	rp        *httputil.ReverseProxy
	replay    replayPolicy
	skew      skewWarnings // spaces the clock warnings of finish
}

// New validates opts and returns a Proxy. opts is copied; defaults are
// applied to the copy. The caller must Close the Proxy to stop the session
// cache's background refresh.
func New(opts Options) (*Proxy, error) {
	if err := applyDefaults(&opts); err != nil {
		return nil, err
	}
	router, err := route.New(routeOptions(&opts))
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &Proxy{opts: opts, now: opts.Now, log: opts.Logger, router: router}
	p.replay = replayPolicy{limit: opts.ReplayBuffer, budget: opts.ReplayBudget}
	for _, d := range opts.VirtualHostDomains {
		p.domains = append(p.domains, strings.TrimSuffix(strings.ToLower(d), "."))
	}
	p.creds = opts.UpstreamCredentials
	if _, ok := p.creds.(*aws.CredentialsCache); !ok {
		p.creds = aws.NewCredentialsCache(p.creds)
	}
	p.signer = signing.NewSigner()
	issuer, err := p.newVerifier(&opts)
	if err != nil {
		return nil, err
	}
	creator := &session.HTTPCreator{
		Resolve:     p.sessionEndpoint,
		Credentials: p.creds,
		Signer:      p.signer,
		Client:      &http.Client{Transport: opts.Transport},
		Now:         p.now,
	}
	sopts := opts.Sessions
	if sopts.Now == nil {
		sopts.Now = p.now
	}
	p.cache = session.New(creator, sopts)
	p.transport = &signingTransport{p: p, base: opts.Transport}
	p.opts.Shims = append(p.defaultShims(), opts.Shims...)
	p.opts.Handlers = p.handlers(opts.Handlers, issuer)
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport,
		ErrorHandler:   p.errorHandler,
		ModifyResponse: p.modifyResponse,
		ErrorLog:       newStdLogger(p.log),
		BufferPool:     copyBuffers,
	}
	return p, nil
}

// newVerifier builds the keyring (opts.Credentials, opts.KeyLookups, then
// the local sessions of the issuer it returns) and the inbound verifier.
func (p *Proxy) newVerifier(opts *Options) (*localsession.Issuer, error) {
	ids, err := newKeyring(opts.Credentials, opts.KeyLookups)
	if err != nil {
		return nil, err
	}
	issuer, err := newIssuer(opts, ids)
	if err != nil {
		return nil, fmt.Errorf("proxy: local sessions: %w", err)
	}
	p.keys = ids.withSessions(issuer)
	p.verifier = signing.NewVerifier(p.keys, func(v *signing.VerifierOptions) {
		v.MaxSkew = opts.MaxClockSkew
		v.SigV2 = opts.SigV2
		v.VirtualHostBucket = p.sigV2Bucket
	})
	return issuer, nil
}

// handlers is the default handlers overridden by opts: a nil handler
// removes the default, so the operation gets 501.
func (p *Proxy) handlers(opts map[string]Handler, issuer *localsession.Issuer) map[string]Handler {
	handlers := p.defaultHandlers(issuer)
	for name, h := range opts {
		if h == nil {
			delete(handlers, name)
			continue
		}
		handlers[name] = h
	}
	return handlers
}

func applyDefaults(o *Options) error {
	if o.Region == "" {
		return errors.New("proxy: Region is required")
	}
	if o.UpstreamCredentials == nil {
		return errors.New("proxy: UpstreamCredentials is required")
	}
	if o.Scheme == "" {
		o.Scheme = DefaultScheme
	}
	switch o.SessionMode {
	case "":
		o.SessionMode = SessionModeAuto
	case SessionModeAuto, SessionModeReadWrite, SessionModeIAM:
	default:
		return fmt.Errorf("proxy: SessionMode %q: want auto, readwrite or iam", o.SessionMode)
	}
	if o.ReplayBuffer == 0 {
		o.ReplayBuffer = DefaultReplayBuffer
	}
	if o.ReplayBudget == nil {
		o.ReplayBudget = NewReplayBudget(DefaultReplayBudget)
	}
	if o.BodyIdleTimeout == 0 {
		o.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = DefaultMaxClockSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Transport == nil {
		o.Transport = DefaultTransport()
	}
	return nil
}

func routeOptions(o *Options) route.Options {
	ro := route.Options{
		Region: o.Region, Zones: o.Zones, FIPS: o.FIPS, Dualstack: o.Dualstack,
		Scheme: o.Scheme, DNSSuffix: o.DNSSuffix, DenyUnlisted: o.DenyUnlisted, Allow: o.Allow,
		DefaultZone: o.DefaultZone,
	}
	for _, a := range o.Aliases {
		anon := -1 // follow Options.Anonymous
		if a.AnonymousSet {
			anon = int(a.Anonymous)
		}
		ro.Aliases = append(ro.Aliases, route.Alias{Name: a.Name, Target: a.Target, Anonymous: anon})
	}
	return ro
}

// DefaultTransport returns the upstream transport New uses when
// Options.Transport is nil: keep-alive pools sized for a proxy, HTTP/1.1
// (S3 speaks it natively), 32 KiB connection buffers (large enough that an
// upload is written in 32 KiB syscalls, equal to the response copy buffer so
// reads bypass the bufio copy, and small enough that the idle connections
// of thousands of Zonal hosts stay cheap),
// 100-continue honoured (a 1 s wait), and no transparent compression (bytes
// pass through as S3 sent them). A custom Options.Transport should keep
// ExpectContinueTimeout > 0 and DisableCompression.
func DefaultTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		DisableCompression:    true,
	}
}

// copyBuffers is the ReverseProxy's response copy buffer pool: without it
// every response allocates and zeroes 32 KiB (the largest allocator in the
// small-object profile).
var copyBuffers httputil.BufferPool = &bufferPool{}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// Sessions returns the upstream session cache (for metrics: Len).
func (p *Proxy) Sessions() *session.Cache { return p.cache }

// Close stops background work (session refresh). In-flight requests are not
// affected.
func (p *Proxy) Close() error {
	p.cache.Close()
	return nil
}

// newStdLogger adapts the zerolog logger for ReverseProxy.ErrorLog (body
// copy errors), at warn level.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(stdWriter{l}, "", 0)
}

type stdWriter struct{ l zerolog.Logger }

func (w stdWriter) Write(b []byte) (int, error) {
	w.l.Warn().Msg(string(trimNewline(b)))
	return len(b), nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}
