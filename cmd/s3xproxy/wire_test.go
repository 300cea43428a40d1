package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/config"
	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/session"
)

func parseConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

const wireConfig = `
server: {virtual_host_domains: [s3.local], body_idle_timeout: 7s}
log: {access_log: false}
upstream:
  region: us-east-1
  zones: {usw2-az1: us-west-2}
  credentials: {access_key_id: AKIDUP, secret_access_key: upsecret, session_token: uptoken}
  fips: true
  dualstack: true
  scheme: http
  dial_address: 127.0.0.1:1
buckets:
  default: deny
  allow: [data--usw2-az1--x-s3]
  default_zone: usw2-az1
  aliases:
    - {name: logs, target: logs--usw2-az1--x-s3, anonymous: read}
    - {name: priv, target: priv--usw2-az1--x-s3}
    - {name: open, target: open--usw2-az1--x-s3, anonymous: read-write}
    - {name: shut, target: shut--usw2-az1--x-s3, anonymous: deny}
sessions: {mode: readwrite, refresh_before: 30s, max_entries: 7, idle_ttl: 1m, create_rate: 2.5,
           create_burst: 3, create_wait: 1s, failure_ttl: 4s, create_timeout: 6s,
           create_rate_per_identity: 1.5, create_burst_per_identity: 2, negative_ttl: 20s}
retry: {replay_buffer: 1MiB, replay_budget: 3MiB}
auth:
  anonymous: read
  max_clock_skew: 1m
  sigv2: false
  local_sessions:
    keys: [c2Vzc2lvbi1rZXktZm9yLXRoZS1leGFtcGxlLTMyYnl0ZXM=, 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f]
    ttl: 2m
  credentials:
    - {access_key_id: K1, secret_access_key: s1, buckets: [logs, "data-*"], access: read-write, create_buckets: true}
    - {access_key_id: K2, secret_access_key: s2}
    - {access_key_id: K3, secret_access_key: s3, access: deny}
compat: {md5_etags: false, payload_md5: always, max_list_pages_per_request: 4}
`

