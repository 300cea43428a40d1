package signing

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The presigned-URL example of the S3 API reference
// (sigv4-query-string-auth.html).
const docPresignURL = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

func TestVerifyPresignGolden(t *testing.T) {
	tests := []struct {
		name   string
		target string
		now    time.Time
		want   error
	}{
		{"valid", docPresignURL, docTime.Add(time.Hour), nil},
		{"last second", docPresignURL, docTime.Add(86400 * time.Second), nil},
		{"expired", docPresignURL, docTime.Add(86401 * time.Second), ErrRequestExpired},
		{"not yet valid", docPresignURL, docTime.Add(-time.Hour), ErrRequestExpired},
		{"tampered expiry", strings.Replace(docPresignURL, "86400", "86401", 1), docTime, ErrSignatureDoesNotMatch},
		{"tampered path", strings.Replace(docPresignURL, "test.txt", "test.txu", 1), docTime, ErrSignatureDoesNotMatch},
		{"added parameter", docPresignURL + "&versionId=1", docTime, ErrSignatureDoesNotMatch},
		{"expires too long", strings.Replace(docPresignURL, "86400", "604801", 1), docTime, ErrMalformedAuth},
		{"expires zero", strings.Replace(docPresignURL, "86400", "0", 1), docTime, ErrMalformedAuth},
		{"duplicate signature", docPresignURL + "&X-Amz-Signature=00", docTime, ErrMalformedAuth},
		{"encoded duplicate signature", docPresignURL + "&X-Amz-Signatur%65=00", docTime, ErrMalformedAuth},
		{"missing date", strings.Replace(docPresignURL, "X-Amz-Date=", "X-Amz-Datum=", 1), docTime, ErrMalformedAuth},
		{"other algorithm", strings.Replace(docPresignURL, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1), docTime, ErrUnsupportedAuth},
	}
	v := NewVerifier(testKeys)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			r.Host = "examplebucket.s3.amazonaws.com"
			res, err := v.Verify(r, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.Type != AuthSigV4Query || res.AccessKeyID != docCreds.AccessKeyID {
					t.Errorf("result %+v", res)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyPresignSDK checks URLs presigned by the SDK's v4.Signer at a
// fixed time, with hoisted headers, a pinned payload and a session token.
func TestVerifyPresignSDK(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	sess := aws.Credentials{AccessKeyID: "SESSKEY", SecretAccessKey: "sesssecret"}
	body := []byte("presigned body")
	tests := []struct {
		name     string
		method   string
		path     string
		hdr      map[string]string
		payload  string
		creds    aws.Credentials
		extraQ   string
		sendBody []byte
		now      time.Time
		want     error
	}{
		{name: "get", method: "GET", path: "/b/a key+plus/é", payload: UnsignedPayload, creds: creds, now: docTime},
		{name: "put unsigned", method: "PUT", path: "/b/k", payload: UnsignedPayload, creds: creds, sendBody: body, now: docTime},
		{name: "put pinned hash", method: "PUT", path: "/b/k", hdr: map[string]string{HeaderContentSHA256: hexSHA256(body)},
			payload: hexSHA256(body), creds: creds, sendBody: body, now: docTime},
		{name: "put pinned hash wrong body", method: "PUT", path: "/b/k", hdr: map[string]string{HeaderContentSHA256: hexSHA256(body)},
			payload: hexSHA256(body), creds: creds, sendBody: []byte("other body!!!!"), now: docTime, want: ErrContentSHA256Mismatch},
		{name: "hoisted metadata", method: "PUT", path: "/b/k", hdr: map[string]string{"X-Amz-Meta-Color": "blue", "Content-Type": "text/plain"},
			payload: UnsignedPayload, creds: creds, now: docTime},
		{name: "local session token in query", method: "GET", path: "/b--use1-az4--x-s3/k", extraQ: "X-Amz-S3session-Token=good-token",
			payload: UnsignedPayload, creds: sess, now: docTime},
		{name: "wrong session token", method: "GET", path: "/b--use1-az4--x-s3/k", extraQ: "X-Amz-S3session-Token=bad-token",
			payload: UnsignedPayload, creds: sess, now: docTime, want: ErrInvalidToken},
		{name: "expired", method: "GET", path: "/b/k", payload: UnsignedPayload, creds: creds, now: docTime.Add(901 * time.Second), want: ErrRequestExpired},
	}
	v := NewVerifier(testKeys)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newReq(t, tt.method, "http://proxy.local"+EncodePath(tt.path), tt.hdr)
			c.URL.RawPath = EncodePath(c.URL.Path)
			q := url.Values{"X-Amz-Expires": {"900"}}
			if tt.extraQ != "" {
				k, val, _ := strings.Cut(tt.extraQ, "=")
				q.Set(k, val)
			}
			c.URL.RawQuery = q.Encode()
			signedURL, signedHdr, err := v4.NewSigner().PresignHTTP(context.Background(), tt.creds, c, tt.payload, ServiceS3, "us-east-1", docTime,
				func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(signedURL)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(tt.method, u.RequestURI(), bytes.NewReader(tt.sendBody))
			r.Host = "proxy.local"
			for k, vs := range signedHdr {
				if k != "Host" {
					r.Header[k] = vs
				}
			}
			res, err := v.Verify(r, tt.now)
			if err == nil && res.Body != nil {
				_, err = readAll(t, res)
			}
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v (url %s)", err, tt.want, signedURL)
			}
		})
	}
}

// TestVerifyPresignClient sends URLs from the SDK's s3.PresignClient over a
// loopback socket.
func TestVerifyPresignClient(t *testing.T) {
	rec := &recorder{v: NewVerifier(testKeys)}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("LOCALKEY", "localsecret", ""),
		HTTPClient:  srv.Client(),
	})
	pc := s3.NewPresignClient(client, s3.WithPresignExpires(10*time.Minute))
	ctx := context.Background()
	for _, key := range []string{"plain", "sp ace/plus+/é~", "deep//path/"} {
		t.Run(key, func(t *testing.T) {
			get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Get(get.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if _, _, verr := rec.last(t); verr != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: status %d, server: %v", get.URL, resp.StatusCode, verr)
			}
			put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ContentType: aws.String("text/plain")})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("data"))
			req.Header = put.SignedHeader.Clone()
			req.Header.Del("Host")
			resp, err = srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			res, body, verr := rec.last(t)
			if verr != nil || resp.StatusCode != 200 || string(body) != "data" || res.Type != AuthSigV4Query {
				t.Fatalf("PUT %s: status %d, body %q, server: %v", put.URL, resp.StatusCode, body, verr)
			}
		})
	}
}
