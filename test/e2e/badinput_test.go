package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// hostRecorder wraps the upstream transport and records every host the
// proxy asked it to reach.
type hostRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host+" "+r.Host)
	h.mu.Unlock()
	return h.next.RoundTrip(r)
}

// TestBadInput sends requests the proxy must refuse itself, each with a
// precise S3 error, and proves with the emulator's stats that none of them
// reached upstream.
func TestBadInput(t *testing.T) {
	e := newEnv(t, envConfig{})
	now := time.Now()
	objURL := e.url("/" + aliasData + "/bad/input")
	big := http.Header{"X-Big": {strings.Repeat("x", 12<<10)}}
	meta := http.Header{"X-Amz-Meta-Big": {strings.Repeat("m", 3<<10)}}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"wrong secret", signedRequest(t, "GET", objURL, rwKey, "not-the-secret", nil, now, nil), 403, "SignatureDoesNotMatch"},
		{"unknown key", signedRequest(t, "GET", objURL, "NOSUCHKEY00000000000", rwSecret, nil, now, nil), 403, "InvalidAccessKeyId"},
		{"skewed clock", signedRequest(t, "GET", objURL, rwKey, rwSecret, nil, now.Add(-time.Hour), nil), 403, "RequestTimeTooSkewed"},
		{"bucket not allowed", signedRequest(t, "GET", e.url("/"+bucketOther+"/k"), narrowKey, narrowSecret, nil, now, nil), 403, "AccessDenied"},
		{"copy from a bucket not allowed", signedRequest(t, "PUT", objURL, narrowKey, narrowSecret, nil, now,
			http.Header{"X-Amz-Copy-Source": {"/" + bucketOther + "/k"}}), 403, "AccessDenied"},
		{"copy source without a key", signedRequest(t, "PUT", objURL, rwKey, rwSecret, nil, now,
			http.Header{"X-Amz-Copy-Source": {"/" + bucketOther}}), 400, "InvalidArgument"},
		{"empty copy source", signedRequest(t, "PUT", objURL, rwKey, rwSecret, nil, now,
			http.Header{"X-Amz-Copy-Source": {""}}), 400, "InvalidArgument"},
		{"read-only key writes", signedRequest(t, "PUT", objURL, roKey, roSecret, []byte("x"), now, nil), 403, "AccessDenied"},
		{"invalid bucket name", signedRequest(t, "GET", e.url("/Bad_Bucket/k"), rwKey, rwSecret, nil, now, nil), 400, "InvalidBucketName"},
		{"bad zone id", signedRequest(t, "GET", e.url("/b--usaz1--x-s3/k"), rwKey, rwSecret, nil, now, nil), 400, "InvalidBucketName"},
		{"general purpose bucket", signedRequest(t, "GET", e.url("/some-bucket/k"), rwKey, rwSecret, nil, now, nil), 404, "NoSuchBucket"},
		{"anonymous denied", anonymous(t, "GET", objURL), 403, "AccessDenied"},
		{"oversize headers", signedRequest(t, "GET", objURL, rwKey, rwSecret, nil, now, big), 400, "RequestHeaderSectionTooLarge"},
		{"oversize metadata", signedRequest(t, "PUT", objURL, rwKey, rwSecret, []byte("x"), now, meta), 400, "MetadataTooLarge"},
	}
	e.emu.ResetStats()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, hdr := do(t, tt.req)
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
			if hdr.Get("Content-Type") != "application/xml" {
				t.Errorf("Content-Type %q, want application/xml", hdr.Get("Content-Type"))
			}
			id := hdr.Get("X-Amz-Request-Id")
			if len(id) != 16 || strings.ToUpper(id) != id || hdr.Get("X-Amz-Id-2") == "" {
				t.Errorf("request ids %q / %q", id, hdr.Get("X-Amz-Id-2"))
			}
			if !strings.Contains(string(body), "<RequestId>"+id+"</RequestId>") {
				t.Errorf("body does not carry the request id %s: %s", id, body)
			}
		})
	}
	st := e.emu.Stats()
	if n := total(st.Requests) + total(st.Rejections) + total(st.CreateSessions); n != 0 {
		t.Fatalf("refused requests reached the emulator: %+v", st)
	}
	assertNoSecretsLogged(t, e)
}

