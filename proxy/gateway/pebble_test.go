package gateway

import (
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// testPebble is an in-process Pebble ACME server on loopback whose VA
// really validates challenges: names resolve (through a loopback DNS
// server) to 127.0.0.1, http-01 is fetched from httpPort and tls-alpn-01
// from tlsPort — the gateway's own listeners.
type testPebble struct {
	DirectoryURL string
	Roots        *x509.CertPool // trusts the ACME server's HTTPS
	IssuedRoot   *x509.CertPool // trusts the certificates Pebble issues
	orders       atomic.Int64   // new-order requests seen
}

// Orders returns how many new-order requests reached Pebble.
func (p *testPebble) Orders() int64 { return p.orders.Load() }

// startPebble starts Pebble validating against the given local ports.
func startPebble(t *testing.T, httpPort, tlsPort int) *testPebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // no random 0-5 s validation delay
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no injected badNonce errors
	resolver := startLoopbackDNS(t)
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "default"}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, httpPort, tlsPort, false, resolver, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	p := &testPebble{}
	h := front.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/order-plz") {
			p.orders.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.DirectoryURL = srv.URL + wfe.DirectoryPath
	p.Roots = x509.NewCertPool()
	p.Roots.AddCert(srv.Certificate())
	p.IssuedRoot = x509.NewCertPool()
	p.IssuedRoot.AddCert(authority.GetRootCert(0).Cert)
	return p
}

// startLoopbackDNS answers every A query with 127.0.0.1 (and AAAA with
// nothing) over TCP, the transport Pebble's VA uses.
func startLoopbackDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		for _, q := range req.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{Listener: ln, Net: "tcp", Handler: handler}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}
