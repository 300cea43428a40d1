package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func mustParse(t *testing.T, src string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(src), envMap(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, "upstream:\n  region: us-west-2\n", nil)
	want := &Config{
		Server: Server{Listen: ":8080", ShutdownGrace: 30 * time.Second, ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout: 120 * time.Second, MaxHeaderBytes: 65536,
			BodyIdleTimeout: 30 * time.Second, MaxConnections: 1024, MaxInFlight: 256},
		TLS: TLS{Listen: ":8443", Mode: "off", ACME: ACME{
			CA: "https://acme-v02.api.letsencrypt.org/directory", Storage: "/var/lib/s3xproxy"}},
		Admin: Admin{Listen: "127.0.0.1:9090"},
		Log:   Log{Level: "info", Format: "json", AccessLog: ptr(true)},
		Upstream: Upstream{Region: "us-west-2", Scheme: "https", DNSSuffix: "amazonaws.com",
			MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 5 * time.Minute},
		Buckets: Buckets{Default: "passthrough"},
		Sessions: Sessions{Mode: "auto", RefreshBefore: time.Minute, MaxEntries: 10000, IdleTTL: 10 * time.Minute,
			CreateRate: 20, CreateBurst: 40, CreateWait: 2 * time.Second, FailureTTL: 5 * time.Second,
			CreateTimeout:         10 * time.Second,
			CreateRatePerIdentity: 5, CreateBurstPerIdentity: 10, NegativeTTL: 30 * time.Second},
		Retry: Retry{ReplayBuffer: 8 << 20, ReplayBudget: 64 << 20},
		Auth: Auth{Anonymous: "deny", MaxClockSkew: 15 * time.Minute, SigV2: ptr(true),
			LocalSessions: LocalSessions{TTL: 5 * time.Minute}},
		Compat: Compat{MD5ETags: ptr(true), PayloadMD5: "declared"},
	}
	want.Compat.MaxListPagesPerRequest = 10
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *cfg, *want)
	}
}

const fullConfig = `
server:
  listen: "127.0.0.1:18080"
  virtual_host_domains: [s3.example.internal, s3.local]
  shutdown_grace: 45s
  read_header_timeout: 5s
  idle_timeout: 1m
  max_header_bytes: 131072
  body_idle_timeout: 0s
  max_connections: 10
  max_in_flight: 0
tls: {mode: self-signed, listen: ":18443"}
admin: {listen: "", pprof: true}
log: {level: debug, format: console, access_log: false}
upstream:
  region: cn-north-1
  zones: {cnn1-az1: cn-north-1, usw2-az12: us-west-2}
  credentials: {access_key_id: AKIAEXAMPLE, secret_access_key: "${UP_SECRET}", session_token: tok}
  fips: true
  dualstack: true
  scheme: http
  dial_address: 127.0.0.1:9000
  max_idle_conns: 64
  max_idle_conns_per_host: 4
  idle_conn_timeout: 20s
  response_header_timeout: 0s
buckets:
  default: deny
  allow: [data--usw2-az1--x-s3]
  aliases:
    - {name: logs, target: logs--usw2-az1--x-s3, anonymous: read}
    - {name: my.legacy.bucket, target: b--use1-atl2-az1--x-s3}
sessions: {mode: readwrite, refresh_before: 2s, max_entries: 5, idle_ttl: 1h, create_rate: 0.5,
           create_burst: 1, create_wait: 0s, failure_ttl: 0, create_timeout: 3s}
retry: {replay_buffer: 512KiB, replay_budget: 0}
auth:
  anonymous: read
  max_clock_skew: 5m
  sigv2: false
  local_sessions:
    keys: ["${SK_NEW}", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"]
    ttl: 1m
  credentials:
    - access_key_id: K1
      secret_access_key: ${S1:-fallback}
      buckets: ["logs", "data-*"]
      access: read-write
    - {access_key_id: K2, secret_access_key: s2}
compat: {md5_etags: false, payload_md5: always, max_list_pages_per_request: 3}
`

