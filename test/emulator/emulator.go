package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// Options configures an Emulator. The zero value is usable: no IAM
// principals, no buckets, 5-minute sessions, memory storage, plain HTTP.
type Options struct {
	Credentials map[string]string // IAM principals: access key id -> secret
	Buckets     []string          // pre-created buckets (directory buckets end in --x-s3; others are general purpose)
	SessionTTL  time.Duration     // CreateSession lifetime; default 5m
	Storage     string            // "memory" (default) | "disk" | "discard"
	DataDir     string            // for disk
	TLS         bool              // serve HTTPS with a generated CA that issues a cert per SNI name
	Now         func() time.Time  // default time.Now
}

// Emulator is an S3 Express endpoint. It is safe for concurrent use.
type Emulator struct {
	opts     Options
	now      func() time.Time
	creds    map[string]string // immutable copy of Options.Credentials
	store    blobStore
	sessions *sessionStore
	keys     keyCache
	hosts    hostCache
	stats    statsRecorder
	faults   faultState
	ca       *certAuthority // nil without TLS
	idPrefix string
	idSeq    atomicCounter

	mu      sync.RWMutex
	buckets map[string]*bucket // guarded by mu

	srvMu    sync.Mutex
	servers  []*http.Server // guarded by srvMu
	addr     string         // guarded by srvMu
	admin    string         // guarded by srvMu
	closed   bool           // guarded by srvMu
	handler  http.Handler
	adminH   http.Handler
	serveErr chan error
}

// New builds an Emulator; it does not listen (see Listen, Start).
func New(opts Options) (*Emulator, error) {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := newStore(opts.Storage, opts.DataDir)
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		opts:     opts,
		now:      opts.Now,
		creds:    map[string]string{},
		store:    st,
		sessions: newSessionStore(),
		buckets:  map[string]*bucket{},
		idPrefix: fmt.Sprintf("%016x", rand.Uint64()),
		serveErr: make(chan error, 4),
	}
	for k, v := range opts.Credentials {
		e.creds[k] = v
	}
	if opts.TLS {
		if e.ca, err = newCertAuthority(); err != nil {
			return nil, err
		}
	}
	for _, b := range opts.Buckets {
		e.CreateBucket(b)
	}
	e.handler = http.HandlerFunc(e.serveS3)
	e.adminH = e.newAdminMux()
	return e, nil
}

// Start runs an emulator in-process on 127.0.0.1 random ports (S3 and
// admin) and closes it in t.Cleanup. It fails the test on error.
func Start(t testing.TB, opts Options) *Emulator {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	if err := e.Listen("127.0.0.1:0", "127.0.0.1:0"); err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// Handler is the S3 endpoint (Zonal, control and general-purpose hosts).
func (e *Emulator) Handler() http.Handler { return e.handler }

// AdminHandler serves GET /stats, POST /stats/reset, POST /sessions/expire,
// GET and POST /faults.
func (e *Emulator) AdminHandler() http.Handler { return e.adminH }

// Listen starts serving the S3 endpoint on addr and, unless adminAddr is
// "", the admin API on adminAddr. It returns once both listen.
func (e *Emulator) Listen(addr, adminAddr string) error {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.closed {
		return errors.New("emulator: closed")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator: listen %s: %w", addr, err)
	}
	srv := e.newServer(e.handler)
	if e.ca != nil {
		srv.TLSConfig = &tls.Config{GetCertificate: e.ca.getCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	e.addr = ln.Addr().String()
	e.servers = append(e.servers, srv)
	go e.serve(srv, ln)
	if adminAddr != "" {
		aln, err := net.Listen("tcp", adminAddr)
		if err != nil {
			return fmt.Errorf("emulator: admin listen %s: %w", adminAddr, err)
		}
		asrv := e.newServer(e.adminH)
		e.admin = aln.Addr().String()
		e.servers = append(e.servers, asrv)
		go e.serve(asrv, aln)
	}
	return nil
}

func (e *Emulator) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20, // larger than S3's limit, so the handler answers RequestHeaderSectionTooLarge as S3 XML
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          nil,
	}
}

func (e *Emulator) serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		select {
		case e.serveErr <- err:
		default:
		}
	}
}

// Addr is the host:port of the S3 listener ("" before Listen).
func (e *Emulator) Addr() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.addr
}

// AdminAddr is the host:port of the admin listener ("" when none).
func (e *Emulator) AdminAddr() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	return e.admin
}

// CACertPEM is the PEM of the CA that signs the TLS certificates, nil
// without TLS.
func (e *Emulator) CACertPEM() []byte {
	if e.ca == nil {
		return nil
	}
	return e.ca.certPEM
}

// Close stops the listeners, closing open connections. Stored blobs of
// disk storage stay in DataDir.
func (e *Emulator) Close() error {
	e.srvMu.Lock()
	servers := e.servers
	e.servers, e.closed = nil, true
	e.srvMu.Unlock()
	var errs []error
	for _, s := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, s.Close())
		}
		cancel()
	}
	return errors.Join(errs...)
}

// CreateBucket creates a bucket (directory bucket when name ends in --x-s3)
// if it does not exist yet.
func (e *Emulator) CreateBucket(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.buckets[name] == nil {
		e.buckets[name] = newBucket(name, e.now())
	}
}

func (e *Emulator) bucket(name string) *bucket {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.buckets[name]
}

func (e *Emulator) bucketNames() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := make([]string, 0, len(e.buckets))
	for n := range e.buckets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ExpireSessions makes every issued session expire now.
func (e *Emulator) ExpireSessions() { e.sessions.expireAll(e.now()) }

// Transport returns an HTTP transport that dials the S3 listener whatever
// the request's host, and trusts the emulator's CA when TLS is on. It is a
// convenience for tests; every call returns a new transport.
func (e *Emulator) Transport() *http.Transport {
	addr := e.Addr()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 64,
		ForceAttemptHTTP2:   false,
	}
	if e.ca != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: e.ca.pool(), MinVersion: tls.VersionTLS12}
	}
	return tr
}

// ZonalHost is the Zonal endpoint host of a directory bucket in region,
// e.g. b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com.
func ZonalHost(bucket, region string) string {
	return bucket + ".s3express-" + bucketZone(bucket) + "." + region + ".amazonaws.com"
}

// ControlHost is the regional control endpoint host.
func ControlHost(region string) string { return "s3express-control." + region + ".amazonaws.com" }

// newRequestID returns a 40-hex-character id like S3 Express ones.
func (e *Emulator) newRequestID() string {
	var b [40]byte
	copy(b[:], e.idPrefix)
	n := uint64(e.idSeq.add(1))
	const hexdig = "0123456789abcdef"
	for i := 39; i >= 16; i-- {
		b[i] = hexdig[n&15]
		n >>= 4
	}
	return string(b[:])
}

// hostIDFor derives the x-amz-id-2 value from a request ID: S3 Express
// returns a short opaque string there (protocol notes 8).
func hostIDFor(reqID string) string {
	var b [16]byte
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range b {
		b[i] = alpha[(int(reqID[i])*7+int(reqID[39-i])*13+i)&63]
	}
	return string(b[:])
}
