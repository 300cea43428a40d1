package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// curlPath is Debian 12's curl 7.88, whose --aws-sigv4 signs the body's
// hash without sending x-amz-content-sha256.
const curlPath = "/usr/bin/curl"

// noHashRequest is a SigV4 request signed as curl --aws-sigv4 before 8.x
// signs it: the canonical request ends with the hex SHA-256 of signed, no
// x-amz-content-sha256 header is sent (unless hdr declares one, which is
// then signed as the payload hash). The returned bytes go over a raw
// socket: sent as the body, Content-Length len(sent).
func noHashRequest(t *testing.T, e *env, method, path, key, secret string, signed, sent []byte, hdr http.Header) []byte {
	t.Helper()
	req, err := http.NewRequest(method, e.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.ContentLength = int64(len(sent))
	sum := sha256.Sum256(signed)
	payloadHash := hex.EncodeToString(sum[:])
	if h := hdr.Get("X-Amz-Content-Sha256"); h != "" { // declared: signed as declared
		payloadHash = h
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, payloadHash, "s3", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("X-Amz-Content-Sha256") != hdr.Get("X-Amz-Content-Sha256") {
		t.Fatal("the signer set x-amz-content-sha256")
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n", method, path, req.URL.Host, len(sent))
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	return append(head.Bytes(), sent...)
}

// rawExchange writes msg to the proxy on a fresh connection and returns the
// response's status and body; status 0 when the proxy dropped the
// connection without an answer.
func rawExchange(t *testing.T, e *env, msg []byte) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _, _ = conn.Write(msg) }() // the proxy may answer before reading it all
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// bodyMeter is an upstream transport that counts, per path, the request
// body bytes the proxy had sent upstream when each round trip ended.
type bodyMeter struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent map[string]int64 // guarded by mu
}

func (m *bodyMeter) RoundTrip(r *http.Request) (*http.Response, error) {
	c := &countingBody{ReadCloser: r.Body}
	if r.Body != nil {
		r.Body = c
	}
	resp, err := m.next.RoundTrip(r)
	m.mu.Lock()
	m.sent[r.URL.Path] += c.n.Load()
	m.mu.Unlock()
	return resp, err
}

func (m *bodyMeter) bytes(path string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent[path]
}

type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestSigV4NoPayloadHash: SigV4 requests without x-amz-content-sha256 (the
// payload hash is the body's) work; a body that does not match what was
// signed, or a wrong secret, commits nothing upstream, even when megabytes
// of the upload had streamed there; an unknown key and an oversize
// non-upload body are refused before anything reaches the emulator; an
// upstream refusal (early, or of CreateSession) is not relayed to a
// request whose signature is unchecked, except as "retry" for a 5xx.
func TestSigV4NoPayloadHash(t *testing.T) {
	meter := &bodyMeter{sent: map[string]int64{}}
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { meter.next, o.Transport = o.Transport, meter }})
	small, large := payload(1000, 7), payload(4<<20, 8)
	tamperedEnd := append(append([]byte(nil), large[:len(large)-1]...), large[len(large)-1]^1)
	tamperedStart := append([]byte{large[0] ^ 1}, large[1:]...)
	bad := rwSecret[:len(rwSecret)-1] + "X"
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	if st, b, _ := rw.do(t, "PUT", aliasData, "nohash/exists", "", small, nil); st != 200 {
		t.Fatalf("PUT nohash/exists: %d %s", st, b)
	}
	ifNoneMatch := http.Header{"If-None-Match": {"*"}}
	tests := []struct {
		name         string
		method, path string
		key, secret  string
		signed, sent []byte
		hdr          http.Header
		faults       emulator.Faults
		status       int
		codes        string // acceptable S3 error codes, "|"-separated
		streamed     bool   // at least 1 MiB of the body must have gone upstream
		none         bool   // nothing may reach the emulator
		getBack      []byte // GET of the key afterwards returns this (nil: 404)
	}{
		{"small PUT", "PUT", "/data/nohash/small", rwKey, rwSecret, small, small, nil, emulator.Faults{}, 200, "", false, false, small},
		{"large PUT", "PUT", "/data/nohash/large", rwKey, rwSecret, large, large, nil, emulator.Faults{}, 200, "", true, false, large},
		{"small PUT wrong secret", "PUT", "/data/nohash/bad-small", rwKey, bad, small, small, nil, emulator.Faults{}, 403, "SignatureDoesNotMatch", false, true, nil},
		{"small PUT tampered", "PUT", "/data/nohash/bad-small2", rwKey, rwSecret, small, payload(1000, 9), nil, emulator.Faults{}, 403, "SignatureDoesNotMatch", false, true, nil},
		{"large PUT wrong secret", "PUT", "/data/nohash/bad-large", rwKey, bad, large, large, nil, emulator.Faults{}, 403, "SignatureDoesNotMatch", true, false, nil},
		{"large PUT tampered last byte", "PUT", "/data/nohash/bad-end", rwKey, rwSecret, large, tamperedEnd, nil, emulator.Faults{}, 403, "SignatureDoesNotMatch", true, false, nil},
		{"large PUT tampered first byte", "PUT", "/data/nohash/bad-start", rwKey, rwSecret, large, tamperedStart, nil, emulator.Faults{}, 403, "SignatureDoesNotMatch", true, false, nil},
		{"unknown key", "PUT", "/data/nohash/unknown", "E2ENOSUCHKEY00000001", rwSecret, large, large, nil, emulator.Faults{}, 403, "InvalidAccessKeyId", false, true, nil},
		{"read-only key", "PUT", "/data/nohash/ro", roKey, roSecret, large, large, nil, emulator.Faults{}, 403, "AccessDenied", false, true, nil},
		{"large non-upload body", "POST", "/data?delete", rwKey, rwSecret, payload(2<<20, 3), payload(2<<20, 3), nil, emulator.Faults{}, 400, "InvalidRequest", false, true, nil},
		{"CreateSession refusal withheld", "PUT", "/nosuch--usw2-az1--x-s3/k", rwKey, bad, large, large, nil, emulator.Faults{}, 403, "AccessDenied", false, false, nil},
		{"early upstream refusal withheld", "PUT", "/data/nohash/exists", rwKey, bad, large, large, ifNoneMatch, emulator.Faults{}, 403, "AccessDenied|SignatureDoesNotMatch", false, false, small},
		{"early upstream refusal withheld, right key", "PUT", "/data/nohash/exists", rwKey, rwSecret, large, large, ifNoneMatch, emulator.Faults{}, 403, "AccessDenied", false, false, small},
		{"upstream 5xx stays retryable", "PUT", "/data/nohash/slow", rwKey, bad, large, large, nil, emulator.Faults{SlowDownProbability: 1}, 503, "SlowDown|ServiceUnavailable", false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.SetFaults(tt.faults)
			e.emu.ResetStats()
			status, body := rawExchange(t, e, noHashRequest(t, e, tt.method, tt.path, tt.key, tt.secret, tt.signed, tt.sent, tt.hdr))
			e.emu.SetFaults(emulator.Faults{})
			codeOK := tt.codes == "" || slices.Contains(strings.Split(tt.codes, "|"), s3Code(body))
			// A client that sent its whole body reads the answer; a dropped
			// connection is acceptable only where the upload was aborted.
			if (status != tt.status || !codeOK) && !(status == 0 && tt.streamed && tt.status != 200) {
				t.Fatalf("got %d %s, want %d %s", status, body, tt.status, tt.codes)
			}
			if n := meter.bytes(strings.TrimPrefix(tt.path, "/data")); tt.streamed && n < 1<<20 {
				t.Errorf("%d body bytes went upstream, want the upload to have streamed (>= 1 MiB)", n)
			}
			if tt.streamed && tt.status != 200 {
				// The emulator saw the upload end short (and counts it once
				// its handler returns, which the next case must not see).
				waitRejection(t, e, "IncompleteBody")
			}
			if tt.none {
				noUpstream(t, e)
			}
			if tt.method != "PUT" || !strings.HasPrefix(tt.path, "/data/") {
				return
			}
			key := strings.TrimPrefix(tt.path, "/data/")
			got, gotBody, _ := rw.do(t, "GET", aliasData, key, "", nil, nil)
			switch {
			case tt.getBack == nil && got != 404:
				t.Errorf("GET %s after a refused upload: %d (%d bytes), want 404: something was committed", key, got, len(gotBody))
			case tt.getBack != nil && (got != 200 || !bytes.Equal(gotBody, tt.getBack)):
				t.Errorf("GET %s: %d, %d bytes; want 200 and the %d bytes expected", key, got, len(gotBody), len(tt.getBack))
			}
		})
	}
	if strings.Contains(e.logs.String(), bad) {
		t.Error("a secret reached the log")
	}
	assertNoSecretsLogged(t, e)
	// A body-less GET without the header signs the empty body's hash.
	msg := noHashRequest(t, e, "GET", "/data/nohash/small", rwKey, rwSecret, nil, nil, nil)
	if status, body := rawExchange(t, e, msg); status != 200 || !bytes.Equal(body, small) {
		t.Fatalf("GET without x-amz-content-sha256: %d (%d bytes), want 200 and the object", status, len(body))
	}
}

