package proxy

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// BenchmarkServeHTTP measures the proxy's own work for a small GET: the
// handler is called directly (no inbound socket); upstream is a loopback
// httptest server (fakeUpstream).
func BenchmarkServeHTTP(b *testing.B) {
	p, _ := newTestProxy(b, &fakeUpstream{noRecord: true}, nil)
	req := sign(b, newReq(b, "GET", "http://proxy/data/k", nil), nil)
	req.RequestURI = "/data/k"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkBareReverseProxy is the baseline: a plain httputil.ReverseProxy
// to the same upstream, forwarding only.
func BenchmarkBareReverseProxy(b *testing.B) {
	us := httptest.NewServer(&fakeUpstream{noRecord: true})
	defer us.Close()
	u, _ := url.Parse(us.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
	req := newReq(b, "GET", "http://proxy/data/k", nil)
	req.RequestURI = "/data/k"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		rp.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
