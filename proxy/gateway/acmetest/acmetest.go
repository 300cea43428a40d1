// Package acmetest runs a real ACME server (Pebble) in-process on loopback
// for tests of the gateway's certmagic integration.
//
// Its validation authority really validates challenges: every name
// resolves, through a loopback DNS server, to 127.0.0.1, and http-01 and
// tls-alpn-01 are fetched from the ports the test gives (the gateway's own
// listeners). It is test support only: nothing outside tests imports it.
package acmetest

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

// Pebble is a running ACME server.
type Pebble struct {
	// DirectoryURL is the ACME directory (HTTPS).
	DirectoryURL string
	// ServerCert is the ACME server's own HTTPS certificate, and Roots a
	// pool that trusts it.
	ServerCert *x509.Certificate
	Roots      *x509.CertPool
	// IssuedRoots trusts the certificates Pebble issues.
	IssuedRoots *x509.CertPool
	orders      atomic.Int64
}

// Orders returns how many new-order requests reached Pebble.
func (p *Pebble) Orders() int64 { return p.orders.Load() }

// Start starts Pebble validating http-01 on httpPort and tls-alpn-01 on
// tlsPort of 127.0.0.1; it stops with t's cleanup. It sets environment
// variables with t.Setenv, so the test must not be parallel.
func Start(t *testing.T, httpPort, tlsPort int) *Pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // no random 0-5 s validation delay
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no injected badNonce errors
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, LoopbackDNS(t), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	p := &Pebble{}
	h := front.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/order-plz") {
			p.orders.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.DirectoryURL = srv.URL + wfe.DirectoryPath
	p.ServerCert = srv.Certificate()
	p.Roots = x509.NewCertPool()
	p.Roots.AddCert(srv.Certificate())
	p.IssuedRoots = x509.NewCertPool()
	p.IssuedRoots.AddCert(authority.GetRootCert(0).Cert)
	return p
}

// LoopbackDNS starts a DNS server that answers every A query with
// 127.0.0.1 (and AAAA with nothing) over TCP, the transport Pebble's VA
// uses, and returns its address.
func LoopbackDNS(t *testing.T) string {
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
