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
	DefaultMaxHeaderSize = 64 << 10
)

func reflectValue(cfg *Config) reflect.Value { return reflect.ValueOf(cfg).Elem() }

// applyDefaults fills every key that the file left out (or wrote as null).
// An explicit value, even "" or 0, is kept and validated instead: that is
// how server.listen: "" disables the plain listener.
func applyDefaults(c *Config, set map[string]bool) {
	str := func(path string, p *string, v string) {
		if !set[path] {
			*p = v
		}
	}
	dur := func(path string, p *time.Duration, v time.Duration) {
		if !set[path] {
			*p = v
		}
	}
	integer := func(path string, p *int, v int) {
		if !set[path] {
			*p = v
		}
	}
	str("server.listen", &c.Server.Listen, DefaultListen)
	dur("server.shutdown_grace", &c.Server.ShutdownGrace, 30*time.Second)
	dur("server.read_header_timeout", &c.Server.ReadHeaderTimeout, 10*time.Second)
	dur("server.idle_timeout", &c.Server.IdleTimeout, 120*time.Second)
	integer("server.max_header_bytes", &c.Server.MaxHeaderBytes, DefaultMaxHeaderSize)

	str("tls.listen", &c.TLS.Listen, DefaultTLSListen)
	str("tls.mode", &c.TLS.Mode, "off")
	str("tls.acme.ca", &c.TLS.ACME.CA, DefaultACMECA)
	str("tls.acme.storage", &c.TLS.ACME.Storage, DefaultACMEStorage)

	str("admin.listen", &c.Admin.Listen, DefaultAdminListen)

	str("log.level", &c.Log.Level, "info")
	str("log.format", &c.Log.Format, "json")
	if c.Log.AccessLog == nil {
		c.Log.AccessLog = ptr(true)
	}

	str("upstream.scheme", &c.Upstream.Scheme, "https")
	dnsSuffix := "amazonaws.com"
	if strings.HasPrefix(c.Upstream.Region, "cn-") {
		dnsSuffix = "amazonaws.com.cn"
	}
	str("upstream.dns_suffix", &c.Upstream.DNSSuffix, dnsSuffix)

	str("buckets.default", &c.Buckets.Default, "passthrough")

	s := &c.Sessions
	str("sessions.mode", &s.Mode, "auto")
	dur("sessions.refresh_before", &s.RefreshBefore, 60*time.Second)
	integer("sessions.max_entries", &s.MaxEntries, 10000)
	dur("sessions.idle_ttl", &s.IdleTTL, 10*time.Minute)
	if !set["sessions.create_rate"] {
		s.CreateRate = 20
	}
	integer("sessions.create_burst", &s.CreateBurst, 40)
	dur("sessions.create_wait", &s.CreateWait, 2*time.Second)
	dur("sessions.failure_ttl", &s.FailureTTL, 5*time.Second)
	dur("sessions.create_timeout", &s.CreateTimeout, 10*time.Second)

	if !set["retry.replay_buffer"] {
		c.Retry.ReplayBuffer = DefaultReplayBuffer
	}

	a := &c.Auth
	str("auth.anonymous", &a.Anonymous, "deny")
	dur("auth.max_clock_skew", &a.MaxClockSkew, 15*time.Minute)
	if a.SigV2 == nil {
		a.SigV2 = ptr(true)
	}
	dur("auth.local_session_ttl", &a.LocalSessionTTL, 5*time.Minute)
	for i := range a.Credentials {
		str("auth.credentials["+strconv.Itoa(i)+"].access", &a.Credentials[i].Access, "read")
	}
}

func ptr[T any](v T) *T { return &v }
