// Package e2e runs real S3 clients against s3xproxy in front of the
// emulator: client → httptest.Server(proxy.New) → emulator. The emulator's
// stats are the proof of what reached "S3".
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// Fixed test identities. The secrets are grepped for in the captured logs.
const (
	iamKey    = "AKIAE2EUPSTREAM00001"
	iamSecret = "e2eUpstreamIAMSecretKey0000000000000000001"
	rwKey     = "E2ELOCALRW0000000001"
	rwSecret  = "e2eLocalReadWriteSecret000000000000000001"
	roKey     = "E2ELOCALRO0000000001"
	roSecret  = "e2eLocalReadOnlySecret0000000000000000001"
	// narrowKey may only use the "data" alias.
	narrowKey    = "E2ELOCALNARROW000001"
	narrowSecret = "e2eLocalNarrowSecret000000000000000000001"

	bucketData  = "data--usw2-az1--x-s3"
	bucketOther = "other--usw2-az1--x-s3"
	aliasData   = "data"
	region      = "us-east-1" // what clients sign with; the proxy does not care
)

// env is one proxy in front of one emulator.
type env struct {
	t     testing.TB
	emu   *emulator.Emulator
	proxy *proxy.Proxy
	srv   *httptest.Server
	logs  *lockedBuffer
	recs  *recorder
	spy   *spy
}

// envConfig adjusts the defaults of newEnv. The proxy starts from the
// options the default configuration maps to (cmd/s3xproxy/wire.go,
// TestProxyOptionsDefaults) wherever a client can tell: auth.sigv2 is on
// (SigV2 true), the ETag contract with declared MD5s (the zero values),
// compat's listing defaults (zero Lister); the bucket and identity set-up
// is the harness's own.
type envConfig struct {
	emu   emulator.Options
	proxy func(*proxy.Options)
	// proxyEnv, if set, runs after proxy and sees the emulator.
	proxyEnv func(*env, *proxy.Options)
}

// newEnv starts an emulator with buckets data and other, and a proxy with
// three local identities in front of it, both closed by t.Cleanup.
func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	eo := cfg.emu
	eo.Credentials = map[string]string{iamKey: iamSecret}
	if eo.Buckets == nil {
		eo.Buckets = []string{bucketData, bucketOther}
	}
	e := &env{t: t, emu: emulator.Start(t, eo), logs: &lockedBuffer{}, recs: &recorder{}, spy: &spy{}}
	opts := proxy.Options{
		Region:              "us-west-2",
		Scheme:              "http",
		Transport:           &spyTransport{s: e.spy, next: dialTo(e.emu.Addr())},
		UpstreamCredentials: credentials.NewStaticCredentialsProvider(iamKey, iamSecret, ""),
		Aliases:             []proxy.Alias{{Name: aliasData, Target: bucketData}},
		Credentials: []proxy.Credential{
			{AccessKeyID: rwKey, SecretAccessKey: rwSecret, Buckets: []string{"*"}, Access: proxy.AccessReadWrite},
			{AccessKeyID: roKey, SecretAccessKey: roSecret, Buckets: []string{"*"}, Access: proxy.AccessRead},
			{AccessKeyID: narrowKey, SecretAccessKey: narrowSecret, Buckets: []string{aliasData}, Access: proxy.AccessReadWrite},
		},
		SigV2:     true, // auth.sigv2 defaults to true
		Logger:    zerolog.New(e.logs).Level(zerolog.DebugLevel),
		AccessLog: true,
		Observer:  e.recs,
	}
	if eo.Now != nil {
		opts.Now = eo.Now
	}
	if cfg.proxy != nil {
		cfg.proxy(&opts)
	}
	if cfg.proxyEnv != nil {
		cfg.proxyEnv(e, &opts)
	}
	p, err := proxy.New(opts)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	e.proxy = p
	e.srv = httptest.NewUnstartedServer(e.spy.handler(p))
	e.srv.Config.MaxHeaderBytes = 16 << 10
	e.srv.Config.ReadHeaderTimeout = 10 * time.Second
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		_ = p.Close()
	})
	return e
}

// dialTo is an upstream transport that dials addr whatever the host, so the
// Zonal host names reach the emulator; Host stays the Zonal host.
func dialTo(addr string) *http.Transport {
	tr := proxy.DefaultTransport()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

// url is the proxy URL of a path (already escaped).
func (e *env) url(path string) string { return e.srv.URL + path }

// lockedBuffer collects all log output, safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder keeps every proxy.Record.
type recorder struct {
	mu   sync.Mutex
	recs []proxy.Record
}

func (r *recorder) ObserveRequest(rec *proxy.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, *rec)
}

func (r *recorder) all() []proxy.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]proxy.Record(nil), r.recs...)
}

// signedRequest builds a raw request to the proxy signed with SigV4 (the
// SDK's signer as an independent oracle) at time at, payload hash declared
// as the hex SHA-256 of body unless hdr sets X-Amz-Content-Sha256.
func signedRequest(t testing.TB, method, url, key, secret string, body []byte, at time.Time, hdr http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	return signedRequestFrom(t, req, key, secret, body, at)
}

// signedRequestFrom sets body on req and signs it (see signedRequest).
func signedRequestFrom(t testing.TB, req *http.Request, key, secret string, body []byte, at time.Time) *http.Request {
	t.Helper()
	setBody(req, body)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h := req.Header.Get("X-Amz-Content-Sha256"); h != "" {
		hash = h
	} else {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, req, hash, "s3", region, at); err != nil {
		t.Fatal(err)
	}
	return req
}

// setBody replaces req's body (nil: no body).
func setBody(req *http.Request, body []byte) {
	if body == nil {
		req.Body, req.ContentLength, req.GetBody = http.NoBody, 0, nil
		return
	}
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// do sends req and returns status, body and headers.
func do(t testing.TB, req *http.Request) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, b, resp.Header
}

// s3Code extracts <Code> from an S3 XML error body.
func s3Code(b []byte) string {
	s := string(b)
	i := strings.Index(s, "<Code>")
	j := strings.Index(s, "</Code>")
	if i < 0 || j < i {
		return ""
	}
	return s[i+6 : j]
}

// total sums a stats map.
func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}