// TestHalfClosedUpload: a client that signs a 4 MiB upload, sends half of
// it and half-closes its connection (net/http then cancels the request)
// reads 400 IncompleteBody, never an empty 200, and the upload, which had
// started streaming upstream, is aborted: nothing is stored. Without
// x-amz-content-sha256 (signature pending) and with it.
func TestHalfClosedUpload(t *testing.T) {
	e := newEnv(t, envConfig{})
	body := payload(4<<20, 11)
	sum := sha256.Sum256(body)
	for _, tt := range []struct {
		name string
		hdr  http.Header
	}{
		{"no payload hash header", nil},
		{"hex payload hash", http.Header{"X-Amz-Content-Sha256": {hex.EncodeToString(sum[:])}}},
		{"unsigned payload", http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetStats()
			key := "half/" + strings.ReplaceAll(tt.name, " ", "-")
			msg := noHashRequest(t, e, "PUT", "/data/"+key, rwKey, rwSecret, body, body, tt.hdr)
			msg = msg[:len(msg)-len(body)/2]
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.srv.URL, "http://"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			_ = conn.(*net.TCPConn).CloseWrite() // fails if the proxy closed first
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 400 || s3Code(b) != "IncompleteBody" {
					t.Errorf("got %d %q, want 400 IncompleteBody", resp.StatusCode, b)
				}
			}
			waitRejection(t, e, "IncompleteBody")
			rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
			if st, b, _ := rw.do(t, "GET", aliasData, key, "", nil, nil); st != 404 {
				t.Errorf("GET after a truncated upload: %d (%d bytes), want 404", st, len(b))
			}
		})
	}
}

