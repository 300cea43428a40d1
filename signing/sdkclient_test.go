package signing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// recorder is an S3-ish server that verifies every request and records
// what it saw.
type recorder struct {
	v  *Verifier
	mu sync.Mutex
	// guarded by mu
	results []*Result
	errs    []error
	bodies  [][]byte
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, err := rc.v.Verify(r, time.Now()) // test code: the verifier itself never calls time.Now
	var body []byte
	if err == nil && res.Body != nil {
		body, err = io.ReadAll(res.Body)
	}
	rc.mu.Lock()
	rc.results, rc.errs, rc.bodies = append(rc.results, res), append(rc.errs, err), append(rc.bodies, body)
	rc.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	}
}

func (rc *recorder) last(t *testing.T) (*Result, []byte, error) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.errs) == 0 {
		t.Fatal("no request reached the server")
	}
	i := len(rc.errs) - 1
	return rc.results[i], rc.bodies[i], rc.errs[i]
}

// TestVerifySDKClient drives the verifier with the real aws-sdk-go-v2 S3
// client (path-style, plain HTTP) over a loopback socket.
func TestVerifySDKClient(t *testing.T) {
	rec := &recorder{v: NewVerifier(testKeys, func(o *VerifierOptions) { o.SigV2 = true })}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("LOCALKEY", "localsecret", ""),
		HTTPClient:   srv.Client(),
	})
	ctx := context.Background()
	keys := []string{"plain", "with space/and+plus", "unicodé/~tilde", "trailing/", "a//b", "q?uestion#hash%percent"}
	for _, key := range keys {
		for _, size := range []int{0, 1, 70000} {
			t.Run(fmt.Sprintf("%s/%d", key, size), func(t *testing.T) {
				data := bytes.Repeat([]byte("x"), size)
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(data)})
				res, body, verr := rec.last(t)
				if err != nil || verr != nil {
					t.Fatalf("PutObject: %v; server: %v", err, verr)
				}
				if want := data; res.UpstreamContentSHA256 == UnsignedPayload && !bytes.Equal(body, want) {
					t.Errorf("body of %d bytes, want %d", len(body), len(want))
				}
				out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Range: aws.String("bytes=0-4")})
				if err != nil {
					_, _, verr := rec.last(t)
					t.Fatalf("GetObject: %v; server: %v", err, verr)
				}
				out.Body.Close()
			})
		}
	}
	_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("a b/"), Delimiter: aws.String("/")})
	if _, _, verr := rec.last(t); verr != nil || err != nil && !strings.Contains(err.Error(), "deserialization") {
		t.Fatalf("ListObjectsV2: %v; server: %v", err, verr)
	}
}

func TestVerifySDKClientPayloadKinds(t *testing.T) {
	rec := &recorder{v: NewVerifier(testKeys)}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("LOCALKEY", "localsecret", ""),
		HTTPClient:  srv.Client(),
	})
	_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("hello world")})
	res, body, verr := rec.last(t)
	if err != nil || verr != nil {
		t.Fatalf("%v / %v", err, verr)
	}
	if string(body) != "hello world" {
		t.Errorf("body %q", body)
	}
	t.Logf("SDK PutObject: upstream %s, content-length %d, decoded %d, trailer %q, body %q", res.UpstreamContentSHA256, res.ContentLength, res.DecodedContentLength, res.Trailer, body)
}
