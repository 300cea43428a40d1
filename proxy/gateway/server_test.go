package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// startGateway starts a Server on loopback ports and shuts it down at the
// end of the test.
func startGateway(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Listen == "" && opts.Listeners.Plain == nil {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.AdminListen == "" {
		opts.AdminListen = "127.0.0.1:0"
	}
	if opts.TLSMode != "" && opts.TLSMode != TLSOff && opts.TLSListen == "" {
		opts.TLSListen = "127.0.0.1:0"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func get(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	var notReady atomic.Pointer[error]
	var reloads atomic.Int64
	var failReload atomic.Bool
	s := startGateway(t, Options{
		Handler:  http.NotFoundHandler(),
		Gatherer: reg,
		PProf:    true,
		Ready: func(context.Context) error {
			if p := notReady.Load(); p != nil {
				return *p
			}
			return nil
		},
		Reload: func(context.Context) error {
			reloads.Add(1)
			if failReload.Load() {
				return errors.New("cfg.yaml:3: server.listen: bad address")
			}
			return nil
		},
	})
	_, _, admin := s.Addrs()
	base := "http://" + admin.String()
	credErr := errors.New("upstream credentials: no source")
	tests := []struct {
		name       string
		setup      func()
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"healthz", nil, "GET", "/healthz", 200, "ok"},
		{"readyz ready", nil, "GET", "/readyz", 200, "ready"},
		{"readyz check fails", func() { notReady.Store(&credErr) }, "GET", "/readyz", 503, "no source"},
		{"readyz recovers", func() { notReady.Store(nil) }, "GET", "/readyz", 200, "ready"},
		{"metrics", nil, "GET", "/metrics", 200, "test_total 3"},
		{"reload ok", nil, "POST", "/-/reload", 200, "reloaded"},
		{"reload fails", func() { failReload.Store(true) }, "POST", "/-/reload", 500, "server.listen: bad address"},
		{"reload needs POST", nil, "GET", "/-/reload", 405, ""},
		{"pprof", nil, "GET", "/debug/pprof/", 200, "goroutine"},
		{"unknown", nil, "GET", "/nope", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			code, body := get(t, http.DefaultClient, tc.method, base+tc.path)
			if code != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	if got := reloads.Load(); got != 2 {
		t.Errorf("reload called %d times, want 2", got)
	}
}

func TestAdminWithoutOptionalRoutes(t *testing.T) {
	s := startGateway(t, Options{Handler: http.NotFoundHandler()})
	_, _, admin := s.Addrs()
	for _, path := range []string{"/metrics", "/debug/pprof/", "/-/reload"} {
		method := "GET"
		if path == "/-/reload" {
			method = "POST"
		}
		if code, _ := get(t, http.DefaultClient, method, "http://"+admin.String()+path); code != 404 {
			t.Errorf("%s %s = %d, want 404 when not configured", method, path, code)
		}
	}
}

// TestShutdownDrainsInFlight: a request in progress when Shutdown starts
// completes; readiness is 503 meanwhile; new connections are refused.
func TestShutdownDrainsInFlight(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	s := startGateway(t, Options{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		n, _ := io.Copy(io.Discard, r.Body)
		<-release
		fmt.Fprintf(w, "got %d", n)
	})})
	plain, _, admin := s.Addrs()
	result := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+plain.String()+"/b/k", "application/octet-stream", strings.NewReader("payload"))
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		result <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-entered
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	// Readiness fails while the request is still running.
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + admin.String() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	// The client listener no longer accepts.
	waitFor(t, func() bool {
		_, err := http.Get("http://" + plain.String() + "/")
		return err != nil
	})
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) before the in-flight request finished", err)
	default:
	}
	close(release)
	if got := <-result; got != "200 got 7" {
		t.Fatalf("in-flight request: %s, want 200 got 7", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// waitFor polls cond until it holds (no timing assertion: the test's own
// deadline bounds it).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSwapKeepsInFlightOnOldHandler(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	old := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		fmt.Fprint(w, "old")
	})
	s := startGateway(t, Options{Handler: old})
	plain, _, _ := s.Addrs()
	url := "http://" + plain.String() + "/"
	result := make(chan string, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			result <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		result <- string(b)
	}()
	<-entered
	drained := s.Swap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "new") }))
	if _, body := get(t, http.DefaultClient, "GET", url); body != "new" {
		t.Fatalf("request after swap served by %q, want new", body)
	}
	select {
	case <-drained:
		t.Fatal("old handler reported drained while a request still runs on it")
	default:
	}
	close(release)
	if got := <-result; got != "old" {
		t.Fatalf("in-flight request finished on %q, want old", got)
	}
	<-drained // closes once the old request ended
}

