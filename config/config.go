package config

import "time"

// Config is the whole file. Every default is documented on its field and
// applied by Load; see s3xproxy.example.yaml for an annotated example.
type Config struct {
	Server   Server   `yaml:"server"`
	TLS      TLS      `yaml:"tls"`
	Admin    Admin    `yaml:"admin"`
	Log      Log      `yaml:"log"`
	Upstream Upstream `yaml:"upstream"`
	Buckets  Buckets  `yaml:"buckets"`
	Sessions Sessions `yaml:"sessions"`
	Retry    Retry    `yaml:"retry"`
	Auth     Auth     `yaml:"auth"`
	Compat   Compat   `yaml:"compat"`
}

// Server is the plain-HTTP listener and request handling.
type Server struct {
	// Listen is the plain HTTP address; "" disables it. Default ":8080".
	Listen string `yaml:"listen"`
	// VirtualHostDomains enables <bucket>.<domain> addressing. Default none.
	VirtualHostDomains []string `yaml:"virtual_host_domains"`
	// ShutdownGrace bounds how long in-flight requests may finish. Default 30s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// ReadHeaderTimeout default 10s; IdleTimeout default 120s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes default 64 KiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// HTTPRedirect makes the plain listener redirect to HTTPS when TLS is on. Default false.
	HTTPRedirect bool `yaml:"http_redirect"`
	// BodyIdleTimeout ends an upload whose client sends no body bytes for
	// this long with 400 RequestTimeout (upstream aborted). Default 30s; 0 disables.
	BodyIdleTimeout time.Duration `yaml:"body_idle_timeout"`
	// MaxConnections caps open client connections; over it, 503 SlowDown
	// (plain HTTP) or a close (HTTPS). Default 1024; 0 disables.
	MaxConnections int `yaml:"max_connections"`
	// MaxInFlight caps client requests in progress; over it, 503 SlowDown at
	// once. Default 256; 0 disables.
	MaxInFlight int `yaml:"max_in_flight"`
}

// TLS is the HTTPS listener.
type TLS struct {
	// Listen default ":8443" (used unless Mode is off).
	Listen string `yaml:"listen"`
	// Mode: off (default) | files | acme | self-signed.
	Mode     string `yaml:"mode"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	ACME     ACME   `yaml:"acme"`
}

// ACME configures certmagic.
type ACME struct {
	Email string `yaml:"email"`
	// CA is the directory URL; default Let's Encrypt production.
	CA string `yaml:"ca"`
	// CAFile is a PEM root to trust for the CA (e.g. a private ACME server).
	CAFile   string   `yaml:"ca_file"`
	Domains  []string `yaml:"domains"`
	OnDemand bool     `yaml:"on_demand"`
	// Storage is certmagic's storage path. Default /var/lib/s3xproxy.
	Storage string `yaml:"storage"`
}

// Admin is the admin listener (/metrics /healthz /readyz).
type Admin struct {
	// Listen default "127.0.0.1:9090"; "" disables it.
	Listen string `yaml:"listen"`
	PProf  bool   `yaml:"pprof"`
	// Token is the bearer token POST /-/reload and /debug/pprof/ require
	// (Authorization: Bearer <token>); write it as ${VAR}. When empty they
	// stay open on a loopback listen address and answer 403 on any other.
	// At least 16 characters. Default "". Never logged.
	Token string `yaml:"token"`
}

// Log configures zerolog.
type Log struct {
	Level     string `yaml:"level"`      // default info
	Format    string `yaml:"format"`     // json (default) | console
	AccessLog *bool  `yaml:"access_log"` // default true
}

// Upstream is how s3xproxy reaches S3 Express.
type Upstream struct {
	// Region is the default region. Required.
	Region string `yaml:"region"`
	// Zones maps zone ids to regions, ahead of the prefix rule.
	Zones       map[string]string `yaml:"zones"`
	Credentials Credentials       `yaml:"credentials"`
	FIPS        bool              `yaml:"fips"`
	Dualstack   bool              `yaml:"dualstack"`
	// Scheme https (default) or http (emulator only).
	Scheme string `yaml:"scheme"`
	// DialAddress, for testing, dials every upstream connection here with Host unchanged.
	DialAddress string `yaml:"dial_address"`
	// CAFile is extra PEM roots for upstream TLS.
	CAFile string `yaml:"ca_file"`
	// Endpoint overrides the DNS suffix (default amazonaws.com; amazonaws.com.cn in China regions).
	DNSSuffix string `yaml:"dns_suffix"`
	// MaxIdleConns bounds the idle keep-alive connections kept across every
	// Zonal host (default 1024); MaxIdleConnsPerHost bounds them per host
	// (default 256). Every directory bucket is its own host.
	MaxIdleConns        int `yaml:"max_idle_conns"`
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// IdleConnTimeout closes an upstream connection idle this long (default 90s).
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout"`
	// ResponseHeaderTimeout bounds the wait for response headers once a
	// request is sent (default 5m; 0 waits as long as the client does).
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout"`
}