func anonymous(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHostHeaderNeverDialled: whatever Host a client sends, the proxy
// dials the Zonal host routing built from the path-style bucket.
func TestHostHeaderNeverDialled(t *testing.T) {
	rec := &hostRecorder{}
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		rec.next = o.Transport
		o.Transport = rec
		o.VirtualHostDomains = []string{"s3.test"}
	}})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "host/k", []byte("v"))
	want := bucketData + ".s3express-usw2-az1.us-west-2.amazonaws.com"
	for _, host := range []string{
		"evil.example.com",
		"169.254.169.254",
		bucketOther + ".s3express-usw2-az1.us-west-2.amazonaws.com",
		"evil.example.com:443",
	} {
		t.Run(host, func(t *testing.T) {
			rec.mu.Lock()
			rec.hosts = nil
			rec.mu.Unlock()
			req := signedRequestHost(t, "GET", e.url("/"+aliasData+"/host/k"), host)
			status, body, _ := do(t, req)
			if status != 200 || string(body) != "v" {
				t.Fatalf("status %d body %q", status, body)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, h := range rec.hosts {
				if h != want+" "+want {
					t.Fatalf("dialled %q, want %q", h, want)
				}
			}
			if len(rec.hosts) == 0 {
				t.Fatal("nothing dialled")
			}
		})
	}
	for _, tt := range []struct{ host, code string }{
		{"evil.com.s3.test", "NoSuchBucket"}, // a general purpose name: never dialled
		{"127.0.0.1.s3.test", "InvalidBucketName"},
		{"a_b.s3.test:8080", "InvalidBucketName"},
	} {
		t.Run("virtual host "+tt.host, func(t *testing.T) {
			e.emu.ResetStats()
			status, body, _ := do(t, signedRequestHost(t, "GET", e.url("/k"), tt.host))
			if s3Code(body) != tt.code {
				t.Fatalf("got %d %s, want %s", status, body, tt.code)
			}
			if st := e.emu.Stats(); total(st.Requests)+total(st.Rejections) != 0 {
				t.Fatalf("request reached the emulator: %+v", st)
			}
		})
	}
}

// signedRequestHost signs a GET with a chosen Host header.
func signedRequestHost(t *testing.T, method, url, host string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Host = host
	return signedRequestFrom(t, r, rwKey, rwSecret, nil, time.Now())
}

// TestBodyHashMismatch: a body that does not hash to the declared
// x-amz-content-sha256 is refused and nothing is committed upstream.
func TestBodyHashMismatch(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, size := range []int{10, 1 << 20} {
		good, bad := payload(size, 1), payload(size, 2)
		sum := sha256.Sum256(good)
		r, err := http.NewRequest("PUT", e.url("/"+aliasData+"/mismatch"), nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		r = signedRequestFrom(t, r, rwKey, rwSecret, nil, time.Now())
		setBody(r, bad)
		status, body, _ := do(t, r)
		if status != 400 || s3Code(body) != "XAmzContentSHA256Mismatch" {
			t.Fatalf("size %d: got %d %s, want 400 XAmzContentSHA256Mismatch", size, status, body)
		}
		rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
		if st, b, _ := rw.do(t, "GET", aliasData, "mismatch", "", nil, nil); st != 404 {
			t.Fatalf("size %d: object exists after a refused upload: %d %q", size, st, b)
		}
	}
}

// TestDenyUnlisted: with buckets.default deny, only aliases (and their
// targets) and allowed buckets are reachable; the rest never reach upstream.
func TestDenyUnlisted(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.DenyUnlisted = true }})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "deny/k", []byte("v"))
	if got := rw.get(t, bucketData, "deny/k"); string(got) != "v" {
		t.Fatalf("alias target: %q", got)
	}
	e.emu.ResetStats()
	status, body, _ := rw.do(t, "GET", bucketOther, "deny/k", "", nil, nil)
	if status != 403 || s3Code(body) != "AccessDenied" {
		t.Fatalf("unlisted bucket: %d %s, want 403 AccessDenied", status, body)
	}
	if st := e.emu.Stats(); total(st.Requests)+total(st.Rejections)+total(st.CreateSessions) != 0 {
		t.Fatalf("unlisted bucket reached the emulator: %+v", st)
	}
}

