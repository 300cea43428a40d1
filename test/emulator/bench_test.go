package emulator

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkHandlerGetSmall measures the S3 handler alone (no sockets) for
// a session-signed 1 KiB GetObject, the benchmark harness's hot path.
func BenchmarkHandlerGetSmall(b *testing.B) {
	clock := newClock()
	e := Start(b, Options{Credentials: map[string]string{testAKID: testSecret}, Buckets: []string{testBucket}, Now: clock.Now})
	t := &testing.T{}
	s := createSession(t, e, clock.Now, testBucket, "")
	rawReq{method: "PUT", path: "/obj", body: bytes.Repeat([]byte("x"), 1024), creds: s}.do(t, e, clock.Now)
	req := rawReq{path: "/obj", creds: s}.build(t, clock.Now)
	req.RequestURI = "/obj"
	h := e.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkHandlerPutDiscard measures a 1 MiB UNSIGNED-PAYLOAD PutObject
// into discard storage.
func BenchmarkHandlerPutDiscard(b *testing.B) {
	clock := newClock()
	e := Start(b, Options{Credentials: map[string]string{testAKID: testSecret}, Buckets: []string{testBucket}, Now: clock.Now, Storage: "discard"})
	t := &testing.T{}
	s := createSession(t, e, clock.Now, testBucket, "")
	body := bytes.Repeat([]byte("x"), 1<<20)
	req := rawReq{method: "PUT", path: "/obj", body: body, creds: s, hash: unsignedPayload}.build(t, clock.Now)
	req.RequestURI = "/obj"
	req.Header.Set("Content-Length", "1048576") // as net/http would deliver it
	h := e.Handler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Body = io.NopCloser(bytes.NewReader(body))
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return len(p), nil
}
