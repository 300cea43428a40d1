package metrics

import (
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/session"
)

// BenchmarkObserveRequest is the per-request cost of the metrics observer
// for a small session-signed GET.
func BenchmarkObserveRequest(b *testing.B) {
	m := New(Options{})
	rec := &proxy.Record{Operation: "GetObject", Status: 200, AuthType: "sigv4-header", BytesOut: 4096,
		Total: time.Millisecond, Upstream: 800 * time.Microsecond, Session: session.Hit}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.ObserveRequest(rec)
	}
}
