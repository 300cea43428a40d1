package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/rs/zerolog"
)

const (
	testKey    = "LOCALKEY000000000001"
	testSecret = "localSecret000000000000000000000000000001"
	testBucket = "data--usw2-az1--x-s3"
	testHost   = testBucket + ".s3express-usw2-az1.us-west-2.amazonaws.com"
)

// seen is one request the fake upstream received.
type seen struct {
	Method, Host, RequestURI string
	Header                   http.Header
	Body                     []byte
	BodyRead                 bool
}

// fakeUpstream is a minimal Zonal endpoint: CreateSession hands out
// numbered tokens; data requests signed with a token in expired are
// answered 400 ExpiredToken (without reading the body, as S3 does when it
// refuses a request before 100 Continue).
type fakeUpstream struct {
	noRecord bool // benchmarks: keep nothing per request

	mu      sync.Mutex
	reqs    []seen
	tokens  atomic.Int64
	expired map[string]bool
}

func (f *fakeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery == "session" || r.URL.RawQuery == "session=" {
		n := f.tokens.Add(1)
		fmt.Fprintf(w, `<CreateSessionResult><Credentials><SessionToken>tok-%d</SessionToken>`+
			`<SecretAccessKey>sess-secret-%d</SecretAccessKey><AccessKeyId>SESSKEY%d</AccessKeyId>`+
			`<Expiration>%s</Expiration></Credentials></CreateSessionResult>`,
			n, n, n, time.Now().Add(5*time.Minute).UTC().Format(time.RFC3339))
		return
	}
	if f.noRecord {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello")
		return
	}
	s := seen{Method: r.Method, Host: r.Host, RequestURI: r.RequestURI, Header: r.Header.Clone()}
	f.mu.Lock()
	exp := f.expired[r.Header.Get("X-Amz-S3session-Token")]
	f.mu.Unlock()
	if !exp {
		s.Body, _ = io.ReadAll(r.Body)
		s.BodyRead = true
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, s)
	f.mu.Unlock()
	if exp {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>`)
		return
	}
	w.Header().Set("ETag", `"abc"`)
	w.Write(s.Body)
}

func (f *fakeUpstream) expire(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expired == nil {
		f.expired = map[string]bool{}
	}
	f.expired[token] = true
}

func (f *fakeUpstream) seen() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// newTestProxy serves a Proxy in front of up; every upstream connection
// dials up whatever the host.
func newTestProxy(t testing.TB, up http.Handler, mod func(*Options)) (*Proxy, *httptest.Server) {
	t.Helper()
	us := httptest.NewServer(up)
	t.Cleanup(us.Close)
	tr := DefaultTransport()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, us.Listener.Addr().String())
	}
	opts := Options{
		Region: "us-west-2", Scheme: "http", Transport: tr,
		UpstreamCredentials: credentials.NewStaticCredentialsProvider("AKIAUPSTREAM", "upstreamSecret", ""),
		Aliases:             []Alias{{Name: "data", Target: testBucket}},
		Credentials:         []Credential{{AccessKeyID: testKey, SecretAccessKey: testSecret, Buckets: []string{"*"}, Access: AccessReadWrite}},
		Logger:              zerolog.Nop(),
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv
}

// sign signs req with the test key, payload declared as the hex SHA-256 of body.
func sign(t testing.TB, req *http.Request, body []byte) *http.Request {
	t.Helper()
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret},
		req, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func newReq(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

type recordSink struct {
	mu   sync.Mutex
	recs []Record
}

func (s *recordSink) ObserveRequest(r *Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, *r)
}

func (s *recordSink) last() Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[len(s.recs)-1]
}

func TestRetryOnExpiredSession(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		size     int
		expect   bool
		status   int
		attempts int
		retried  bool
	}{
		{"GET without body", "GET", -1, false, 200, 2, true},
		{"PUT within the replay buffer", "PUT", 1000, false, 200, 2, true},
		{"PUT beyond the replay buffer", "PUT", 100 << 10, false, 400, 1, false},
		{"PUT beyond the buffer but 100-continue", "PUT", 100 << 10, true, 200, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &fakeUpstream{}
			sink := &recordSink{}
			_, srv := newTestProxy(t, up, func(o *Options) { o.ReplayBuffer = 4 << 10; o.Observer = sink })
			// Warm the session, then expire it behind the proxy's back.
			if resp, err := http.DefaultClient.Do(sign(t, newReq(t, "GET", srv.URL+"/data/warm", nil), nil)); err != nil || resp.StatusCode != 200 {
				t.Fatalf("warm-up: %v %v", resp, err)
			}
			up.expire("tok-1")
			before := len(up.seen())

			var body []byte
			if tt.size >= 0 {
				body = bytes.Repeat([]byte("x"), tt.size)
			}
			req := newReq(t, tt.method, srv.URL+"/data/obj", body)
			if tt.expect {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := http.DefaultClient.Do(sign(t, req, body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, got)
			}
			if tt.status == 400 && !strings.Contains(string(got), "<Code>ExpiredToken</Code>") {
				t.Fatalf("upstream error not passed through unchanged: %s", got)
			}
			reqs := up.seen()[before:]
			if len(reqs) != tt.attempts {
				t.Fatalf("upstream saw %d attempts, want %d", len(reqs), tt.attempts)
			}
			lastReq := reqs[len(reqs)-1]
			if tt.status == 200 {
				if lastReq.Header.Get("X-Amz-S3session-Token") != "tok-2" || !bytes.Equal(lastReq.Body, body) {
					t.Fatalf("retry sent token %q and %d bytes, want tok-2 and %d bytes",
						lastReq.Header.Get("X-Amz-S3session-Token"), len(lastReq.Body), len(body))
				}
			}
			if rec := sink.last(); rec.Retried != tt.retried {
				t.Fatalf("Record.Retried = %v, want %v", rec.Retried, tt.retried)
			}
		})
	}
}

// TestOutboundRequest checks what goes upstream: the routed Zonal host
// whatever the client's Host, the key byte-exact, a canonical query, and no
// inbound credentials or hop-by-hop headers.
func TestOutboundRequest(t *testing.T) {
	up := &fakeUpstream{}
	_, srv := newTestProxy(t, up, nil)
	req := newReq(t, "GET", srv.URL+"/data/a%20b%2Bc/%E2%82%AC//~x/?z=1&partNumber=1&uploadId=a%2Bb&X-Amz-Expires=300", nil)
	req.Host = "evil.example.com"
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "1")
	req.Header.Set("X-Amz-Security-Token", "client-token")
	req.Header.Set("X-Amz-Meta-Keep", "kept")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	resp, err := http.DefaultClient.Do(sign(t, req, nil))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if id := resp.Header.Get("X-Amz-Request-Id"); len(id) != 16 || len(resp.Header.Values("X-Amz-Request-Id")) != 1 {
		t.Fatalf("x-amz-request-id %q", resp.Header.Values("X-Amz-Request-Id"))
	}
	s := up.seen()[0]
	if s.Host != testHost {
		t.Errorf("Host %q, want %q", s.Host, testHost)
	}
	if want := "/a%20b%2Bc/%E2%82%AC//~x/?partNumber=1&uploadId=a%2Bb&z=1"; s.RequestURI != want {
		t.Errorf("RequestURI %q, want %q", s.RequestURI, want)
	}
	for _, h := range []string{"X-Hop", "X-Amz-Security-Token", "X-Forwarded-For", "Connection"} {
		if v := s.Header.Get(h); v != "" {
			t.Errorf("%s forwarded: %q", h, v)
		}
	}
	if s.Header.Get("X-Amz-Meta-Keep") != "kept" {
		t.Error("x-amz-meta-keep dropped")
	}
	if a := s.Header.Get("Authorization"); !strings.Contains(a, "Credential=SESSKEY1/") || !strings.Contains(a, "/us-west-2/s3express/aws4_request") {
		t.Errorf("Authorization %q is not a session signature for us-west-2/s3express", a)
	}
	if s.Header.Get("X-Amz-S3session-Token") != "tok-1" {
		t.Errorf("session token %q", s.Header.Get("X-Amz-S3session-Token"))
	}
}

// TestDialErrorRetriedOnce: a failed dial is retried once; two failures
// answer 503 ServiceUnavailable as S3 XML.
func TestDialErrorRetriedOnce(t *testing.T) {
	for _, fails := range []int{1, 2} {
		t.Run(fmt.Sprint(fails), func(t *testing.T) {
			up := &fakeUpstream{}
			var dials atomic.Int64
			_, srv := newTestProxy(t, up, func(o *Options) {
				tr := o.Transport.(*http.Transport)
				next := tr.DialContext
				tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					// The first dial is CreateSession's; fail the next ones.
					if n := dials.Add(1); n > 1 && n <= int64(1+fails) {
						return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
					}
					return next(ctx, network, addr)
				}
				tr.DisableKeepAlives = true
			})
			resp, err := http.DefaultClient.Do(sign(t, newReq(t, "PUT", srv.URL+"/data/k", []byte("hello")), []byte("hello")))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := 200
			if fails == 2 {
				want = 503
			}
			if resp.StatusCode != want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, b)
			}
			if want == 503 && !strings.Contains(string(b), "<Code>ServiceUnavailable</Code>") {
				t.Fatalf("body %s", b)
			}
		})
	}
}
