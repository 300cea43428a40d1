package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// fakeClock is an injectable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// creds are signing credentials; token set means session auth.
type creds struct{ akid, secret, token string }

// rawReq is a hand-built request signed with the SDK's SigV4 signer.
type rawReq struct {
	method  string
	host    string // default: the test bucket's Zonal host
	path    string // raw (already escaped) path, default "/"
	query   string // raw query
	header  map[string]string
	body    []byte
	creds   creds
	service string // default s3express
	region  string // default us-west-2
	at      time.Time
	hash    string              // x-amz-content-sha256, default hex sha256 of body
	after   func(*http.Request) // tamper after signing
	noSign  bool
}

type rawResult struct {
	status int
	code   string
	body   []byte
	header http.Header
}

func (rr rawReq) do(t *testing.T, e *Emulator, clock func() time.Time) rawResult {
	t.Helper()
	req := rr.build(t, clock)
	resp, err := (&http.Client{Transport: e.Transport()}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rr.method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var eb struct {
		Code string `xml:"Code"`
	}
	if resp.StatusCode >= 300 && len(body) > 0 {
		if xml.Unmarshal(body, &eb) != nil {
			t.Fatalf("error body is not S3 XML: %q", body)
		}
		if resp.Header.Get("X-Amz-Request-Id") == "" || resp.Header.Get("X-Amz-Id-2") == "" {
			t.Errorf("error without x-amz-request-id / x-amz-id-2: %v", resp.Header)
		}
	}
	return rawResult{status: resp.StatusCode, code: eb.Code, body: body, header: resp.Header}
}

func (rr rawReq) build(t *testing.T, clock func() time.Time) *http.Request {
	t.Helper()
	if rr.method == "" {
		rr.method = http.MethodGet
	}
	if rr.host == "" {
		rr.host = ZonalHost(testBucket, testRegion)
	}
	if rr.path == "" {
		rr.path = "/"
	}
	if rr.service == "" {
		rr.service = "s3express"
	}
	if rr.region == "" {
		rr.region = testRegion
	}
	if rr.at.IsZero() {
		rr.at = clock()
	}
	u := "http://" + rr.host + rr.path
	if rr.query != "" {
		u += "?" + rr.query
	}
	req, err := http.NewRequest(rr.method, u, bytes.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(rr.body))
	if rr.body == nil {
		req.Body = http.NoBody
	}
	for k, v := range rr.header {
		req.Header.Set(k, v)
	}
	if rr.hash == "" {
		sum := sha256.Sum256(rr.body)
		rr.hash = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", rr.hash)
	if rr.creds.token != "" {
		req.Header.Set("X-Amz-S3session-Token", rr.creds.token)
	}
	if !rr.noSign {
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		err = signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: rr.creds.akid, SecretAccessKey: rr.creds.secret},
			req, rr.hash, rr.service, rr.region, rr.at)
		if err != nil {
			t.Fatal(err)
		}
	}
	if rr.after != nil {
		rr.after(req)
	}
	return req
}

var iam = creds{akid: testAKID, secret: testSecret}

// createSession calls CreateSession by hand and returns the session creds.
func createSession(t *testing.T, e *Emulator, clock func() time.Time, bucket, mode string) creds {
	t.Helper()
	h := map[string]string{}
	if mode != "" {
		h["X-Amz-Create-Session-Mode"] = mode
	}
	res := rawReq{host: ZonalHost(bucket, testRegion), query: "session", header: h, creds: iam}.do(t, e, clock)
	if res.status != 200 {
		t.Fatalf("CreateSession %s: %d %s", bucket, res.status, res.body)
	}
	var out struct {
		Creds struct {
			Token  string `xml:"SessionToken"`
			Secret string `xml:"SecretAccessKey"`
			AKID   string `xml:"AccessKeyId"`
			Exp    string `xml:"Expiration"`
		} `xml:"Credentials"`
	}
	if err := xml.Unmarshal(res.body, &out); err != nil || out.Creds.Token == "" {
		t.Fatalf("CreateSession body %q: %v", res.body, err)
	}
	if _, err := time.Parse(time.RFC3339, out.Creds.Exp); err != nil {
		t.Fatalf("Expiration %q: %v", out.Creds.Exp, err)
	}
	return creds{akid: out.Creds.AKID, secret: out.Creds.Secret, token: out.Creds.Token}
}

func startPlain(t *testing.T, clock *fakeClock) *Emulator {
	t.Helper()
	return startChecked(t, Options{
		Credentials: map[string]string{testAKID: testSecret},
		Buckets:     []string{testBucket, otherBkt, gpBucket},
		Now:         clock.Now,
	})
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
}