// waitRejection waits for the emulator to count a rejection with code.
func waitRejection(t *testing.T, e *env, code string) {
	t.Helper()
	waitFor(t, "the emulator to reject the aborted upload with "+code, func() bool { return e.emu.Stats().Rejections[code] > 0 })
}

// TestCurlSigV4: Debian 12's curl 7.88 --aws-sigv4 uploads and downloads
// through the proxy. Without x-amz-content-sha256 it signs the body's hash
// for --data-binary (verified as the body streams), and the empty body's
// for GET; with -T it signs an empty payload whatever the body, which only
// works with the header (else 400 InvalidRequest, as from S3). A wrong
// secret stores nothing.
func TestCurlSigV4(t *testing.T) {
	needTool(t, curlPath)
	e := newEnv(t, envConfig{})
	c := newCLIEnv(t, e)
	small, large := payload(3000, 21), payload(3<<20, 22)
	curl := func(t *testing.T, secret string, args ...string) (string, int) {
		t.Helper()
		base := []string{"--silent", "--show-error", "--fail-with-body", "--aws-sigv4", "aws:amz:us-west-2:s3", "--user", rwKey + ":" + secret}
		return c.run(t, nil, "", curlPath, append(base, args...)...)
	}
	hashHeader := func(b []byte) []string {
		sum := sha256.Sum256(b)
		return []string{"-H", "x-amz-content-sha256: " + hex.EncodeToString(sum[:])}
	}
	unsigned := []string{"-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"}
	for _, tt := range []struct {
		name     string
		data     []byte
		put, get func(file string) []string // curl arguments before the URL
	}{
		{"data-binary small", small, func(f string) []string { return []string{"-X", "PUT", "--data-binary", "@" + f} }, nil},
		{"data-binary large", large, func(f string) []string { return []string{"-X", "PUT", "--data-binary", "@" + f} }, nil},
		{"data-binary with header", large, func(f string) []string { return append(hashHeader(large), "-X", "PUT", "--data-binary", "@"+f) },
			func(string) []string { return hashHeader(nil) }},
		{"upload-file with header", large, func(f string) []string { return append(hashHeader(large), "-T", f) },
			func(string) []string { return hashHeader(nil) }},
		{"upload-file unsigned payload", small, func(f string) []string { return append(unsigned, "-T", f) }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "curl/" + strings.ReplaceAll(tt.name, " ", "-")
			name := strings.ReplaceAll(key, "/", "_")
			f := c.file(t, name, tt.data)
			out := filepath.Join(c.dir, "out-"+name)
			o, code := curl(t, rwSecret, append(tt.put(f), e.url("/data/"+key))...)
			mustOK(t, "curl PUT", o, code)
			var get []string
			if tt.get != nil {
				get = tt.get(f)
			}
			o, code = curl(t, rwSecret, append(get, "-o", out, e.url("/data/"+key))...)
			mustOK(t, "curl GET", o, code)
			if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, tt.data) {
				t.Fatalf("GET brought %d bytes (%v), want the %d uploaded", len(got), err, len(tt.data))
			}
		})
	}
	for _, tt := range []struct {
		name, secret, code string
		args               func(f string) []string
	}{
		{"wrong secret data-binary", rwSecret[:len(rwSecret)-1] + "X", "SignatureDoesNotMatch",
			func(f string) []string { return []string{"-X", "PUT", "--data-binary", "@" + f} }},
		{"upload-file without header", rwSecret, "InvalidRequest", func(f string) []string { return []string{"-T", f} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "curl/" + strings.ReplaceAll(tt.name, " ", "-")
			f := c.file(t, strings.ReplaceAll(key, "/", "_"), large)
			out, code := curl(t, tt.secret, append(tt.args(f), e.url("/data/"+key))...)
			if code == 0 || !strings.Contains(out, tt.code) {
				t.Fatalf("exit %d, want a failure with %s:\n%s", code, tt.code, out)
			}
			if s := objectStatus(t, e, key); s != http.StatusNotFound {
				t.Errorf("HEAD %s: %d, want 404", key, s)
			}
		})
	}
}