func TestRedirectToHTTPS(t *testing.T) {
	s := startGateway(t, Options{Handler: http.NotFoundHandler(), TLSMode: TLSSelfSigned, HTTPRedirect: true})
	plain, tlsAddr, _ := s.Addrs()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("PUT", "http://"+plain.String()+"/bucket/a%20b?x=1", nil)
	req.Host = "bucket.s3.test:8080"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := fmt.Sprintf("https://bucket.s3.test:%d/bucket/a%%20b?x=1", portOf(tlsAddr))
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("got %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

func TestSelfSigned(t *testing.T) {
	s := startGateway(t, Options{
		Handler:         http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "tls ok") }),
		TLSMode:         TLSSelfSigned,
		SelfSignedNames: []string{"s3x.example.test"},
	})
	_, tlsAddr, _ := s.Addrs()
	tests := []struct {
		name       string
		serverName string
		maxVersion uint16
		wantErr    bool
	}{
		{"configured name", "s3x.example.test", 0, false},
		{"localhost", "localhost", 0, false},
		{"unlisted name fails verification", "other.test", 0, true},
		{"TLS 1.1 refused", "localhost", tls.VersionTLS11, true},
	}
	// Trust the certificate the server presents (self-signed, a root).
	conn, err := tls.Dial("tcp", tlsAddr.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	roots := rootsOf(conn.ConnectionState().PeerCertificates[0])
	conn.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := clientTo(tlsAddr.String(), &tls.Config{RootCAs: roots, MaxVersion: tc.maxVersion})
			resp, err := c.Get("https://" + tc.serverName + "/")
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want TLS failure")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); string(b) != "tls ok" {
				t.Fatalf("body %q", b)
			}
		})
	}
}

// writePair writes a fresh self-signed cert/key pair with common name cn.
func writePair(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	return certFile, keyFile
}

// writeFile writes data and moves the mtime forward, so a change is seen
// even on file systems with coarse timestamps.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	var old time.Time
	if fi, err := os.Stat(path); err == nil {
		old = fi.ModTime()
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); !old.IsZero() && !fi.ModTime().After(old) {
		later := old.Add(time.Second)
		os.Chtimes(path, later, later)
	}
}

// servedCN returns the common name of the certificate the server presents.
func servedCN(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestCertificateFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "first")
	tick := make(chan time.Time)
	s := startGateway(t, Options{
		Handler: http.NotFoundHandler(), TLSMode: TLSFiles,
		CertFile: certFile, KeyFile: keyFile, CertPoll: tick,
	})
	_, tlsAddr, _ := s.Addrs()
	addr := tlsAddr.String()
	if got := servedCN(t, addr); got != "first" {
		t.Fatalf("served %q, want first", got)
	}
	// Poll: a changed pair is picked up on the next tick. The unbuffered
	// send returns once the poller took the tick; a second send returns
	// only after the first one was fully processed.
	writePair(t, dir, "second")
	tick <- time.Now()
	tick <- time.Now()
	if got := servedCN(t, addr); got != "second" {
		t.Fatalf("after change + tick served %q, want second", got)
	}
	// A broken file is rejected; the previous certificate stays.
	writeFile(t, certFile, []byte("not a certificate"))
	tick <- time.Now()
	tick <- time.Now()
	if err := s.ReloadCertificates(); err == nil {
		t.Fatal("ReloadCertificates accepted a broken certificate file")
	}
	if got := servedCN(t, addr); got != "second" {
		t.Fatalf("after broken file served %q, want second kept", got)
	}
	// Explicit reload (SIGHUP path) picks up a fixed pair.
	writePair(t, dir, "third")
	if err := s.ReloadCertificates(); err != nil {
		t.Fatal(err)
	}
	if got := servedCN(t, addr); got != "third" {
		t.Fatalf("after ReloadCertificates served %q, want third", got)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	h := http.NotFoundHandler()
	tests := []struct {
		name string
		opts Options
	}{
		{"nil handler", Options{Listen: ":0"}},
		{"no listener", Options{Handler: h}},
		{"files without paths", Options{Handler: h, TLSMode: TLSFiles, TLSListen: ":0"}},
		{"missing cert file", Options{Handler: h, TLSMode: TLSFiles, TLSListen: ":0", CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}},
		{"acme without storage", Options{Handler: h, TLSMode: TLSACME, TLSListen: ":0", ACME: ACMEOptions{Domains: []string{"a.test"}}}},
		{"acme on-demand without decision", Options{Handler: h, TLSMode: TLSACME, TLSListen: ":0", ACME: ACMEOptions{Storage: "/tmp/x", OnDemand: true}}},
		{"unknown mode", Options{Handler: h, TLSMode: "bogus", TLSListen: ":0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Fatal("New accepted invalid options")
			}
		})
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	ln := listenLoopback(t)
	s, err := New(Options{Handler: http.NotFoundHandler(), Listen: "127.0.0.1:0", AdminListen: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		s.Shutdown(context.Background())
		t.Fatal("Start succeeded with the admin port in use")
	}
}

// TestAddrsDuringDrain: Addrs answers while Shutdown is draining a
// long request (it once waited on the lock Shutdown holds for the drain).
func TestAddrsDuringDrain(t *testing.T) {
	inHandler, release := make(chan struct{}), make(chan struct{})
	s, err := New(Options{
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(inHandler)
			<-release
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	plain, _, _ := s.Addrs()
	go func() {
		if resp, err := http.Get("http://" + plain.String() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-inHandler
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	for !s.stopped.Load() {
		runtime.Gosched()
	}
	got := make(chan net.Addr, 1)
	go func() { _, _, admin := s.Addrs(); got <- admin }()
	select {
	case admin := <-got:
		if admin == nil {
			t.Fatal("admin address missing during the drain")
		}
		resp, err := http.Get("http://" + admin.String() + "/readyz")
		if err != nil {
			t.Fatalf("readyz during the drain: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("readyz during the drain = %d, want 503", resp.StatusCode)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Addrs blocked while Shutdown was draining")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