// TestUpstreamUnreachable: with the endpoint gone, clients get a retryable
// 503 ServiceUnavailable in S3 XML, not a Go error string.
func TestUpstreamUnreachable(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "gone/k", []byte("v")) // a cached session: the data call itself fails
	if err := e.emu.Close(); err != nil {
		t.Fatal(err)
	}
	status, body, _ := rw.do(t, "GET", aliasData, "gone/k", "", nil, nil)
	if status != 503 || s3Code(body) != "ServiceUnavailable" {
		t.Fatalf("got %d %s, want 503 ServiceUnavailable", status, body)
	}
	status, body, _ = rw.do(t, "GET", bucketOther, "k", "", nil, nil) // CreateSession fails
	if status != 503 || s3Code(body) != "ServiceUnavailable" {
		t.Fatalf("cold bucket: got %d %s, want 503 ServiceUnavailable", status, body)
	}
	if strings.Contains(string(body), "dial") || strings.Contains(string(body), "127.0.0.1") {
		t.Fatalf("error body leaks transport details: %s", body)
	}
}

// TestConcurrentHashedUploads: more concurrent large uploads with a hex
// x-amz-content-sha256 than the proxy hashes on helper goroutines (2 ×
// GOMAXPROCS), so some hash inline; each correct body is stored byte for
// byte, each body that does not match its declared hash is refused and not
// stored, whichever way it was hashed.
func TestConcurrentHashedUploads(t *testing.T) {
	e := newEnv(t, envConfig{})
	const n = 12
	size := 1<<20 + 17 // > the 128 KiB from which hashing moves off the copy goroutine
	reqs := make([]*http.Request, n)
	bodies := make([][]byte, n)
	for i := range reqs {
		bodies[i] = payload(size, byte(i))
		sum := sha256.Sum256(bodies[i])
		r, err := http.NewRequest("PUT", e.url(fmt.Sprintf("/%s/hashed/%d", aliasData, i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		r = signedRequestFrom(t, r, rwKey, rwSecret, nil, time.Now())
		body := bodies[i]
		if i%4 == 3 { // declared hash of bodies[i], another body sent
			body = payload(size, byte(100+i))
		}
		setBody(r, body)
		reqs[i] = r
	}
	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results[i] = result{resp.StatusCode, b, err}
		}()
	}
	wg.Wait()
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	for i, res := range results {
		if res.err != nil {
			t.Fatalf("upload %d: %v", i, res.err)
		}
		key := fmt.Sprintf("hashed/%d", i)
		if i%4 == 3 {
			if res.status != 400 || s3Code(res.body) != "XAmzContentSHA256Mismatch" {
				t.Fatalf("upload %d (wrong body): %d %s, want 400 XAmzContentSHA256Mismatch", i, res.status, res.body)
			}
			if st, b, _ := rw.do(t, "GET", aliasData, key, "", nil, nil); st != 404 {
				t.Fatalf("upload %d (wrong body) stored: %d %q", i, st, b)
			}
			continue
		}
		if res.status != 200 {
			t.Fatalf("upload %d: %d %s", i, res.status, res.body)
		}
		if got := rw.get(t, aliasData, key); !bytes.Equal(got, bodies[i]) {
			t.Fatalf("upload %d: stored %d bytes that differ from the %d sent", i, len(got), len(bodies[i]))
		}
	}
}