// TestMinioRecursiveListing: minio-go's recursive ListObjects sends
// delimiter= (empty), which directory buckets refuse; through the proxy it
// lists every object.
func TestMinioRecursiveListing(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	want := []string{"mr/a", "mr/b/c", "mr/b/d/e", "mr/f g"}
	for _, k := range want {
		if st, b, _ := rw.do(t, "PUT", aliasData, k, "", []byte(k), nil); st != 200 {
			t.Fatalf("PUT %s: %d %s", k, st, b)
		}
	}
	c, err := minio.New(strings.TrimPrefix(e.srv.URL, "http://"), &minio.Options{
		Creds: miniocreds.NewStaticV4(rwKey, rwSecret, ""), Region: region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, v1 := range []bool{false, true} {
		var got []string
		for o := range c.ListObjects(context.Background(), aliasData, minio.ListObjectsOptions{Prefix: "mr/", Recursive: true, UseV1: v1}) {
			if o.Err != nil {
				t.Fatalf("V1 %v: ListObjects: %v", v1, o.Err)
			}
			got = append(got, o.Key)
		}
		sort.Strings(got)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("V1 %v: listed %q, want %q", v1, got, want)
		}
	}
}

// TestNoHashSmallBodyReset: a client that resets its connection part way
// through a small upload without x-amz-content-sha256 (read whole before
// anything else, to check its signature) went away by its own doing: the
// request is recorded as IncompleteBody, not logged as an internal error,
// and nothing reaches upstream.
func TestNoHashSmallBodyReset(t *testing.T) {
	e := newEnv(t, envConfig{})
	body := payload(32<<10, 12)
	msg := noHashRequest(t, e, "PUT", "/data/reset/small", rwKey, rwSecret, body, body, nil)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(msg[:len(msg)-len(body)/2]); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetLinger(0) // close with a reset
	conn.Close()
	waitFor(t, "the access record of the reset upload", func() bool {
		for _, r := range e.recs.all() {
			if r.Operation == "PutObject" {
				return true
			}
		}
		return false
	})
	if rec := lastRecord(t, e, "PutObject"); rec.ErrorCode != "IncompleteBody" || rec.Upstream != 0 {
		t.Errorf("record %d %q upstream %v, want IncompleteBody without an upstream call", rec.Status, rec.ErrorCode, rec.Upstream)
	}
	if strings.Contains(e.logs.String(), "internal error") {
		t.Errorf("a client's reset was logged as an internal error:\n%s", e.logs.String())
	}
}
