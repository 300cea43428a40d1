package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Fixed identities and names used by every environment.
const (
	region       = "us-west-2"
	zone         = "usw2-az1"
	iamKey       = "BENCHIAMKEY"
	iamSecret    = "bench-iam-secret-0123456789abcdef"
	legacyKey    = "BENCHLEGACYKEY"
	legacySecret = "bench-legacy-secret-0123456789abcd"
)

// pathKind is one of the three measured paths.
type pathKind int

const (
	pathDirect pathKind = iota // client signs S3 Express session requests, straight to the emulator
	pathBare                   // the same requests through a bare httputil.ReverseProxy hop
	pathProxy                  // legacy SigV4 client, path-style, through s3xproxy
)

var allPaths = []pathKind{pathDirect, pathBare, pathProxy}

func (k pathKind) String() string {
	return [...]string{"direct", "bare", "s3xproxy"}[k]
}

// bucketName returns the directory bucket name for index i.
func bucketName(i int) string { return fmt.Sprintf("bench%d--%s--x-s3", i, zone) }

// zonalHost returns the bucket's Zonal endpoint host name.
func zonalHost(bucket string) string {
	return bucket + ".s3express-" + zone + "." + region + ".amazonaws.com"
}

// newTransport returns a client transport that dials addr whatever the URL
// host is, so Zonal Host headers reach 127.0.0.1. caPool, when set, is the
// trusted root for HTTPS.
func newTransport(addr string, caPool *x509.CertPool, conns int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}
	if caPool != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}
	}
	return t
}

// loadCA reads a PEM CA file into a pool.
func loadCA(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificates", file)
	}
	return pool, nil
}

// sessions is the harness's own S3 Express session cache for the direct
// and bare-hop clients: one CreateSession per bucket, renewed a minute (or a
// third of the lifetime) before expiry. The hit path takes no lock, so the
// client side of the direct and bare paths costs about what the legacy
// client's plain signing costs.
type sessions struct {
	hc     *http.Client
	scheme string
	signer *v4.Signer
	m      sync.Map // bucket -> *sessionEntry
}

type sessionEntry struct {
	mu  sync.Mutex // serialises CreateSession for one bucket
	cur atomic.Pointer[sessionCreds]
}

type sessionCreds struct {
	creds   aws.Credentials
	token   string
	refresh time.Time
}

type createSessionResult struct {
	Credentials struct {
		SessionToken    string
		SecretAccessKey string
		AccessKeyId     string
		Expiration      time.Time
	}
}

// get returns valid session credentials and token for bucket.
func (s *sessions) get(ctx context.Context, bucket string) (aws.Credentials, string, error) {
	v, ok := s.m.Load(bucket)
	if !ok {
		v, _ = s.m.LoadOrStore(bucket, &sessionEntry{})
	}
	e := v.(*sessionEntry)
	if c := e.cur.Load(); c != nil && time.Now().Before(c.refresh) {
		return c.creds, c.token, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.cur.Load(); c != nil && time.Now().Before(c.refresh) {
		return c.creds, c.token, nil
	}
	c, err := s.create(ctx, bucket)
	if err != nil {
		return aws.Credentials{}, "", err
	}
	e.cur.Store(c)
	return c.creds, c.token, nil
}

// create calls CreateSession on bucket's Zonal endpoint, IAM-signed.
func (s *sessions) create(ctx context.Context, bucket string) (*sessionCreds, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.scheme+"://"+zonalHost(bucket)+"/?session", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	iam := aws.Credentials{AccessKeyID: iamKey, SecretAccessKey: iamSecret}
	if err := s.signer.SignHTTP(ctx, iam, req, emptySHA256, "s3express", region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("createsession %s: %w", bucket, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("createsession %s: %s: %s", bucket, resp.Status, body)
	}
	var r createSessionResult
	if err := xml.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("createsession %s: %w", bucket, err)
	}
	c := r.Credentials
	life := time.Until(c.Expiration)
	return &sessionCreds{
		creds:   aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey},
		token:   c.SessionToken,
		refresh: c.Expiration.Add(-min(time.Minute, life/3)),
	}, nil
}

// client issues S3 requests over one path.
type client struct {
	kind   pathKind
	hc     *http.Client
	scheme string // URL scheme the client speaks to its first hop
	proxy  string // s3xproxy address (pathProxy only)
	sess   *sessions
	signer *v4.Signer
}

// newSigner returns an SDK SigV4 signer that signs the path exactly as sent.
func newSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// request is one S3 operation.
type request struct {
	op     string // GET, HEAD, PUT
	bucket string
	key    string
	size   int64 // PUT body size
	hash   string
	// hex: declare the payload's hex SHA-256 instead of UNSIGNED-PAYLOAD.
	hex bool
}

// do sends r and returns the body bytes moved (sent for PUT, received for
// GET). A non-2xx status is an error.
func (c *client) do(ctx context.Context, r request, buf []byte) (int64, error) {
	var url string
	if c.kind == pathProxy {
		url = "http://" + c.proxy + "/" + r.bucket + "/" + r.key
	} else {
		url = c.scheme + "://" + zonalHost(r.bucket) + "/" + r.key
	}
	var body io.ReadCloser
	if r.op == http.MethodPut {
		body = newPatternBody(r.size)
	}
	req, err := http.NewRequestWithContext(ctx, r.op, url, body)
	if err != nil {
		return 0, err
	}
	payload := "UNSIGNED-PAYLOAD"
	if r.op == http.MethodPut {
		req.ContentLength = r.size
		size := r.size
		req.GetBody = func() (io.ReadCloser, error) { return newPatternBody(size), nil }
		if r.hex {
			payload = r.hash
		}
	} else if r.hex {
		payload = emptySHA256
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	now := time.Now()
	if c.kind == pathProxy {
		creds := aws.Credentials{AccessKeyID: legacyKey, SecretAccessKey: legacySecret}
		err = c.signer.SignHTTP(ctx, creds, req, payload, "s3", region, now)
	} else {
		creds, token, serr := c.sess.get(ctx, r.bucket)
		if serr != nil {
			return 0, serr
		}
		req.Header.Set("X-Amz-S3session-Token", token)
		err = c.signer.SignHTTP(ctx, creds, req, payload, "s3express", region, now)
	}
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	n, rerr := drain(resp.Body, buf)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg := string(buf[:min(int(n), 300, len(buf))])
		if r.op == http.MethodHead {
			msg = resp.Header.Get("X-Amz-Error-Code")
		}
		return 0, fmt.Errorf("%s %s via %s: %s %s", r.op, r.key, c.kind, resp.Status, strings.TrimSpace(msg))
	}
	if rerr != nil {
		return n, rerr
	}
	if r.op == http.MethodPut {
		return r.size, nil
	}
	return n, nil
}
