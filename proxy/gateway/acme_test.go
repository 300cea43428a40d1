package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy/gateway/acmetest"
)

// TestACMEWithPebble obtains real certificates from an in-process Pebble
// (challenges validated against the gateway's own loopback listeners) and
// uses them from a real HTTPS client.
func TestACMEWithPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an ACME server")
	}
	plainLn := &countingListener{Listener: listenLoopback(t)}
	tlsLn := &countingListener{Listener: listenLoopback(t)}
	pebble := acmetest.Start(t, portOf(plainLn.Addr()), portOf(tlsLn.Addr()))

	const (
		managed = "gw.s3x.test"
		allowed = "data--usw2-az1--x-s3.s3x.test"
		refused = "evil--usw2-az1--x-s3.s3x.test"
	)
	var mu sync.Mutex
	var asked []string
	decide := func(name string) error {
		mu.Lock()
		asked = append(asked, name)
		mu.Unlock()
		if name == allowed {
			return nil
		}
		return fmt.Errorf("bucket of %q not allowed", name)
	}
	storage := t.TempDir()
	gw, err := New(Options{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello "+r.Host) }),
		TLSMode:   TLSACME,
		Listeners: Listeners{Plain: plainLn, TLS: tlsLn},
		ACME: ACMEOptions{
			CA: pebble.DirectoryURL, Roots: pebble.Roots, Email: "ops@s3x.test",
			Domains: []string{managed}, OnDemand: true, Decide: decide,
			Storage: storage, Sync: true,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := gw.Start(ctx); err != nil {
		t.Fatalf("Start (ManageSync against Pebble): %v", err)
	}
	defer gw.Shutdown(context.Background())
	tlsAddr := tlsLn.Addr().String()
	// No client has connected yet: these are Pebble's VA validating the
	// challenge (http-01 or tls-alpn-01) against our own listeners.
	if n := plainLn.accepted.Load() + tlsLn.accepted.Load(); n == 0 {
		t.Fatal("certificate issued without any validation connection to the gateway")
	}

	tests := []struct {
		name       string
		host       string
		wantOK     bool
		wantOrders int64 // new orders caused by this request
	}{
		{"managed domain", managed, true, 0},
		{"on-demand allowed bucket", allowed, true, 1},
		{"on-demand allowed bucket again (cached)", allowed, true, 0},
		{"on-demand refuses unknown bucket", refused, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := pebble.Orders()
			client := clientTo(tlsAddr, &tls.Config{RootCAs: pebble.IssuedRoots})
			resp, err := client.Get("https://" + tc.host + "/bucket/key")
			if got := pebble.Orders() - before; got != tc.wantOrders {
				t.Errorf("new ACME orders = %d, want %d", got, tc.wantOrders)
			}
			if !tc.wantOK {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request to %s succeeded, want handshake failure", tc.host)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "hello "+tc.host {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, "hello "+tc.host)
			}
			leaf := resp.TLS.PeerCertificates[0]
			if !slices.Contains(leaf.DNSNames, tc.host) {
				t.Errorf("certificate names %v, want %s", leaf.DNSNames, tc.host)
			}
			if resp.TLS.Version < tls.VersionTLS12 {
				t.Errorf("TLS version %x < 1.2", resp.TLS.Version)
			}
		})
	}

	t.Run("decision asked for refused name, nothing stored for it", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(asked, refused) {
			t.Errorf("decision calls %v do not include %s", asked, refused)
		}
		if slices.Contains(asked, managed) {
			t.Errorf("decision asked about configured domain %s; managed names need no decision", managed)
		}
		_ = filepath.WalkDir(storage, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(path, "evil--") {
				t.Errorf("storage holds %s for the refused name", path)
			}
			return nil
		})
	})

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		conf := &tls.Config{RootCAs: pebble.IssuedRoots, ServerName: managed, MaxVersion: tls.VersionTLS11}
		conn, err := tls.Dial("tcp", tlsAddr, conf)
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// listenLoopback binds 127.0.0.1:0; the test owns the listener until a
// Server takes it.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// clientTo returns a client that dials addr whatever the URL's host, so a
// test can use real DNS names over loopback. conf is used as is.
func clientTo(addr string, conf *tls.Config) *http.Client {
	d := &net.Dialer{}
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: conf,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       time.Minute,
	}
}

// rootsOf returns a pool holding cert (a self-signed leaf).
func rootsOf(cert *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(cert)
	return p
}