// Credentials selects upstream IAM credentials; default the AWS default chain.
type Credentials struct {
	Profile string `yaml:"profile"`
	RoleARN string `yaml:"role_arn"`
	// AccessKeyID / SecretAccessKey are static keys (use ${ENV}); for tests and dev.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	SessionToken    string `yaml:"session_token"`
}

// Buckets controls which buckets may be reached.
type Buckets struct {
	// Default: passthrough (any valid --x-s3 name) or deny (only aliases and Allow).
	Default string   `yaml:"default"`
	Allow   []string `yaml:"allow"`
	Aliases []Alias  `yaml:"aliases"`
	// DefaultZone (a zone id such as usw2-az1) makes a bucket name without
	// the --x-s3 suffix mean <name>--<zone>--x-s3, and lets credentials
	// with create_buckets create and delete such buckets. Default "" (off).
	DefaultZone string `yaml:"default_zone"`
}

// Alias gives a directory bucket a legacy-friendly name.
type Alias struct {
	Name   string `yaml:"name"`
	Target string `yaml:"target"`
	// Anonymous: "" (follow auth.anonymous), deny, read, read-write.
	Anonymous string `yaml:"anonymous"`
}

// Sessions configures the upstream session cache.
type Sessions struct {
	Mode          string        `yaml:"mode"`           // auto (default) | readwrite | iam
	RefreshBefore time.Duration `yaml:"refresh_before"` // default 60s
	MaxEntries    int           `yaml:"max_entries"`    // default 10000
	IdleTTL       time.Duration `yaml:"idle_ttl"`       // default 10m
	CreateRate    float64       `yaml:"create_rate"`    // default 20
	CreateBurst   int           `yaml:"create_burst"`   // default 40
	CreateWait    time.Duration `yaml:"create_wait"`    // default 2s
	FailureTTL    time.Duration `yaml:"failure_ttl"`    // default 5s
	// CreateTimeout bounds one CreateSession call. Default 10s.
	CreateTimeout time.Duration `yaml:"create_timeout"`
	// CreateRatePerIdentity and CreateBurstPerIdentity are each local
	// identity's own CreateSession budget, spent before the global one
	// (create_rate, create_burst); all anonymous requests are one identity.
	// Defaults: a quarter of create_rate, and a quarter of create_burst
	// (at least 1).
	CreateRatePerIdentity  float64 `yaml:"create_rate_per_identity"`
	CreateBurstPerIdentity int     `yaml:"create_burst_per_identity"`
	// NegativeTTL is how long a CreateSession answered NoSuchBucket,
	// AccessDenied or InvalidBucketName is remembered and repeated without
	// asking upstream. Default 30s.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
}

// Retry configures the one retry on an expired session.
type Retry struct {
	// ReplayBuffer bounds the request body kept for a retry. Default 8MiB.
	ReplayBuffer ByteSize `yaml:"replay_buffer"`
	// ReplayBudget bounds the replay buffers of all requests in flight
	// together; a request that cannot get budget streams without one.
	// Default 64MiB; 0: no body is kept.
	ReplayBudget ByteSize `yaml:"replay_budget"`
}

