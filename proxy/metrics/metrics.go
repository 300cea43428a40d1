// Package metrics owns s3xproxy's Prometheus collectors. A Metrics value
// implements proxy.Observer (one Record per request) and session.Observer
// (CreateSession calls and rate-limit waits) and exposes the session cache
// size as a GaugeFunc, all on its own prometheus.Registry.
//
// It must not serve HTTP (the gateway's admin listener does) and must keep
// label cardinality low: no bucket, key, identity or request-id labels.
// Label values that come from outside (operation, auth type, S3 error code)
// are clamped to a short identifier alphabet, anything else becomes "other".
package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/session"
)

// Namespace prefixes every metric name.
const Namespace = "s3xproxy"

// Compile-time checks of the observer contracts.
var (
	_ proxy.Observer         = (*Metrics)(nil)
	_ session.Observer       = (*Metrics)(nil)
	_ session.ClientObserver = (*Metrics)(nil)
)

// latencyBuckets span a cached small request (~1 ms) to a multi-GiB
// transfer (minutes).
var latencyBuckets = []float64{
	.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300,
}

// Metrics holds every collector. Create it once per process and hand the
// same value to every proxy generation, so counters survive a config
// reload. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec   // operation, status_class, auth_type
	bytesIn         *prometheus.CounterVec   // operation
	bytesOut        *prometheus.CounterVec   // operation
	totalLatency    *prometheus.HistogramVec // operation
	upstreamLatency *prometheus.HistogramVec // operation
	sessionLookups  *prometheus.CounterVec   // result: hit, miss, refresh
	retries         *prometheus.CounterVec   // operation
	createSessions  *prometheus.CounterVec   // mode, code
	createLatency   prometheus.Histogram
	rateLimitWaits  prometheus.Counter
	rateLimitWait   prometheus.Histogram
	slowDowns       prometheus.Counter
	cacheSize       prometheus.GaugeFunc

	// identitySlowDowns counts the slowDowns due to one identity's own
	// CreateSession budget.
	identitySlowDowns prometheus.Counter
	// clockSkew counts requests the upstream refused for the proxy's clock.
	clockSkew prometheus.Counter
	// aborted counts responses cut after they had started.
	aborted prometheus.Counter

	// cacheLen is read by the session-cache GaugeFunc; nil means 0.
	cacheLen atomic.Pointer[func() int]
	// memory holds the replay budget and client-limit series.
	memory memoryCollectors

	// series memoizes the label children ObserveRequest uses, by clamped
	// operation name (string → *series).
	series sync.Map
}

// series holds the label children of one operation, each resolved on first
// use exactly as WithLabelValues would resolve it, so no series is exported
// before a record touches it. WithLabelValues hashes the label values and
// takes the vec's lock on every call, five times or more per request; here
// a request costs two string-keyed lock-free lookups. There is one series
// per operation label value, so the memo is bounded as the vecs are
// (operation names are clamped).
type series struct {
	requests          [len(classNames)]sync.Map // by classIndex, then clamped auth type → prometheus.Counter
	bytesIn, bytesOut lazy[prometheus.Counter]
	total, upstream   lazy[prometheus.Observer]
	retries           lazy[prometheus.Counter]
	// sessionLookups is by session status (hit, miss, refresh), not by
	// operation: memoized here only to need no lookup of its own.
	sessionLookups [len(lookupResults)]lazy[prometheus.Counter]
}

// lookupResults are the session statuses counted in sessionLookups.
var lookupResults = [...]session.Status{session.Hit, session.Miss, session.Refresh}

// lazy is a label child resolved on first use.
type lazy[T any] struct {
	once sync.Once
	v    T
}

func (l *lazy[T]) get(resolve func() T) T {
	l.once.Do(func() { l.v = resolve() })
	return l.v
}

// Options configures New. The zero value is valid.
type Options struct {
	// ProcessCollectors adds the standard Go runtime and process collectors
	// to the registry. Default false (tests want a small registry).
	ProcessCollectors bool
}

