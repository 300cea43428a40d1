package gateway

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// TLSMode selects where the HTTPS listener's certificate comes from.
type TLSMode string

const (
	TLSOff        TLSMode = "off"         // no HTTPS listener
	TLSFiles      TLSMode = "files"       // CertFile/KeyFile, reloaded on change
	TLSACME       TLSMode = "acme"        // certmagic
	TLSSelfSigned TLSMode = "self-signed" // generated at start, for development
)

// ErrNoCertificate is returned by a handshake for which no certificate is
// available (files not loaded yet, or an on-demand name the decision
// function refused).
var ErrNoCertificate = errors.New("gateway: no certificate")

// ACMEOptions configures certmagic for TLSACME.
type ACMEOptions struct {
	// CA is the ACME directory URL. Default Let's Encrypt production.
	CA string
	// Roots are the roots trusted when talking to the CA (a private ACME
	// server); nil means the system roots.
	Roots *x509.CertPool
	// Email is the ACME account contact; may be empty.
	Email string
	// Domains are managed from Start on (obtained and renewed). Default:
	// none.
	Domains []string
	// OnDemand obtains certificates during the TLS handshake for names
	// Decide accepts. Never enable it without a strict Decide: every
	// accepted name costs an ACME order. Default false.
	OnDemand bool
	// Decide is the on-demand decision; a non-nil error refuses the name
	// (the handshake fails and nothing is requested from the CA). Required
	// when OnDemand is set. Called concurrently.
	Decide func(name string) error
	// Storage is certmagic's file storage directory, shareable between
	// replicas (certmagic locks through it). Required.
	Storage string
	// Sync makes Start wait until every Domains certificate is obtained
	// (or loaded from Storage); default false manages them in the
	// background so a CA outage does not block startup.
	Sync bool
	// Logger receives certmagic's logs. Default: none.
	Logger *zap.Logger
}

// fileCert is a TLSFiles certificate that can be reloaded.
type fileCert struct {
	certFile, keyFile string

	mu      sync.Mutex // guards modCert, modKey (serializes reloads)
	modCert time.Time
	modKey  time.Time

	cur certPointer
}

// load reads the pair unconditionally; on error the previous one stays.
func (f *fileCert) load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loadLocked()
}

func (f *fileCert) loadLocked() error {
	mc, errC := modTime(f.certFile)
	mk, errK := modTime(f.keyFile)
	if err := errors.Join(errC, errK); err != nil {
		return fmt.Errorf("gateway: tls files: %w", err)
	}
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("gateway: tls files: %w", err)
	}
	f.cur.Store(&c)
	f.modCert, f.modKey = mc, mk
	return nil
}

// reloadIfChanged reloads when either file's mtime changed. It reports
// whether a reload was attempted.
func (f *fileCert) reloadIfChanged() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mc, errC := modTime(f.certFile)
	mk, errK := modTime(f.keyFile)
	if errC != nil || errK != nil || (mc.Equal(f.modCert) && mk.Equal(f.modKey)) {
		// A file being replaced may briefly be missing: try next tick.
		return false, nil
	}
	return true, f.loadLocked()
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// certPointer holds the current certificate for GetCertificate.
type certPointer struct {
	mu sync.RWMutex // guards c
	c  *tls.Certificate
}

func (p *certPointer) Store(c *tls.Certificate) { p.mu.Lock(); p.c = c; p.mu.Unlock() }

func (p *certPointer) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.c == nil {
		return nil, ErrNoCertificate
	}
	return p.c, nil
}

// baseTLS is the policy every mode shares: TLS 1.2 minimum, Go's default
// (modern AEAD) cipher suites.
func baseTLS(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: get}
}