func TestProxyOptionsMapping(t *testing.T) {
	o, err := proxyOptions(parseConfig(t, wireConfig), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"VirtualHostDomains", o.VirtualHostDomains, []string{"s3.local"}},
		{"Region", o.Region, "us-east-1"},
		{"Zones", o.Zones, map[string]string{"usw2-az1": "us-west-2"}},
		{"FIPS", o.FIPS, true},
		{"Dualstack", o.Dualstack, true},
		{"Scheme", o.Scheme, "http"},
		{"DNSSuffix", o.DNSSuffix, "amazonaws.com"},
		{"DenyUnlisted", o.DenyUnlisted, true},
		{"Allow", o.Allow, []string{"data--usw2-az1--x-s3"}},
		{"DefaultZone", o.DefaultZone, "usw2-az1"},
		{"Aliases", o.Aliases, []proxy.Alias{
			{Name: "logs", Target: "logs--usw2-az1--x-s3", Anonymous: proxy.AccessRead, AnonymousSet: true},
			{Name: "priv", Target: "priv--usw2-az1--x-s3"},
			{Name: "open", Target: "open--usw2-az1--x-s3", Anonymous: proxy.AccessReadWrite, AnonymousSet: true},
			{Name: "shut", Target: "shut--usw2-az1--x-s3", Anonymous: proxy.AccessNone, AnonymousSet: true},
		}},
		{"Sessions", o.Sessions, session.Options{RefreshBefore: 30 * time.Second, MaxEntries: 7, IdleTTL: time.Minute,
			CreateRate: 2.5, CreateBurst: 3, CreateWait: time.Second, FailureTTL: 4 * time.Second, CreateTimeout: 6 * time.Second,
			CreateRatePerClient: 1.5, CreateBurstPerClient: 2, NegativeTTL: 20 * time.Second}},
		{"SessionMode", o.SessionMode, "readwrite"},
		{"ReplayBuffer", o.ReplayBuffer, int64(1 << 20)},
		{"ReplayBudget", o.ReplayBudget.Limit(), int64(3 << 20)},
		{"BodyIdleTimeout", o.BodyIdleTimeout, 7 * time.Second},
		{"Anonymous", o.Anonymous, proxy.AccessRead},
		{"MaxClockSkew", o.MaxClockSkew, time.Minute},
		{"SigV2", o.SigV2, false},
		{"LocalSessionTTL", o.LocalSessionTTL, 2 * time.Minute},
		{"LocalSessionKeys", o.LocalSessionKeys, [][]byte{[]byte("session-key-for-the-example-32bytes"),
			{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}}},
		{"AccessLog", o.AccessLog, false},
		{"PassthroughETags", o.PassthroughETags, true},
		{"AlwaysMD5ETags", o.AlwaysMD5ETags, true},
		{"Lister", o.Lister, compat.ListerOptions{MaxPages: 4}},
		{"Credentials", o.Credentials, []proxy.Credential{
			{AccessKeyID: "K1", SecretAccessKey: "s1", Buckets: []string{"logs", "data-*"}, Access: proxy.AccessReadWrite, CreateBuckets: true},
			{AccessKeyID: "K2", SecretAccessKey: "s2", Access: proxy.AccessRead},
			{AccessKeyID: "K3", SecretAccessKey: "s3", Access: proxy.AccessNone},
		}},
		{"Transport is set", o.Transport != nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	t.Run("UpstreamCredentials static", func(t *testing.T) {
		c, err := o.UpstreamCredentials.Retrieve(context.Background())
		if err != nil || c.AccessKeyID != "AKIDUP" || c.SecretAccessKey != "upsecret" || c.SessionToken != "uptoken" {
			t.Errorf("got %+v, %v", c, err)
		}
	})
}

// TestSessionOptionsZeroMeansNone: the config's documented "create_wait:
// 0s" (never wait) and "failure_ttl: 0" (cache no failure) reach the
// session cache as "none", not as its defaults.
func TestSessionOptionsZeroMeansNone(t *testing.T) {
	o := sessionOptions(parseConfig(t, "upstream: {region: us-west-2}\nsessions: {create_wait: 0s, failure_ttl: 0}").Sessions)
	if o.CreateWait >= 0 || o.FailureTTL >= 0 {
		t.Errorf("CreateWait %v, FailureTTL %v: want negative (none)", o.CreateWait, o.FailureTTL)
	}
	o = sessionOptions(parseConfig(t, "upstream: {region: us-west-2}").Sessions)
	if o.CreateWait != 2*time.Second || o.FailureTTL != 5*time.Second {
		t.Errorf("defaults: CreateWait %v, FailureTTL %v, want 2s, 5s", o.CreateWait, o.FailureTTL)
	}
}

func TestProxyOptionsDefaults(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	o, err := proxyOptions(parseConfig(t, "upstream: {region: us-west-2}"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if o.DenyUnlisted || o.Anonymous != proxy.AccessNone || !o.SigV2 || !o.AccessLog ||
		o.SessionMode != "auto" || o.ReplayBuffer != 8<<20 || o.Scheme != "https" || o.PassthroughETags || o.AlwaysMD5ETags ||
		o.ReplayBudget.Limit() != 64<<20 || o.BodyIdleTimeout != 30*time.Second || o.DefaultZone != "" {
		t.Errorf("unexpected defaults: %+v", o)
	}
	// 0 in the config means "off", which Options spell as -1 (0 is "default").
	off, err := proxyOptions(parseConfig(t, "upstream: {region: us-west-2}\nserver: {body_idle_timeout: 0s}\nretry: {replay_buffer: 0, replay_budget: 0}"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if off.ReplayBuffer != -1 || off.BodyIdleTimeout != -1 || off.ReplayBudget.Limit() != 0 {
		t.Errorf("zeros: ReplayBuffer %d BodyIdleTimeout %v ReplayBudget %d, want -1, -1ns, 0", off.ReplayBuffer, off.BodyIdleTimeout, off.ReplayBudget.Limit())
	}
	c, err := o.UpstreamCredentials.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIDENV" {
		t.Errorf("default chain from env: got %+v, %v", c, err)
	}
}

func TestParseAccess(t *testing.T) {
	tests := []struct {
		in   string
		want proxy.Access
		ok   bool
	}{
		{"read", proxy.AccessRead, true},
		{"read-write", proxy.AccessReadWrite, true},
		{"deny", proxy.AccessNone, true},
		{"", proxy.AccessNone, true},
		{"write", proxy.AccessNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseAccess(tt.in)
			if got != tt.want || (err == nil) != tt.ok {
				t.Errorf("parseAccess(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

// TestTransportDialAddress proves every upstream connection goes to
// dial_address while the URL host stays in the Host header.
func TestTransportDialAddress(t *testing.T) {
	var gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		io.WriteString(w, "hi")
	}))
	defer srv.Close()
	tr, err := upstreamTransport(&config.Upstream{DialAddress: srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	const host = "b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com"
	resp, err := (&http.Client{Transport: tr}).Get("http://" + host + "/key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotHost != host {
		t.Errorf("Host = %q, want %q", gotHost, host)
	}
	if tr.TLSClientConfig.MinVersion != 0x0303 || tr.MaxIdleConnsPerHost != 256 || !tr.DisableCompression {
		t.Errorf("transport not tuned: %+v", tr)
	}
}

// TestTransportCAFile checks upstream.ca_file: the httptest certificate
// (valid for example.com) is trusted only when its PEM is configured.
func TestTransportCAFile(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing case logs a handshake error
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(notPEM, []byte("nope"), 0o600)
	tests := []struct {
		name, caFile string
		wantBuildErr bool
		wantOK       bool
	}{
		{"with ca_file", caFile, false, true},
		{"system roots only", "", false, false},
		{"not PEM", notPEM, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := upstreamTransport(&config.Upstream{DialAddress: srv.Listener.Addr().String(), CAFile: tt.caFile})
			if (err != nil) != tt.wantBuildErr {
				t.Fatalf("build err = %v", err)
			}
			if err != nil {
				return
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("https://example.com/")
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != tt.wantOK {
				t.Errorf("request err = %v, want ok=%v", err, tt.wantOK)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name   string
		cfg    config.Log
		want   []string
		absent []string
	}{
		{"json info drops debug", config.Log{Level: "info", Format: "json"},
			[]string{`"level":"info"`, `"message":"shown"`, `"time":`}, []string{"hidden"}},
		{"json debug", config.Log{Level: "debug", Format: "json"}, []string{"hidden", "shown"}, nil},
		{"console", config.Log{Level: "info", Format: "console"}, []string{"INF", "shown"}, []string{"{", "hidden"}},
		{"disabled", config.Log{Level: "disabled"}, nil, []string{"shown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := newLogger(tt.cfg, &buf)
			l.Debug().Msg("hidden")
			l.Info().Msg("shown")
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output %q lacks %q", buf.String(), w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(buf.String(), a) {
					t.Errorf("output %q has %q", buf.String(), a)
				}
			}
		})
	}
}

// isolateAWSEnv points the AWS SDK at empty shared files and away from
// IMDS and every ambient credential, so tests see only what they set.
func isolateAWSEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

const assumeRoleResponse = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAASSUMED</AccessKeyId>
      <SecretAccessKey>assumedsecret</SecretAccessKey>
      <SessionToken>assumedtoken</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s3xproxy</Arn><AssumedRoleId>AROA1:s3xproxy</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`

// TestUpstreamCredentials resolves each credential source against local
// files and a loopback STS; no AWS is reached.
func TestUpstreamCredentials(t *testing.T) {
	dir := isolateAWSEnv(t)
	os.WriteFile(filepath.Join(dir, "credentials"), []byte(
		"[team]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profilesecret\n"), 0o600)
	var stsForm url.Values
	var stsAuth string
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		stsForm, stsAuth = r.PostForm, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, assumeRoleResponse)
	}))
	defer sts.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	const role = "arn:aws:iam::123456789012:role/s3xproxy"
	tests := []struct {
		name       string
		creds      config.Credentials
		wantKey    string
		wantSigner string // access key that signed the AssumeRole call
		wantErr    bool
	}{
		{"static", config.Credentials{AccessKeyID: "AKIDSTATIC", SecretAccessKey: "s"}, "AKIDSTATIC", "", false},
		{"profile", config.Credentials{Profile: "team"}, "AKIDPROFILE", "", false},
		{"unknown profile", config.Credentials{Profile: "nope"}, "", "", true},
		{"role over static", config.Credentials{AccessKeyID: "AKIDSRC", SecretAccessKey: "s", RoleARN: role}, "ASIAASSUMED", "AKIDSRC", false},
		{"role over profile", config.Credentials{Profile: "team", RoleARN: role}, "ASIAASSUMED", "AKIDPROFILE", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stsForm, stsAuth = nil, ""
			p, err := upstreamCredentials(context.Background(), &config.Upstream{Region: "us-west-2", Credentials: tt.creds})
			if err == nil {
				var c struct{ AccessKeyID string }
				got, rerr := p.Retrieve(context.Background())
				c.AccessKeyID, err = got.AccessKeyID, rerr
				if err == nil && c.AccessKeyID != tt.wantKey {
					t.Errorf("access key = %q, want %q", c.AccessKeyID, tt.wantKey)
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantSigner != "" {
				if stsForm.Get("RoleArn") != role || stsForm.Get("RoleSessionName") != "s3xproxy" ||
					!strings.Contains(stsAuth, "Credential="+tt.wantSigner+"/") {
					t.Errorf("AssumeRole call: form %v auth %q", stsForm, stsAuth)
				}
			} else if stsForm != nil {
				t.Errorf("unexpected STS call: %v", stsForm)
			}
		})
	}
}

// TestTransportPool: the upstream pool sizes and timeouts of the config
// reach the transport, and the transport behaves by them on real sockets.
func TestTransportPool(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		tr, err := upstreamTransport(&parseConfig(t, "upstream: {region: us-west-2}").Upstream)
		if err != nil {
			t.Fatal(err)
		}
		got := []any{tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout, tr.ResponseHeaderTimeout}
		if want := []any{1024, 256, 90 * time.Second, 5 * time.Minute}; !reflect.DeepEqual(got, want) {
			t.Errorf("pool %v, want %v", got, want)
		}
	})
	t.Run("response_header_timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
		}))
		defer srv.Close()
		for _, tt := range []struct {
			timeout string
			fails   bool
		}{{"50ms", true}, {"0s", false}} {
			cfg := parseConfig(t, "upstream: {region: us-west-2, dial_address: \""+srv.Listener.Addr().String()+
				"\", response_header_timeout: "+tt.timeout+"}")
			tr, err := upstreamTransport(&cfg.Upstream)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: tr}).Get("http://b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com/k")
			if err == nil {
				resp.Body.Close()
			}
			if failed := err != nil; failed != tt.fails || (failed && !strings.Contains(err.Error(), "timeout awaiting response headers")) {
				t.Errorf("response_header_timeout %s: err %v, want failure %v", tt.timeout, err, tt.fails)
			}
			tr.CloseIdleConnections()
		}
	})
	t.Run("max_idle_conns_per_host", func(t *testing.T) {
		// Two requests in flight at once need two connections; with one
		// idle slot per host the transport closes the second when done.
		arrived := make(chan struct{}, 2)
		release := make(chan struct{})
		closed := make(chan struct{}, 2)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-release
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				closed <- struct{}{}
			}
		}
		srv.Start()
		defer srv.Close()
		cfg := parseConfig(t, "upstream: {region: us-west-2, dial_address: \""+srv.Listener.Addr().String()+
			"\", max_idle_conns: 4, max_idle_conns_per_host: 1}")
		tr, err := upstreamTransport(&cfg.Upstream)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.CloseIdleConnections()
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				resp, err := (&http.Client{Transport: tr}).Get("http://b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com/k")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				errs <- err
			}()
		}
		<-arrived
		<-arrived
		close(release)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("no connection closed: the second one was kept idle")
		}
		select {
		case <-closed:
			t.Fatal("both connections closed: none was kept idle")
		case <-time.After(200 * time.Millisecond):
		}
	})
}
