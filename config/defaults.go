package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Documented defaults (see the field comments in config.go).
const (
	DefaultListen        = ":8080"
	DefaultTLSListen     = ":8443"
	DefaultAdminListen   = "127.0.0.1:9090"
	DefaultACMECA        = "https://acme-v02.api.letsencrypt.org/directory"
	DefaultACMEStorage   = "/var/lib/s3xproxy"
	DefaultReplayBuffer  = 8 << 20
	DefaultReplayBudget  = 64 << 20
	DefaultMaxHeaderSize = 64 << 10
	DefaultMaxListPages  = 10
)

func reflectValue(cfg *Config) reflect.Value { return reflect.ValueOf(cfg).Elem() }

// defaulter sets a value only when its key path was not written in the file.
type defaulter struct{ set map[string]bool }

func (d defaulter) str(path string, p *string, v string) {
	if !d.set[path] {
		*p = v
	}
}

func (d defaulter) dur(path string, p *time.Duration, v time.Duration) {
	if !d.set[path] {
		*p = v
	}
}

func (d defaulter) integer(path string, p *int, v int) {
	if !d.set[path] {
		*p = v
	}
}

// applyDefaults fills every key that the file left out (or wrote as null).
// An explicit value, even "" or 0, is kept and validated instead: that is
// how server.listen: "" disables the plain listener.
func applyDefaults(c *Config, set map[string]bool) {
	d := defaulter{set: set}
	d.str("server.listen", &c.Server.Listen, DefaultListen)
	d.dur("server.shutdown_grace", &c.Server.ShutdownGrace, 30*time.Second)
	d.dur("server.read_header_timeout", &c.Server.ReadHeaderTimeout, 10*time.Second)
	d.dur("server.idle_timeout", &c.Server.IdleTimeout, 120*time.Second)
	d.integer("server.max_header_bytes", &c.Server.MaxHeaderBytes, DefaultMaxHeaderSize)
	d.dur("server.body_idle_timeout", &c.Server.BodyIdleTimeout, 30*time.Second)
	d.integer("server.max_connections", &c.Server.MaxConnections, 1024)
	d.integer("server.max_in_flight", &c.Server.MaxInFlight, 256)
	d.dur("server.drain_delay", &c.Server.DrainDelay, 0)

	d.str("tls.listen", &c.TLS.Listen, DefaultTLSListen)
	d.str("tls.mode", &c.TLS.Mode, "off")
	d.str("tls.acme.ca", &c.TLS.ACME.CA, DefaultACMECA)
	d.str("tls.acme.storage", &c.TLS.ACME.Storage, DefaultACMEStorage)

	d.str("admin.listen", &c.Admin.Listen, DefaultAdminListen)

	d.str("log.level", &c.Log.Level, "info")
	d.str("log.format", &c.Log.Format, "json")
	if c.Log.AccessLog == nil {
		c.Log.AccessLog = ptr(true)
	}

	d.str("upstream.scheme", &c.Upstream.Scheme, "https")
	dnsSuffix := "amazonaws.com"
	if strings.HasPrefix(c.Upstream.Region, "cn-") {
		dnsSuffix = "amazonaws.com.cn"
	}
	d.str("upstream.dns_suffix", &c.Upstream.DNSSuffix, dnsSuffix)
	d.integer("upstream.max_idle_conns", &c.Upstream.MaxIdleConns, 1024)
	d.integer("upstream.max_idle_conns_per_host", &c.Upstream.MaxIdleConnsPerHost, 256)
	d.dur("upstream.idle_conn_timeout", &c.Upstream.IdleConnTimeout, 90*time.Second)
	d.dur("upstream.response_header_timeout", &c.Upstream.ResponseHeaderTimeout, 5*time.Minute)

	d.str("buckets.default", &c.Buckets.Default, "passthrough")
	d.sessions(&c.Sessions)
	if !set["retry.replay_buffer"] {
		c.Retry.ReplayBuffer = DefaultReplayBuffer
	}
	if !set["retry.replay_budget"] {
		c.Retry.ReplayBudget = DefaultReplayBudget
	}
	d.auth(&c.Auth)
	d.integer("compat.max_list_pages_per_request", &c.Compat.MaxListPagesPerRequest, DefaultMaxListPages)
	if c.Compat.MD5ETags == nil {
		c.Compat.MD5ETags = ptr(true)
	}
	d.str("compat.payload_md5", &c.Compat.PayloadMD5, "declared")
}

func (d defaulter) sessions(s *Sessions) {
	d.str("sessions.mode", &s.Mode, "auto")
	d.dur("sessions.refresh_before", &s.RefreshBefore, 60*time.Second)
	d.integer("sessions.max_entries", &s.MaxEntries, 10000)
	d.dur("sessions.idle_ttl", &s.IdleTTL, 10*time.Minute)
	if !d.set["sessions.create_rate"] {
		s.CreateRate = 20
	}
	d.integer("sessions.create_burst", &s.CreateBurst, 40)
	d.dur("sessions.create_wait", &s.CreateWait, 2*time.Second)
	d.dur("sessions.failure_ttl", &s.FailureTTL, 5*time.Second)
	d.dur("sessions.create_timeout", &s.CreateTimeout, 10*time.Second)
	if !d.set["sessions.create_rate_per_identity"] {
		s.CreateRatePerIdentity = s.CreateRate / 4
	}
	d.integer("sessions.create_burst_per_identity", &s.CreateBurstPerIdentity, max(1, s.CreateBurst/4))
	d.dur("sessions.negative_ttl", &s.NegativeTTL, 30*time.Second)
}

func (d defaulter) auth(a *Auth) {
	d.str("auth.anonymous", &a.Anonymous, "deny")
	d.dur("auth.max_clock_skew", &a.MaxClockSkew, 15*time.Minute)
	if a.SigV2 == nil {
		a.SigV2 = ptr(true)
	}
	if d.set["auth.local_session_ttl"] && !d.set["auth.local_sessions.ttl"] {
		a.LocalSessions.TTL = a.LocalSessionTTL // the deprecated spelling
	} else {
		d.dur("auth.local_sessions.ttl", &a.LocalSessions.TTL, 5*time.Minute)
	}
	for i := range a.Credentials {
		d.str("auth.credentials["+strconv.Itoa(i)+"].access", &a.Credentials[i].Access, "read")
	}
}

func ptr[T any](v T) *T { return &v }