// selfSigned returns an ECDSA P-256 certificate valid for a year for names
// plus localhost, 127.0.0.1 and ::1.
func selfSigned(names []string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("gateway: self-signed key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("gateway: self-signed serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "s3xproxy self-signed", Organization: []string{"s3xproxy"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // lets a client trust it directly as a root
	}
	seen := map[string]bool{}
	for _, n := range append(append([]string{}, names...), "localhost", "127.0.0.1", "::1") {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("gateway: self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("gateway: self-signed certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// acmeState is certmagic for TLSACME: one config manages the configured
// domains (obtained at Start, renewed in the background), a second one
// answers handshakes and, with on-demand, obtains certificates for names
// the decision function accepts. Both share one cache and one storage.
// Two are needed because certmagic turns the Manage'd names of an
// on-demand config into on-demand names, deferring them to the first
// handshake and to the decision function.
type acmeState struct {
	opts      ACMEOptions
	cache     *certmagic.Cache
	managed   *certmagic.Config
	handshake *certmagic.Config
	issuer    *certmagic.ACMEIssuer // of managed; serves http-01
}

// newACME builds certmagic for opts. httpPort and tlsPort are the local
// listener ports: certmagic's challenge solvers find them in use and leave
// the http-01 challenge to the plain listener (HTTPChallengeHandler) and
// tls-alpn-01 to the HTTPS listener's GetCertificate.
func newACME(opts ACMEOptions, listenHost string, httpPort, tlsPort int) (*acmeState, error) {
	if err := checkACME(opts); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	st := &acmeState{opts: opts}
	domains := map[string]bool{}
	for _, d := range opts.Domains {
		domains[strings.ToLower(d)] = true
	}
	st.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(c certmagic.Certificate) (*certmagic.Config, error) {
			for _, n := range c.Names {
				if !domains[strings.ToLower(n)] {
					return st.handshake, nil
				}
			}
			return st.managed, nil
		},
		Logger: logger,
	})
	storage := &certmagic.FileStorage{Path: opts.Storage}
	issuerFor := func(cfg *certmagic.Config) *certmagic.ACMEIssuer {
		iss := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
			CA:                      cmp.Or(opts.CA, certmagic.LetsEncryptProductionCA),
			Email:                   opts.Email,
			Agreed:                  true,
			TrustedRoots:            opts.Roots,
			ListenHost:              listenHost,
			AltHTTPPort:             httpPort,
			AltTLSALPNPort:          tlsPort,
			DisableHTTPChallenge:    httpPort == 0,
			DisableTLSALPNChallenge: tlsPort == 0,
			Logger:                  logger,
		})
		cfg.Issuers = []certmagic.Issuer{iss}
		return iss
	}
	st.managed = certmagic.New(st.cache, certmagic.Config{Storage: storage, Logger: logger})
	st.issuer = issuerFor(st.managed)
	hs := certmagic.Config{Storage: storage, Logger: logger}
	if opts.OnDemand {
		decide := opts.Decide
		hs.OnDemand = &certmagic.OnDemandConfig{
			DecisionFunc: func(_ context.Context, name string) error {
				if domains[strings.ToLower(name)] {
					return nil // renewal of a configured domain
				}
				return decide(name)
			},
		}
	}
	st.handshake = certmagic.New(st.cache, hs)
	issuerFor(st.handshake)
	return st, nil
}

// manage starts managing the configured domains.
func (a *acmeState) manage(ctx context.Context) error {
	if len(a.opts.Domains) == 0 {
		return nil
	}
	var err error
	if a.opts.Sync {
		err = a.managed.ManageSync(ctx, a.opts.Domains)
	} else {
		err = a.managed.ManageAsync(ctx, a.opts.Domains)
	}
	if err != nil {
		return fmt.Errorf("gateway: acme: manage %v: %w", a.opts.Domains, err)
	}
	return nil
}

// tlsConfig is certmagic's handshake config (which also answers
// tls-alpn-01 challenges) under the shared policy.
func (a *acmeState) tlsConfig() *tls.Config {
	c := a.handshake.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	return c
}

func (a *acmeState) stop() { a.cache.Stop() }

// portOf returns the numeric port of a listener address ("" → 0).
func portOf(addr net.Addr) int {
	if addr == nil {
		return 0
	}
	_, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
