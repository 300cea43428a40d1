package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
)

// BenchmarkServeHTTP measures the proxy's own work for a small GET: the
// handler is called directly (no inbound socket); upstream is a loopback
// httptest server (fakeUpstream).
func BenchmarkServeHTTP(b *testing.B) {
	p, _ := newTestProxy(b, &fakeUpstream{noRecord: true}, nil)
	benchSignedGET(b, p)
}

// benchSignedGET serves a signed GET of data/k through p b.N times.
func benchSignedGET(b *testing.B, p *Proxy) {
	benchGET(b, p, sign(b, newReq(b, "GET", "http://proxy/data/k", nil), nil))
}

// benchGET serves req (a GET of /data/k) through h b.N times.
func benchGET(b *testing.B, h http.Handler, req *http.Request) {
	req.RequestURI = "/data/k"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
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
	benchGET(b, rp, newReq(b, "GET", "http://proxy/data/k", nil))
}

// BenchmarkServeHTTPInProcess is BenchmarkServeHTTP with the upstream
// called in process (no sockets, no scheduler hops between goroutines), so
// the proxy's own CPU and allocations are not lost in loopback noise.
func BenchmarkServeHTTPInProcess(b *testing.B) {
	up := &fakeUpstream{noRecord: true}
	p, _ := newTestProxy(b, up, func(o *Options) { o.Transport = handlerTransport{up} })
	benchSignedGET(b, p)
}

// handlerTransport answers every request by calling h in process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in := *req // a server-side request's Body is never nil
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, &in)
	resp := w.Result()
	// As a server would send it: a response of unknown length makes
	// ReverseProxy flush on a timer, which a socket upstream would not.
	resp.ContentLength = int64(w.Body.Len())
	resp.Header.Set("Content-Length", strconv.Itoa(w.Body.Len()))
	resp.Request = req
	return resp, nil
}
