package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// TestPresignedURLs: SigV4 presigned GET and PUT URLs made by the SDK and
// by minio-go work through the proxy, and an expired one is refused.
func TestPresignedURLs(t *testing.T) {
	e := newEnv(t, envConfig{})
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	pc := s3.NewPresignClient(sdk.c)
	ctx := context.Background()

	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(aliasData), Key: aws.String("presigned/k")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", put.URL, strings.NewReader("presigned body"))
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	if status, body, _ := do(t, req); status != 200 {
		t.Fatalf("presigned PUT: %d %s", status, body)
	}

	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(aliasData), Key: aws.String("presigned/k")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", get.URL, nil)
	if status, body, _ := do(t, req); status != 200 || string(body) != "presigned body" {
		t.Fatalf("SDK presigned GET: %d %s", status, body)
	}

	mc := newMinioClient(t, e.srv.URL, rwKey, rwSecret)
	u, err := mc.c.PresignedGetObject(ctx, aliasData, "presigned/k", time.Minute, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "presigned body" {
		t.Fatalf("minio presigned GET: %d %s", resp.StatusCode, b)
	}

	expired, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(aliasData), Key: aws.String("presigned/k")},
		func(o *s3.PresignOptions) {
			o.Expires = time.Second
			o.Presigner = backdated{o.Presigner, time.Hour}
		})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", expired.URL, nil)
	if status, body, _ := do(t, req); status != 403 || s3Code(body) != "AccessDenied" {
		t.Fatalf("expired presigned GET: %d %s, want 403 AccessDenied", status, body)
	}
	if strings.Contains(e.logs.String(), "X-Amz-Signature") {
		t.Fatal("a presigned query string was logged")
	}
	assertNoSecretsLogged(t, e)
}

// backdated presigns as if it were d ago.
type backdated struct {
	next s3.HTTPPresignerV4
	d    time.Duration
}

func (b backdated) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, at time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return b.next.PresignHTTP(ctx, creds, r, payloadHash, service, region, at.Add(-b.d), optFns...)
}

// TestSigV2Client: a SigV2 client (minio-go's V2 signer) works when SigV2
// is enabled, and is refused with a clear error when it is not.
func TestSigV2Client(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("sigv2=%v", enabled), func(t *testing.T) {
			e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.SigV2 = enabled }})
			u, _ := url.Parse(e.srv.URL)
			c, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV2(rwKey, rwSecret, ""),
				Region: region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_, err = c.PutObject(ctx, aliasData, "v2/k", strings.NewReader("sigv2 body"), 10, minio.PutObjectOptions{DisableMultipart: true})
			if !enabled {
				var me minio.ErrorResponse
				if !errors.As(err, &me) || me.Code != "InvalidRequest" {
					t.Fatalf("SigV2 while disabled: %v, want InvalidRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SigV2 PutObject: %v", err)
			}
			mc := &minioClient{c: c}
			if got := mc.get(t, aliasData, "v2/k"); string(got) != "sigv2 body" {
				t.Fatalf("SigV2 GetObject: %q", got)
			}
			if recs := e.recs.all(); recs[len(recs)-1].AuthType != "sigv2" {
				t.Fatalf("auth type %q, want sigv2", recs[len(recs)-1].AuthType)
			}
			assertNoSecretsLogged(t, e)
		})
	}
}
