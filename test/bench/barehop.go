package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// runBareHop serves the bare-hop baseline on addr: a minimal
// httputil.ReverseProxy that only forwards to upstream with the client's
// Host preserved. It runs as its own process (the harness re-executes
// itself with --bare-hop) so all three paths have the same process
// topology.
//
// Deviations from the zero-value ReverseProxy, each to keep the baseline
// honest rather than handicapped: every upstream connection dials the
// emulator (like s3xproxy's upstream.dial_address) so the Zonal Host and TLS
// server name reach it; MaxIdleConnsPerHost is raised from 2 so 64
// concurrent clients reuse connections instead of churning them; HTTP/1.1
// only (S3 speaks HTTP/1.1, and so does s3xproxy upstream); no proxy from
// the environment.
func runBareHop(addr, upstream, caFile string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, u.Host)
	}
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 256
	tr.ForceAttemptHTTP2 = false
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			return err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = u.Scheme
			r.Out.URL.Host = r.In.Host
			r.Out.Host = r.In.Host
		},
		Transport: tr,
	}
	srv := &http.Server{Addr: addr, Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
