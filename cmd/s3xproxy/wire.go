package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/config"
	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/session"
)

// credentialsLoadTimeout bounds loading the AWS shared config at startup.
// Resolving the credentials themselves is lazy (first CreateSession).
const credentialsLoadTimeout = 30 * time.Second

// proxyOptions maps a validated config onto proxy.Options: routing, bucket
// policy, sessions, local auth, the upstream transport and the upstream IAM
// credentials provider. It does not contact AWS (credential providers
// resolve lazily), so it is cheap enough for a reload. Observer, Now and
// Sessions.Observer are left for the caller (metrics, tests), and so is a
// LocalSessionKeys default when the config has none (app.sessionKeys).
func proxyOptions(cfg *config.Config, logger zerolog.Logger) (proxy.Options, error) {
	transport, err := upstreamTransport(&cfg.Upstream)
	if err != nil {
		return proxy.Options{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), credentialsLoadTimeout)
	defer cancel()
	creds, err := upstreamCredentials(ctx, &cfg.Upstream)
	if err != nil {
		return proxy.Options{}, err
	}
	aliases, err := proxyAliases(cfg.Buckets.Aliases)
	if err != nil {
		return proxy.Options{}, err
	}
	locals, err := localCredentials(cfg.Auth.Credentials)
	if err != nil {
		return proxy.Options{}, err
	}
	anon, err := parseAccess(cfg.Auth.Anonymous)
	if err != nil {
		return proxy.Options{}, fmt.Errorf("auth.anonymous: %w", err)
	}
	sessionKeys, err := cfg.Auth.LocalSessions.SessionKeys()
	if err != nil {
		return proxy.Options{}, err
	}
	return proxy.Options{
		VirtualHostDomains:  cfg.Server.VirtualHostDomains,
		Region:              cfg.Upstream.Region,
		Zones:               cfg.Upstream.Zones,
		FIPS:                cfg.Upstream.FIPS,
		Dualstack:           cfg.Upstream.Dualstack,
		Scheme:              cfg.Upstream.Scheme,
		DNSSuffix:           cfg.Upstream.DNSSuffix,
		Transport:           transport,
		UpstreamCredentials: creds,
		DenyUnlisted:        cfg.Buckets.Default == "deny",
		Allow:               cfg.Buckets.Allow,
		Aliases:             aliases,
		DefaultZone:         cfg.Buckets.DefaultZone,
		Sessions:            sessionOptions(cfg.Sessions),
		SessionMode:         cfg.Sessions.Mode,
		ReplayBuffer:        orDisabled(int64(cfg.Retry.ReplayBuffer)),
		ReplayBudget:        proxy.NewReplayBudget(int64(cfg.Retry.ReplayBudget)),
		BodyIdleTimeout:     orDisabled(cfg.Server.BodyIdleTimeout),
		Anonymous:           anon,
		MaxClockSkew:        cfg.Auth.MaxClockSkew,
		SigV2:               cfg.Auth.SigV2 == nil || *cfg.Auth.SigV2,
		Credentials:         locals,
		LocalSessionTTL:     cfg.Auth.LocalSessions.TTL,
		LocalSessionKeys:    sessionKeys,
		PassthroughETags:    cfg.Compat.MD5ETags != nil && !*cfg.Compat.MD5ETags,
		AlwaysMD5ETags:      cfg.Compat.PayloadMD5 == "always",
		Lister:              compat.ListerOptions{MaxPages: cfg.Compat.MaxListPagesPerRequest},
		Logger:              logger,
		AccessLog:           cfg.Log.AccessLog == nil || *cfg.Log.AccessLog,
	}, nil
}