// New returns a Metrics with every collector registered on a fresh
// registry.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "requests_total",
		Help: "Client requests finished, by S3 operation, status class (2xx..5xx) and inbound auth type.",
	}, []string{"operation", "status_class", "auth_type"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "request_bytes_total",
		Help: "Request body bytes received from clients.",
	}, []string{"operation"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "response_bytes_total",
		Help: "Response body bytes sent to clients.",
	}, []string{"operation"})
	m.totalLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "request_duration_seconds",
		Help:    "Whole request time as seen by the proxy, first byte in to last byte out.",
		Buckets: latencyBuckets,
	}, []string{"operation"})
	m.upstreamLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "upstream_duration_seconds",
		Help:    "Time spent on the upstream round trip (requests that reached upstream only).",
		Buckets: latencyBuckets,
	}, []string{"operation"})
	m.sessionLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "session_cache_lookups_total",
		Help: "Session cache lookups by result: hit, miss, refresh (served while a background refresh started).",
	}, []string{"result"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "expired_session_retries_total",
		Help: "Requests re-signed and resent once because upstream reported an expired or invalid session.",
	}, []string{"operation"})
	m.registerSessionCollectors()
	m.memory.register(m.reg)
	m.reg.MustRegister(m.requests, m.bytesIn, m.bytesOut, m.totalLatency,
		m.upstreamLatency, m.sessionLookups, m.retries)
	if opts.ProcessCollectors {
		m.reg.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// registerSessionCollectors creates and registers the session.Observer side.
func (m *Metrics) registerSessionCollectors() {
	m.createSessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "createsession_total",
		Help: "Upstream CreateSession calls by session mode and result code (\"ok\" on success, else the S3 error code or \"transport\").",
	}, []string{"mode", "code"})
	m.createLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "createsession_duration_seconds",
		Help:    "Upstream CreateSession call time.",
		Buckets: latencyBuckets,
	})
	m.rateLimitWaits = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "createsession_ratelimit_waits_total",
		Help: "Requests that had to wait for a CreateSession rate-limit token.",
	})
	m.rateLimitWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "createsession_ratelimit_wait_seconds",
		Help:    "Time spent waiting for a CreateSession rate-limit token.",
		Buckets: latencyBuckets,
	})
	m.slowDowns = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "createsession_slowdowns_total",
		Help: "Requests answered 503 SlowDown because no CreateSession token came within create_wait.",
	})
	m.cacheSize = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "session_cache_entries",
		Help: "Upstream sessions currently cached.",
	}, func() float64 {
		if f := m.cacheLen.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	m.reg.MustRegister(m.createSessions, m.createLatency, m.rateLimitWaits,
		m.rateLimitWait, m.slowDowns, m.cacheSize)
	m.identitySlowDowns = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "createsession_identity_slowdowns_total",
		Help: "Requests answered 503 SlowDown because their identity spent its own CreateSession budget (sessions.create_rate_per_identity); also counted in createsession_slowdowns_total.",
	})
	m.reg.MustRegister(m.identitySlowDowns)
	m.clockSkew = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "upstream_clock_skew_total",
		Help: "Requests the upstream refused with RequestTimeTooSkewed (on CreateSession or the request itself): this host's clock is off; clients get 503.",
	})
	m.aborted = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "responses_aborted_total",
		Help: "Responses cut after they had started (the upstream body failed mid-copy, or the client went away): counted in requests_total by the status that was sent.",
	})
	m.reg.MustRegister(m.clockSkew, m.aborted)
}

// Registry returns the registry holding every collector (serve it with
// promhttp.HandlerFor).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetSessionCacheSize makes the session_cache_entries gauge read f (for
// example (*session.Cache).Len of the current proxy). A reload calls it
// again with the new cache; nil makes the gauge read 0.
func (m *Metrics) SetSessionCacheSize(f func() int) {
	if f == nil {
		m.cacheLen.Store(nil)
		return
	}
	m.cacheLen.Store(&f)
}