func TestFullConfig(t *testing.T) {
	cfg := mustParse(t, fullConfig, map[string]string{"UP_SECRET": "upsecret", "SK_NEW": "c2Vzc2lvbi1rZXktZm9yLXRoZS1leGFtcGxlLTMyYnl0ZXM="})
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", cfg.Server.Listen, "127.0.0.1:18080"},
		{"server.vhd", cfg.Server.VirtualHostDomains, []string{"s3.example.internal", "s3.local"}},
		{"server.shutdown_grace", cfg.Server.ShutdownGrace, 45 * time.Second},
		{"server.idle_timeout", cfg.Server.IdleTimeout, time.Minute},
		{"server.max_header_bytes", cfg.Server.MaxHeaderBytes, 131072},
		{"server.body_idle_timeout explicit 0", cfg.Server.BodyIdleTimeout, time.Duration(0)},
		{"server.max_connections", cfg.Server.MaxConnections, 10},
		{"server.max_in_flight explicit 0", cfg.Server.MaxInFlight, 0},
		{"tls.mode", cfg.TLS.Mode, "self-signed"},
		{"admin.listen disabled", cfg.Admin.Listen, ""},
		{"admin.pprof", cfg.Admin.PProf, true},
		{"log.access_log", *cfg.Log.AccessLog, false},
		{"upstream.zones", cfg.Upstream.Zones, map[string]string{"cnn1-az1": "cn-north-1", "usw2-az12": "us-west-2"}},
		{"upstream.dns_suffix cn", cfg.Upstream.DNSSuffix, "amazonaws.com.cn"},
		{"upstream secret from env", cfg.Upstream.Credentials.SecretAccessKey, "upsecret"},
		{"upstream.fips", cfg.Upstream.FIPS, true},
		{"upstream.dial_address", cfg.Upstream.DialAddress, "127.0.0.1:9000"},
		{"upstream.max_idle_conns", cfg.Upstream.MaxIdleConns, 64},
		{"upstream.max_idle_conns_per_host", cfg.Upstream.MaxIdleConnsPerHost, 4},
		{"upstream.idle_conn_timeout", cfg.Upstream.IdleConnTimeout, 20 * time.Second},
		{"upstream.response_header_timeout explicit 0", cfg.Upstream.ResponseHeaderTimeout, time.Duration(0)},
		{"buckets.aliases", cfg.Buckets.Aliases, []Alias{
			{Name: "logs", Target: "logs--usw2-az1--x-s3", Anonymous: "read"},
			{Name: "my.legacy.bucket", Target: "b--use1-atl2-az1--x-s3"}}},
		{"sessions.create_rate", cfg.Sessions.CreateRate, 0.5},
		{"sessions.create_wait explicit 0", cfg.Sessions.CreateWait, time.Duration(0)},
		{"sessions.failure_ttl explicit 0", cfg.Sessions.FailureTTL, time.Duration(0)},
		{"sessions.create_rate_per_identity from create_rate", cfg.Sessions.CreateRatePerIdentity, 0.125},
		{"sessions.create_burst_per_identity at least 1", cfg.Sessions.CreateBurstPerIdentity, 1},
		{"retry.replay_buffer", cfg.Retry.ReplayBuffer, ByteSize(512 << 10)},
		{"retry.replay_budget explicit 0", cfg.Retry.ReplayBudget, ByteSize(0)},
		{"auth.sigv2", *cfg.Auth.SigV2, false},
		{"auth.local_sessions", cfg.Auth.LocalSessions, LocalSessions{Keys: []string{
			"c2Vzc2lvbi1rZXktZm9yLXRoZS1leGFtcGxlLTMyYnl0ZXM=", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}, TTL: time.Minute}},
		{"compat.md5_etags", *cfg.Compat.MD5ETags, false},
		{"compat.payload_md5", cfg.Compat.PayloadMD5, "always"},
		{"compat.max_list_pages_per_request", cfg.Compat.MaxListPagesPerRequest, 3},
		{"auth.credentials", cfg.Auth.Credentials, []LocalCredential{
			{AccessKeyID: "K1", SecretAccessKey: "fallback", Buckets: []string{"logs", "data-*"}, Access: "read-write"},
			{AccessKeyID: "K2", SecretAccessKey: "s2", Access: "read"}}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
}

func TestExampleFileLoads(t *testing.T) {
	t.Setenv("LEGACY_SECRET_1", "example-secret")
	t.Setenv("SESSION_KEY_1", "c2Vzc2lvbi1rZXktZm9yLXRoZS1leGFtcGxlLTMyYnl0ZXM=")
	cfg, err := Load(filepath.Join("..", "s3xproxy.example.yaml"))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if cfg.Upstream.Region != "us-west-2" || cfg.Auth.Credentials[0].SecretAccessKey != "example-secret" {
		t.Errorf("unexpected example values: region %q", cfg.Upstream.Region)
	}
	// The example documents the defaults: each one must equal the built-in
	// default, so the file and the code cannot drift apart.
	def := mustParse(t, "upstream: {region: us-west-2}", nil)
	cfg.Server.VirtualHostDomains, cfg.Upstream.Zones = nil, nil
	cfg.Buckets.Allow, cfg.Buckets.Aliases, cfg.Auth.Credentials = nil, nil, nil
	cfg.Auth.LocalSessions.Keys = nil
	if !reflect.DeepEqual(cfg, def) {
		t.Errorf("example defaults drifted from code:\n got %+v\nwant %+v", *cfg, *def)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want os.ErrNotExist", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"A": "alpha", "EMPTY": "", "N": "7", "D": "90s"}
	tests := []struct {
		name, in, want string
		wantErr        string
	}{
		{"plain", "x", "x", ""},
		{"whole", "${A}", "alpha", ""},
		{"embedded", "pre-${A}-post", "pre-alpha-post", ""},
		{"two", "${A}${N}", "alpha7", ""},
		{"default unset", "${NOPE:-fb}", "fb", ""},
		{"default empty", "${EMPTY:-fb}", "fb", ""},
		{"default set", "${A:-fb}", "alpha", ""},
		{"empty set", "${EMPTY}", "", ""},
		{"escape", "$${A}", "${A}", ""},
		{"dollar kept", "a$b", "a$b", ""},
		{"unset", "${NOPE}", "", "environment variable NOPE is not set"},
		{"unterminated", "${A", "", "unterminated ${"},
		{"bad name", "${1A}", "", "invalid environment variable reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := expand(tt.in, envMap(env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestYAML11Words(t *testing.T) {
	cfg := mustParse(t, "upstream: {region: us-west-2, fips: yes}\ntls: {mode: off}\nlog: {access_log: off}\n", nil)
	if cfg.TLS.Mode != "off" || !cfg.Upstream.FIPS || *cfg.Log.AccessLog {
		t.Errorf("got tls.mode %q fips %v access_log %v", cfg.TLS.Mode, cfg.Upstream.FIPS, *cfg.Log.AccessLog)
	}
}

func TestEnvInTypedFields(t *testing.T) {
	src := "upstream: {region: us-west-2}\nsessions: {max_entries: \"${N}\", idle_ttl: \"${D}\"}\n"
	cfg := mustParse(t, src, map[string]string{"N": "7", "D": "90s"})
	if cfg.Sessions.MaxEntries != 7 || cfg.Sessions.IdleTTL != 90*time.Second {
		t.Errorf("got max_entries %d idle_ttl %v", cfg.Sessions.MaxEntries, cfg.Sessions.IdleTTL)
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
	src := `upstream: {region: "${S}"}
sessions: {idle_ttl: "${S}", mode: "${S}"}
auth:
  anonymous: "x${S}"
  credentials: [{access_key_id: "${S}/", secret_access_key: "${S}", buckets: ["${S}["]}]
`
	_, err := Parse("s.yaml", []byte(src), envMap(map[string]string{"S": secret}))
	if err == nil {
		t.Fatal("want errors")
	}
	if n := len(AsErrors(err)); n < 5 {
		t.Errorf("want >= 5 errors, got %d:\n%v", n, err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:10]) {
		t.Errorf("secret leaked into error:\n%v", err)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1024", 1024, true},
		{"0", 0, true},
		{"512KiB", 512 << 10, true},
		{"8MiB", 8 << 20, true},
		{"8mib", 8 << 20, true},
		{"1GB", 1e9, true},
		{"1 GiB", 1 << 30, true},
		{"1.5KB", 1500, true},
		{"2M", 2 << 20, true},
		{"10B", 10, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"8XB", 0, false},
		{"1e3", 0, false},
		{"99999999TiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
	for _, b := range []ByteSize{8 << 20, 512 << 10, 1000, 3 << 30} {
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Errorf("round trip %d -> %q -> %d, %v", b, b.String(), back, err)
		}
	}
}

func TestAnchorsAndNulls(t *testing.T) {
	src := `
upstream: {region: us-west-2}
server:
  listen:          # null: the default applies
  shutdown_grace: ~
common: &cred
  secret_access_key: shared
  access: read-write
`
	// "common" is not a known key: anchors must live under known keys.
	if _, err := Parse("a.yaml", []byte(src), envMap(nil)); err == nil || !strings.Contains(err.Error(), "a.yaml:6: common: unknown key") {
		t.Fatalf("want unknown key error, got %v", err)
	}
	src = `
upstream: {region: us-west-2}
server:
  listen:
  shutdown_grace: ~
auth:
  credentials:
    - &first {access_key_id: A, secret_access_key: shared, access: read-write}
    - <<: *first
      access_key_id: B
`
	cfg := mustParse(t, src, nil)
	if cfg.Server.Listen != ":8080" || cfg.Server.ShutdownGrace != 30*time.Second {
		t.Errorf("null values must take defaults: %+v", cfg.Server)
	}
	want := []LocalCredential{
		{AccessKeyID: "A", SecretAccessKey: "shared", Access: "read-write"},
		{AccessKeyID: "B", SecretAccessKey: "shared", Access: "read-write"},
	}
	if !reflect.DeepEqual(cfg.Auth.Credentials, want) {
		t.Errorf("merge key: got %+v", cfg.Auth.Credentials)
	}
}
