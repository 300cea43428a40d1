package e2e

import (
	"bytes"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// Tests of the stateless (sealed) local sessions between proxies, and of
// anonymous callers' CreateSession. The two-process test with real
// `s3xproxy serve` replicas is cmd/s3xproxy/replicas_test.go.

// sealKeys are LocalSessionKeys shared by the proxies of a test.
var (
	sealKeyA = bytes.Repeat([]byte{0xa1}, 32)
	sealKeyB = bytes.Repeat([]byte{0xb2}, 32)
)

// secondProxy serves another proxy.New over e's emulator, with e's
// defaults edited by edit (the same local credentials unless changed), as
// another replica or the same process after a reload would.
func secondProxy(t *testing.T, e *env, edit func(*proxy.Options)) string {
	t.Helper()
	opts := proxy.Options{
		Region:              "us-west-2",
		Scheme:              "http",
		Transport:           dialTo(e.emu.Addr()),
		UpstreamCredentials: credentials.NewStaticCredentialsProvider(iamKey, iamSecret, ""),
		Aliases:             []proxy.Alias{{Name: aliasData, Target: bucketData}},
		Credentials: []proxy.Credential{
			{AccessKeyID: rwKey, SecretAccessKey: rwSecret, Buckets: []string{"*"}, Access: proxy.AccessReadWrite},
			{AccessKeyID: roKey, SecretAccessKey: roSecret, Buckets: []string{"*"}, Access: proxy.AccessRead},
		},
		LocalSessionKeys: [][]byte{sealKeyA},
	}
	edit(&opts)
	p, err := proxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); _ = p.Close() })
	return srv.URL
}

// TestLocalSessionAcrossProxies: a session issued by one proxy is valid
// on every proxy with the same keys and the issuing credential, checked
// against that proxy's own (current) configuration.
func TestLocalSessionAcrossProxies(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.LocalSessionKeys = [][]byte{sealKeyA} }})
	now := time.Now()
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, bucketData, "across/k", []byte("across"))
	_, code, s := createLocalSession(t, e, rwKey, rwSecret, bucketData, "", now)
	if code != "" {
		t.Fatalf("CreateSession: %s", code)
	}
	_, code, ro := createLocalSession(t, e, rwKey, rwSecret, bucketData, "ReadOnly", now)
	if code != "" {
		t.Fatalf("CreateSession ReadOnly: %s", code)
	}
	const obj = "/" + bucketData + "/across/k"
	tests := []struct {
		name   string
		edit   func(*proxy.Options)
		sess   sessionCreds
		method string
		status int
		code   string
	}{
		{"same keys", func(*proxy.Options) {}, s, "GET", 200, ""},
		{"same keys, write", func(*proxy.Options) {}, s, "PUT", 200, ""},
		{"ReadOnly session writes", func(*proxy.Options) {}, ro, "PUT", 403, "AccessDenied"},
		{"rotated [new, old]", func(o *proxy.Options) { o.LocalSessionKeys = [][]byte{sealKeyB, sealKeyA} }, s, "GET", 200, ""},
		{"old key dropped", func(o *proxy.Options) { o.LocalSessionKeys = [][]byte{sealKeyB} }, s, "GET", 403, "InvalidAccessKeyId"},
		{"no keys (random)", func(o *proxy.Options) { o.LocalSessionKeys = nil }, s, "GET", 403, "InvalidAccessKeyId"},
		{"credential removed", func(o *proxy.Options) { o.Credentials = o.Credentials[1:] }, s, "GET", 403, "InvalidAccessKeyId"},
		{"credential secret rotated", func(o *proxy.Options) { o.Credentials[0].SecretAccessKey = "rotated" }, s, "GET", 403, "InvalidAccessKeyId"},
		{"credential now read-only", func(o *proxy.Options) { o.Credentials[0].Access = proxy.AccessRead }, s, "PUT", 403, "AccessDenied"},
		{"credential now read-only, read", func(o *proxy.Options) { o.Credentials[0].Access = proxy.AccessRead }, s, "GET", 200, ""},
		{"bucket no longer allowed", func(o *proxy.Options) { o.Credentials[0].Buckets = []string{"other*"} }, s, "GET", 403, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := secondProxy(t, e, tt.edit)
			var body []byte
			if tt.method == "PUT" {
				body = []byte("across")
			}
			status, got, _ := do(t, sessionRequest(t, tt.method, base+obj, tt.sess, tt.sess.SessionToken, body, now))
			if status != tt.status || s3Code(got) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(got), tt.status, tt.code, got)
			}
		})
	}
}

// TestAnonymousCreateSessionTyped: an anonymous caller is recognised by
// its type, not by the name "anonymous": with a configured credential
// whose access key id is literally "anonymous", an unsigned CreateSession
// still gets 403 AccessDenied, not a session with that credential's rights.
func TestAnonymousCreateSessionTyped(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Credentials = append(o.Credentials, proxy.Credential{AccessKeyID: "anonymous",
			SecretAccessKey: "e2eNamedAnonymousSecret00000000000000001", Buckets: []string{"*"}, Access: proxy.AccessReadWrite})
		o.Anonymous = proxy.AccessRead
	}})
	e.emu.ResetStats()
	for _, path := range []string{"/" + bucketData + "?session", "/" + aliasData + "?session"} {
		status, body, _ := do(t, anonymous(t, "GET", e.url(path)))
		if status != 403 || s3Code(body) != "AccessDenied" || bytes.Contains(body, []byte("SessionToken")) {
			t.Fatalf("anonymous GET %s: %d %s, want 403 AccessDenied and no credentials", path, status, body)
		}
	}
	// The credential itself still gets its sessions.
	if _, code, _ := createLocalSession(t, e, "anonymous", "e2eNamedAnonymousSecret00000000000000001", bucketData, "", time.Now()); code != "" {
		t.Fatalf("CreateSession signed by the credential named anonymous: %s", code)
	}
	if st := e.emu.Stats(); total(st.Requests) != 0 {
		t.Fatalf("CreateSession reached the emulator: %v", st.Requests)
	}
}

// TestAnonymousSessionFlood: 10,050 anonymous CreateSession calls (more
// than the old in-memory store held) are all refused and leave a
// legitimate session working: nothing is stored per session.
func TestAnonymousSessionFlood(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Aliases = append(o.Aliases, proxy.Alias{Name: "public", Target: bucketData, Anonymous: proxy.AccessRead, AnonymousSet: true})
		o.AccessLog = false
	}})
	now := time.Now()
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, bucketData, "flood/k", []byte("still here"))
	_, code, s := createLocalSession(t, e, rwKey, rwSecret, bucketData, "", now)
	if code != "" {
		t.Fatalf("CreateSession: %s", code)
	}
	// The proxy handler is called directly (no sockets): the flood is
	// about what the proxy keeps, and 10,050 requests over loopback take
	// seconds under the race detector.
	const n, workers = 10050, 4
	var next, refused atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				rec := httptest.NewRecorder()
				e.proxy.ServeHTTP(rec, httptest.NewRequest("GET", "/public?session", nil))
				if rec.Code == 403 {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	status, body, _ := do(t, sessionRequest(t, "GET", e.url("/"+bucketData+"/flood/k"), s, s.SessionToken, nil, now))
	if status != 200 || string(body) != "still here" {
		t.Fatalf("legitimate session after the flood: %d %s", status, body)
	}
	if refused.Load() != n {
		t.Fatalf("%d of %d anonymous CreateSession calls refused, want all", refused.Load(), n)
	}
}