// orDisabled maps the config's 0 ("off") onto the Options' -1: a zero
// Options field means "default".
func orDisabled[T int | int64 | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// sessionOptions maps sessions.* onto the session cache options.
func sessionOptions(s config.Sessions) session.Options {
	return session.Options{
		RefreshBefore: s.RefreshBefore,
		MaxEntries:    s.MaxEntries,
		IdleTTL:       s.IdleTTL,
		CreateRate:    s.CreateRate,
		CreateBurst:   s.CreateBurst,
		CreateWait:    orDisabled(s.CreateWait),
		FailureTTL:    orDisabled(s.FailureTTL),
		CreateTimeout: s.CreateTimeout,

		CreateRatePerClient:  s.CreateRatePerIdentity,
		CreateBurstPerClient: s.CreateBurstPerIdentity,
		NegativeTTL:          s.NegativeTTL,
	}
}

// parseAccess maps the config's access words onto proxy.Access.
func parseAccess(s string) (proxy.Access, error) {
	switch s {
	case "read":
		return proxy.AccessRead, nil
	case "read-write":
		return proxy.AccessReadWrite, nil
	case "deny", "":
		return proxy.AccessNone, nil
	}
	return proxy.AccessNone, fmt.Errorf("unknown access %q", s)
}

func proxyAliases(in []config.Alias) ([]proxy.Alias, error) {
	out := make([]proxy.Alias, 0, len(in))
	for i, a := range in {
		pa := proxy.Alias{Name: a.Name, Target: a.Target}
		if a.Anonymous != "" {
			acc, err := parseAccess(a.Anonymous)
			if err != nil {
				return nil, fmt.Errorf("buckets.aliases[%d].anonymous: %w", i, err)
			}
			pa.Anonymous, pa.AnonymousSet = acc, true
		}
		out = append(out, pa)
	}
	return out, nil
}

func localCredentials(in []config.LocalCredential) ([]proxy.Credential, error) {
	out := make([]proxy.Credential, 0, len(in))
	for i, c := range in {
		acc, err := parseAccess(c.Access)
		if err != nil {
			return nil, fmt.Errorf("auth.credentials[%d].access: %w", i, err)
		}
		out = append(out, proxy.Credential{
			AccessKeyID:     c.AccessKeyID,
			SecretAccessKey: c.SecretAccessKey,
			Buckets:         c.Buckets,
			Access:          acc,
			CreateBuckets:   c.CreateBuckets,
		})
	}
	return out, nil
}

// upstreamTransport builds the one transport for every upstream request:
// proxy.DefaultTransport (HTTP/1.1, no transparent gzip, 100-continue
// honoured) with the upstream section's pool sizes and timeouts, plus
// HTTPS_PROXY from the environment, TLS 1.2 minimum with extra roots from
// upstream.ca_file, and, when upstream.dial_address is set, every connection
// dialled there whatever the URL's host (the Host header and TLS server name
// stay the Zonal host).
func upstreamTransport(u *config.Upstream) (*http.Transport, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if u.CAFile != "" {
		pool, err := rootsWith(u.CAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream.ca_file: %w", err)
		}
		tlsConf.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := proxy.DefaultTransport()
	// A validated config has all four; zero sizes (a config built in code)
	// keep DefaultTransport's, while a zero response header timeout is
	// the documented "no timeout".
	if u.MaxIdleConns > 0 {
		t.MaxIdleConns = u.MaxIdleConns
	}
	if u.MaxIdleConnsPerHost > 0 {
		t.MaxIdleConnsPerHost = u.MaxIdleConnsPerHost
	}
	if u.IdleConnTimeout > 0 {
		t.IdleConnTimeout = u.IdleConnTimeout
	}
	t.ResponseHeaderTimeout = u.ResponseHeaderTimeout
	t.Proxy = http.ProxyFromEnvironment
	t.DialContext = dialer.DialContext
	t.TLSClientConfig = tlsConf
	if addr := u.DialAddress; addr != "" {
		t.Proxy = nil // the dial address is the destination, never an HTTP proxy
		t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}
	}
	return t, nil
}

// rootsWith returns the system roots plus the PEM certificates in file.
func rootsWith(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates found", file)
	}
	return pool, nil
}

// upstreamCredentials returns the IAM credentials provider: static keys
// when upstream.credentials.access_key_id is set, else the AWS default chain
// (env, shared config with the optional profile, web identity/IRSA, ECS,
// IMDS); with role_arn, a cached AssumeRole on top of either. Nothing is
// fetched here.
func upstreamCredentials(ctx context.Context, u *config.Upstream) (aws.CredentialsProvider, error) {
	c := u.Credentials
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(u.Region)}
	if c.AccessKeyID != "" {
		static := credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		if c.RoleARN == "" {
			return static, nil
		}
		opts = append(opts, awsconfig.WithCredentialsProvider(static))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("upstream credentials: %w", err)
	}
	if awsCfg.Credentials == nil {
		return nil, errors.New("upstream credentials: no credential source found")
	}
	if c.RoleARN == "" {
		return awsCfg.Credentials, nil
	}
	p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "s3xproxy"
	})
	return aws.NewCredentialsCache(p), nil
}

// newLogger returns the process logger: JSON lines (or human console output
// without colour) on w, with a timestamp, at cfg.Level (info when empty or
// unknown; config validation rejects unknown levels).
func newLogger(cfg config.Log, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.Level)
	if err != nil || cfg.Level == "" {
		level = zerolog.InfoLevel
	}
	if cfg.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