// Auth configures inbound authentication.
type Auth struct {
	Anonymous    string        `yaml:"anonymous"`      // deny (default) | read | read-write
	MaxClockSkew time.Duration `yaml:"max_clock_skew"` // default 15m
	SigV2        *bool         `yaml:"sigv2"`          // default true
	// LocalSessions configures the S3 Express sessions the proxy issues
	// itself to modern SDKs.
	LocalSessions LocalSessions `yaml:"local_sessions"`
	// LocalSessionTTL is the deprecated spelling of local_sessions.ttl,
	// still accepted (writing both is an error). Default unset (0).
	LocalSessionTTL time.Duration     `yaml:"local_session_ttl" deprecated:"auth.local_sessions.ttl"`
	Credentials     []LocalCredential `yaml:"credentials"`
}

// LocalSessions configures proxy-issued S3 Express sessions, which are
// stateless: the credentials carry the session sealed under Keys, so every
// replica with the same keys accepts them, across reloads and restarts
// (docs/compat.md).
type LocalSessions struct {
	// Keys seal the sessions: each the base64 or hex of at least 32 random
	// bytes (openssl rand -base64 32), written as ${VAR} from a secret.
	// The first seals new sessions, every key opens them: rotate by
	// putting a new key first and dropping the old one a TTL later. Every
	// replica needs the same list. Default none: a random key made at
	// start, so sessions die with the process and work only on the
	// replica that issued them (a warning is logged).
	Keys []string `yaml:"keys"`
	// TTL is the lifetime of an issued session. Default 5m.
	TTL time.Duration `yaml:"ttl"`
}

// Compat holds legacy-client compatibility modes (see docs/compat.md).
type Compat struct {
	// MD5ETags is the ETag contract legacy clients check (docs/compat.md,
	// "ETags"): successful PutObject and UploadPart answers carry the hex
	// MD5 of the uploaded payload (see PayloadMD5), every other ETag S3
	// Express returns (HEAD, GET, listings, CopyObject,
	// CompleteMultipartUpload, ListParts) reaches the client marked as
	// not-an-MD5 ("<etag>-s3x"), and marked
	// ETags are mapped back in If-Match, If-None-Match, the copy-source
	// conditions and CompleteMultipartUpload part lists. false restores
	// pure pass-through of S3's ETags. Default true.
	MD5ETags *bool `yaml:"md5_etags"`
	// PayloadMD5 chooses which PutObject and UploadPart answers carry the
	// payload's MD5 under md5_etags: "declared" answers the client's own
	// Content-MD5 (which the proxy verifies anyway) and marks S3's ETag
	// when the client sent none; "always" also hashes every payload sent
	// without one, at about 1.6 CPU-seconds per GiB (docs/compat.md).
	// Default "declared".
	PayloadMD5 string `yaml:"payload_md5"`
	// MaxListPagesPerRequest bounds the upstream ListObjectsV2 pages one
	// emulated listing (ListObjects V1, or a prefix directory buckets
	// refuse, filtered by the proxy) may fetch for one client request; when
	// it is reached the client gets a truncated page whose NextMarker or
	// continuation token resumes exactly there. A limit, not a mode: on by
	// default. Default 10 (10,000 upstream entries of 1000-key pages).
	MaxListPagesPerRequest int `yaml:"max_list_pages_per_request"`
}

// LocalCredential is one legacy client key.
type LocalCredential struct {
	AccessKeyID     string   `yaml:"access_key_id"`
	SecretAccessKey string   `yaml:"secret_access_key"`
	Buckets         []string `yaml:"buckets"` // globs over alias or real names; default none
	Access          string   `yaml:"access"`  // read | read-write (default read)
	// CreateBuckets lets this key create and delete buckets under
	// buckets.default_zone. Default false.
	CreateBuckets bool `yaml:"create_buckets"`
}

// ByteSize is a size in bytes that YAML may write as 8MiB, 512KiB, 1GB or 1024.
// See ParseByteSize for the accepted units.
type ByteSize int64
