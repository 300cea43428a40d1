package metrics

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/session"
)

func TestObserveRequest(t *testing.T) {
	m := New(Options{})
	recs := []proxy.Record{
		{Operation: "GetObject", Status: 200, AuthType: "sigv4-header", BytesOut: 1000, Total: 20 * time.Millisecond, Upstream: 10 * time.Millisecond, Session: session.Miss},
		{Operation: "GetObject", Status: 206, AuthType: "sigv4-header", BytesOut: 24, Total: time.Millisecond, Upstream: time.Millisecond, Session: session.Hit},
		{Operation: "PutObject", Status: 200, AuthType: "sigv2", BytesIn: 5 << 20, Total: time.Second, Upstream: time.Second, Session: session.Refresh, Retried: true},
		{Operation: "PutObject", Status: 403, AuthType: "sigv2", ErrorCode: "AccessDenied", Total: time.Millisecond},
		{Operation: "GetObject", Status: 503, AuthType: "sigv4-header", ErrorCode: "ServiceUnavailable", Total: time.Millisecond, UpstreamClockSkew: true},
		{Operation: "GetObject", Status: 200, AuthType: "sigv4-header", ErrorCode: "ResponseAborted", Total: time.Millisecond, Aborted: true},
		{Operation: "weird op\n{}", Status: 0, AuthType: "", Total: time.Millisecond},
	}
	for i := range recs {
		m.ObserveRequest(&recs[i])
	}
	m.ObserveRequest(nil) // no panic, no count
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"GetObject 2xx sigv4 (one aborted)", testutil.ToFloat64(m.requests.WithLabelValues("GetObject", "2xx", "sigv4-header")), 3},
		{"PutObject 2xx sigv2", testutil.ToFloat64(m.requests.WithLabelValues("PutObject", "2xx", "sigv2")), 1},
		{"PutObject 4xx sigv2", testutil.ToFloat64(m.requests.WithLabelValues("PutObject", "4xx", "sigv2")), 1},
		{"hostile labels clamped", testutil.ToFloat64(m.requests.WithLabelValues("other", "other", "none")), 1},
		{"bytes out GetObject", testutil.ToFloat64(m.bytesOut.WithLabelValues("GetObject")), 1024},
		{"bytes in PutObject", testutil.ToFloat64(m.bytesIn.WithLabelValues("PutObject")), 5 << 20},
		{"session hits", testutil.ToFloat64(m.sessionLookups.WithLabelValues("hit")), 1},
		{"session misses", testutil.ToFloat64(m.sessionLookups.WithLabelValues("miss")), 1},
		{"session refreshes", testutil.ToFloat64(m.sessionLookups.WithLabelValues("refresh")), 1},
		{"retries PutObject", testutil.ToFloat64(m.retries.WithLabelValues("PutObject")), 1},
		{"upstream histogram series", float64(testutil.CollectAndCount(m.upstreamLatency)), 2},
		{"total histogram series", float64(testutil.CollectAndCount(m.totalLatency)), 3},
		{"upstream clock skew", testutil.ToFloat64(m.clockSkew), 1},
		{"responses aborted", testutil.ToFloat64(m.aborted), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestSessionObserver(t *testing.T) {
	m := New(Options{})
	m.CreateSession("b1--usw2-az1--x-s3", session.ReadWrite, "", 30*time.Millisecond)
	m.CreateSession("b2--usw2-az1--x-s3", session.ReadWrite, "", 30*time.Millisecond)
	m.CreateSession("b1--usw2-az1--x-s3", session.ReadOnly, "AccessDenied", time.Millisecond)
	m.CreateSession("b1--usw2-az1--x-s3", session.ReadOnly, "transport", time.Millisecond)
	m.Throttled(time.Millisecond, true)
	m.Throttled(2*time.Second, false)
	m.Throttled(2*time.Second, false)
	m.ClientThrottled() // one of those two was its identity's own budget
	size := 7
	m.SetSessionCacheSize(func() int { return size })

	want := `
# HELP s3xproxy_createsession_total Upstream CreateSession calls by session mode and result code ("ok" on success, else the S3 error code or "transport").
# TYPE s3xproxy_createsession_total counter
s3xproxy_createsession_total{code="AccessDenied",mode="ReadOnly"} 1
s3xproxy_createsession_total{code="ok",mode="ReadWrite"} 2
s3xproxy_createsession_total{code="transport",mode="ReadOnly"} 1
# HELP s3xproxy_createsession_ratelimit_waits_total Requests that had to wait for a CreateSession rate-limit token.
# TYPE s3xproxy_createsession_ratelimit_waits_total counter
s3xproxy_createsession_ratelimit_waits_total 3
# HELP s3xproxy_createsession_slowdowns_total Requests answered 503 SlowDown because no CreateSession token came within create_wait.
# TYPE s3xproxy_createsession_slowdowns_total counter
s3xproxy_createsession_slowdowns_total 2
# HELP s3xproxy_createsession_identity_slowdowns_total Requests answered 503 SlowDown because their identity spent its own CreateSession budget (sessions.create_rate_per_identity); also counted in createsession_slowdowns_total.
# TYPE s3xproxy_createsession_identity_slowdowns_total counter
s3xproxy_createsession_identity_slowdowns_total 1
# HELP s3xproxy_session_cache_entries Upstream sessions currently cached.
# TYPE s3xproxy_session_cache_entries gauge
s3xproxy_session_cache_entries 7
`
	names := []string{"s3xproxy_createsession_total", "s3xproxy_createsession_ratelimit_waits_total",
		"s3xproxy_createsession_slowdowns_total", "s3xproxy_createsession_identity_slowdowns_total", "s3xproxy_session_cache_entries"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// The gauge follows the function, and a reload can swap it.
	size = 9
	if got := testutil.ToFloat64(m.cacheSize); got != 9 {
		t.Fatalf("gauge after change = %v, want 9", got)
	}
	m.SetSessionCacheSize(nil)
	if got := testutil.ToFloat64(m.cacheSize); got != 0 {
		t.Fatalf("gauge with nil func = %v, want 0", got)
	}
}

func TestNoBucketLabel(t *testing.T) {
	m := New(Options{ProcessCollectors: true})
	m.ObserveRequest(&proxy.Record{Operation: "GetObject", Bucket: "secret--usw2-az1--x-s3", Status: 200, Upstream: time.Millisecond})
	m.CreateSession("secret--usw2-az1--x-s3", session.ReadWrite, "", time.Millisecond)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "bucket" || strings.Contains(l.GetValue(), "secret--") {
					t.Errorf("%s has bucket label %s=%s", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestStatusClass(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{{200, "2xx"}, {206, "2xx"}, {304, "3xx"}, {404, "4xx"}, {503, "5xx"}, {0, "other"}, {99, "other"}, {600, "other"}}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := StatusClass(tc.status); got != tc.want {
				t.Fatalf("StatusClass(%d) = %q, want %q", tc.status, got, tc.want)
			}
		})
	}
}

// TestDashboardMetricsExist: every s3xproxy_ metric the Grafana dashboard
// queries is one this package exports.
func TestDashboardMetricsExist(t *testing.T) {
	data, err := os.ReadFile("../../deploy/grafana/s3xproxy-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{})
	m.ObserveRequest(&proxy.Record{Operation: "GetObject", Status: 200, BytesIn: 1, BytesOut: 1,
		Total: time.Millisecond, Upstream: time.Millisecond, Session: session.Hit, Retried: true})
	m.CreateSession("b--usw2-az1--x-s3", session.ReadWrite, "", time.Millisecond)
	m.Throttled(time.Millisecond, false)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	used := regexp.MustCompile(`s3xproxy_[a-z_]+`).FindAllString(string(data), -1)
	if len(used) == 0 {
		t.Fatal("dashboard queries no s3xproxy metric")
	}
	for _, name := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && have[b] {
				base = b
			}
		}
		if !have[base] {
			t.Errorf("dashboard uses %s, not exported", name)
		}
	}
}

// TestObserveRequestConcurrent: records observed concurrently, with the
// label children memoized on first use, are all counted once.
func TestObserveRequestConcurrent(t *testing.T) {
	m := New(Options{})
	const workers, each = 4, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m.ObserveRequest(&proxy.Record{Operation: "GetObject", Status: 200 + 204*(i%2), AuthType: "sigv4-header",
					BytesOut: 1, Total: time.Millisecond, Upstream: time.Millisecond, Session: session.Hit, Retried: true})
			}
		}()
	}
	wg.Wait()
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"2xx", testutil.ToFloat64(m.requests.WithLabelValues("GetObject", "2xx", "sigv4-header")), workers * each / 2},
		{"4xx", testutil.ToFloat64(m.requests.WithLabelValues("GetObject", "4xx", "sigv4-header")), workers * each / 2},
		{"bytes out", testutil.ToFloat64(m.bytesOut.WithLabelValues("GetObject")), workers * each},
		{"session hits", testutil.ToFloat64(m.sessionLookups.WithLabelValues("hit")), workers * each},
		{"retries", testutil.ToFloat64(m.retries.WithLabelValues("GetObject")), workers * each},
		{"bytes in series", float64(testutil.CollectAndCount(m.bytesIn)), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestMemoryMetrics: the replay budget and client-limit series read their
// sources when scraped, and read 0 without them.
func TestMemoryMetrics(t *testing.T) {
	m := New(Options{})
	names := []string{"s3xproxy_replay_budget_bytes", "s3xproxy_replay_budget_in_use_bytes", "s3xproxy_replay_budget_denied_total",
		"s3xproxy_client_connections", "s3xproxy_requests_in_flight", "s3xproxy_connections_rejected_total", "s3xproxy_requests_rejected_total"}
	render := func(v ...int) string {
		var b strings.Builder
		for i, n := range names {
			typ := "gauge"
			if strings.HasSuffix(n, "_total") {
				typ = "counter"
			}
			mf, _ := m.Registry().Gather()
			help := ""
			for _, f := range mf {
				if f.GetName() == n {
					help = f.GetHelp()
				}
			}
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", n, help, n, typ, n, v[i])
		}
		return b.String()
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(render(0, 0, 0, 0, 0, 0, 0)), names...); err != nil {
		t.Fatal(err)
	}
	b := proxy.NewReplayBudget(100)
	b.TryAcquire(60)
	b.TryAcquire(60)
	m.SetReplayBudget(b)
	m.SetLimits(func() Limits { return Limits{Connections: 3, InFlight: 2, RejectedConnections: 5, RejectedRequests: 7} })
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(render(100, 60, 1, 3, 2, 5, 7)), names...); err != nil {
		t.Fatal(err)
	}
}