// ObserveRequest implements proxy.Observer. rec is not retained.
func (m *Metrics) ObserveRequest(rec *proxy.Record) {
	if rec == nil {
		return
	}
	op := clamp(rec.Operation)
	se := m.seriesOf(op)
	m.requestCounter(se, op, rec.Status, clamp(rec.AuthType)).Inc()
	if rec.BytesIn > 0 {
		se.bytesIn.get(func() prometheus.Counter { return m.bytesIn.WithLabelValues(op) }).Add(float64(rec.BytesIn))
	}
	if rec.BytesOut > 0 {
		se.bytesOut.get(func() prometheus.Counter { return m.bytesOut.WithLabelValues(op) }).Add(float64(rec.BytesOut))
	}
	se.total.get(func() prometheus.Observer { return m.totalLatency.WithLabelValues(op) }).Observe(rec.Total.Seconds())
	if rec.Upstream > 0 {
		se.upstream.get(func() prometheus.Observer { return m.upstreamLatency.WithLabelValues(op) }).Observe(rec.Upstream.Seconds())
	}
	for i, st := range lookupResults {
		if rec.Session == st {
			se.sessionLookups[i].get(func() prometheus.Counter { return m.sessionLookups.WithLabelValues(string(st)) }).Inc()
		}
	}
	if rec.Retried {
		se.retries.get(func() prometheus.Counter { return m.retries.WithLabelValues(op) }).Inc()
	}
	if rec.UpstreamClockSkew {
		m.clockSkew.Inc()
	}
	if rec.Aborted {
		m.aborted.Inc()
	}
}

// seriesOf returns the memoized children of operation op (clamped).
func (m *Metrics) seriesOf(op string) *series {
	if v, ok := m.series.Load(op); ok {
		return v.(*series)
	}
	v, _ := m.series.LoadOrStore(op, new(series))
	return v.(*series)
}

// requestCounter returns the requests_total child of (op, status class,
// auth), memoized in se.
func (m *Metrics) requestCounter(se *series, op string, status int, auth string) prometheus.Counter {
	i := classIndex(status)
	if v, ok := se.requests[i].Load(auth); ok {
		return v.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(op, classNames[i], auth)
	se.requests[i].Store(auth, c) // a racing Store stores the same child
	return c
}

// CreateSession implements session.Observer. The bucket is deliberately
// not a label (cardinality).
func (m *Metrics) CreateSession(bucket string, mode session.Mode, code string, took time.Duration) {
	if code == "" {
		code = "ok"
	}
	m.createSessions.WithLabelValues(clamp(string(mode)), clamp(code)).Inc()
	m.createLatency.Observe(took.Seconds())
}

// Throttled implements session.Observer: every call is one rate-limit
// wait; ok=false is one SlowDown.
func (m *Metrics) Throttled(waited time.Duration, ok bool) {
	m.rateLimitWaits.Inc()
	m.rateLimitWait.Observe(waited.Seconds())
	if !ok {
		m.slowDowns.Inc()
	}
}

// ClientThrottled implements session.ClientObserver.
func (m *Metrics) ClientThrottled() { m.identitySlowDowns.Inc() }

// StatusClass maps an HTTP status to "1xx".."5xx"; anything out of range
// (including 0, a client that went away before a status) is "other".
func StatusClass(status int) string {
	return classNames[classIndex(status)] // a table: no string built per request
}

// classNames are the values StatusClass returns, indexed by classIndex.
var classNames = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// classIndex is the index of status's class in classNames.
func classIndex(status int) int {
	if status < 100 || status > 599 {
		return len(classNames) - 1
	}
	return status/100 - 1
}

// clamp keeps a label value that looks like an identifier (letters,
// digits, '-', '_', '.', at most 64 bytes) and turns anything else into
// "other", so a hostile or buggy value cannot explode cardinality. ""
// becomes "none".
func clamp(s string) string {
	if s == "" {
		return "none"
	}
	if len(s) > 64 {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.':
		default:
			return "other"
		}
	}
	return s
}
