package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/s3xproxy/s3xproxy/signing"
)

// client is the set of operations every client library is driven through.
type client interface {
	put(t *testing.T, bucket, key string, body []byte)
	get(t *testing.T, bucket, key string) []byte
	getRange(t *testing.T, bucket, key string, first, last int64) []byte
	head(t *testing.T, bucket, key string) int64
	del(t *testing.T, bucket, key string)
	list(t *testing.T, bucket, prefix string) []string
	multipart(t *testing.T, bucket, key string, parts [][]byte)
	copy(t *testing.T, bucket, src, dst string)
}

// ---- aws-sdk-go-v2 in plain path-style mode --------------------------------

type sdkClient struct{ c *s3.Client }

func newSDKClient(endpoint, key, secret string) *sdkClient {
	c := s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  awscreds.NewStaticCredentialsProvider(key, secret, ""),
		// With a full --x-s3 name the SDK would otherwise call CreateSession
		// itself and sign with a session: this is a legacy-style client.
		DisableS3ExpressSessionAuth: aws.Bool(true),
		RetryMaxAttempts:            1,
	})
	return &sdkClient{c: c}
}

func (s *sdkClient) put(t *testing.T, bucket, key string, body []byte) {
	t.Helper()
	_, err := s.c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		t.Fatalf("sdk PutObject %s/%s: %v", bucket, key, err)
	}
}

func (s *sdkClient) get(t *testing.T, bucket, key string) []byte {
	t.Helper()
	out, err := s.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("sdk GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *sdkClient) getRange(t *testing.T, bucket, key string, first, last int64) []byte {
	t.Helper()
	rng := fmt.Sprintf("bytes=%d-%d", first, last)
	out, err := s.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key, Range: &rng})
	if err != nil {
		t.Fatalf("sdk GetObject range %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

func (s *sdkClient) head(t *testing.T, bucket, key string) int64 {
	t.Helper()
	out, err := s.c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("sdk HeadObject %s/%s: %v", bucket, key, err)
	}
	return aws.ToInt64(out.ContentLength)
}

func (s *sdkClient) del(t *testing.T, bucket, key string) {
	t.Helper()
	if _, err := s.c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatalf("sdk DeleteObject %s/%s: %v", bucket, key, err)
	}
}

func (s *sdkClient) list(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	out, err := s.c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	if err != nil {
		t.Fatalf("sdk ListObjectsV2 %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	return keys
}

func (s *sdkClient) multipart(t *testing.T, bucket, key string, parts [][]byte) {
	t.Helper()
	ctx := context.Background()
	up, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("sdk CreateMultipartUpload: %v", err)
	}
	var done []s3types.CompletedPart
	for i, p := range parts {
		n := int32(i + 1)
		out, err := s.c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: &n,
			Body: bytes.NewReader(p), ContentLength: aws.Int64(int64(len(p))),
		})
		if err != nil {
			t.Fatalf("sdk UploadPart %d: %v", n, err)
		}
		done = append(done, s3types.CompletedPart{PartNumber: &n, ETag: out.ETag,
			ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C})
	}
	_, err = s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		t.Fatalf("sdk CompleteMultipartUpload: %v", err)
	}
}

func (s *sdkClient) copy(t *testing.T, bucket, src, dst string) {
	t.Helper()
	source := bucket + "/" + url.PathEscape(src)
	if _, err := s.c.CopyObject(context.Background(), &s3.CopyObjectInput{Bucket: &bucket, Key: &dst, CopySource: &source}); err != nil {
		t.Fatalf("sdk CopyObject: %v", err)
	}
}

// ---- minio-go ---------------------------------------------------------------

type minioClient struct{ c *minio.Client }

func newMinioClient(t *testing.T, endpoint, key, secret string) *minioClient {
	t.Helper()
	u, _ := url.Parse(endpoint)
	c, err := minio.New(u.Host, &minio.Options{
		Creds: miniocreds.NewStaticV4(key, secret, ""), Secure: false,
		Region: region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &minioClient{c: c}
}

func (m *minioClient) put(t *testing.T, bucket, key string, body []byte) {
	t.Helper()
	_, err := m.c.PutObject(context.Background(), bucket, key, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{DisableMultipart: true})
	if err != nil {
		t.Fatalf("minio PutObject %s/%s: %v", bucket, key, err)
	}
}

func (m *minioClient) read(t *testing.T, bucket, key string, opts minio.GetObjectOptions) []byte {
	t.Helper()
	o, err := m.c.GetObject(context.Background(), bucket, key, opts)
	if err != nil {
		t.Fatalf("minio GetObject %s/%s: %v", bucket, key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("minio GetObject %s/%s read: %v", bucket, key, err)
	}
	return b
}

func (m *minioClient) get(t *testing.T, bucket, key string) []byte {
	t.Helper()
	return m.read(t, bucket, key, minio.GetObjectOptions{})
}

func (m *minioClient) getRange(t *testing.T, bucket, key string, first, last int64) []byte {
	t.Helper()
	var o minio.GetObjectOptions
	if err := o.SetRange(first, last); err != nil {
		t.Fatal(err)
	}
	return m.read(t, bucket, key, o)
}

func (m *minioClient) head(t *testing.T, bucket, key string) int64 {
	t.Helper()
	st, err := m.c.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("minio StatObject %s/%s: %v", bucket, key, err)
	}
	return st.Size
}

func (m *minioClient) del(t *testing.T, bucket, key string) {
	t.Helper()
	if err := m.c.RemoveObject(context.Background(), bucket, key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("minio RemoveObject %s/%s: %v", bucket, key, err)
	}
}

func (m *minioClient) list(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range m.c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("minio ListObjects %s: %v", bucket, o.Err)
		}
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	return keys
}

func (m *minioClient) multipart(t *testing.T, bucket, key string, parts [][]byte) {
	t.Helper()
	core := minio.Core{Client: m.c}
	ctx := context.Background()
	id, err := core.NewMultipartUpload(ctx, bucket, key, minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("minio NewMultipartUpload: %v", err)
	}
	var done []minio.CompletePart
	for i, p := range parts {
		part, err := core.PutObjectPart(ctx, bucket, key, id, i+1, bytes.NewReader(p), int64(len(p)), minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatalf("minio PutObjectPart %d: %v", i+1, err)
		}
		done = append(done, minio.CompletePart{PartNumber: i + 1, ETag: part.ETag,
			ChecksumCRC32: part.ChecksumCRC32, ChecksumCRC32C: part.ChecksumCRC32C})
	}
	if _, err := core.CompleteMultipartUpload(ctx, bucket, key, id, done, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("minio CompleteMultipartUpload: %v", err)
	}
}

func (m *minioClient) copy(t *testing.T, bucket, src, dst string) {
	t.Helper()
	_, err := m.c.CopyObject(context.Background(),
		minio.CopyDestOptions{Bucket: bucket, Object: dst}, minio.CopySrcOptions{Bucket: bucket, Object: src})
	if err != nil {
		t.Fatalf("minio CopyObject: %v", err)
	}
}

// ---- raw net/http with hand-signed SigV4 ------------------------------------

type rawClient struct {
	endpoint, key, secret string
}

func (r *rawClient) do(t *testing.T, method, bucket, key, query string, body []byte, hdr http.Header) (int, []byte, http.Header) {
	t.Helper()
	u := r.endpoint + "/" + bucket
	if key != "" {
		u += signing.EncodePath("/" + key)
	}
	if query != "" {
		u += "?" + query
	}
	return do(t, signedRequest(t, method, u, r.key, r.secret, body, time.Now(), hdr))
}

func (r *rawClient) must(t *testing.T, want int, method, bucket, key, query string, body []byte, hdr http.Header) ([]byte, http.Header) {
	t.Helper()
	status, b, h := r.do(t, method, bucket, key, query, body, hdr)
	if status != want {
		t.Fatalf("raw %s %s/%s?%s: status %d, want %d: %s", method, bucket, key, query, status, want, b)
	}
	return b, h
}

func (r *rawClient) put(t *testing.T, bucket, key string, body []byte) {
	t.Helper()
	r.must(t, 200, "PUT", bucket, key, "", body, nil)
}

func (r *rawClient) get(t *testing.T, bucket, key string) []byte {
	t.Helper()
	b, _ := r.must(t, 200, "GET", bucket, key, "", nil, nil)
	return b
}

func (r *rawClient) getRange(t *testing.T, bucket, key string, first, last int64) []byte {
	t.Helper()
	b, _ := r.must(t, 206, "GET", bucket, key, "", nil, http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", first, last)}})
	return b
}

func (r *rawClient) head(t *testing.T, bucket, key string) int64 {
	t.Helper()
	_, h := r.must(t, 200, "HEAD", bucket, key, "", nil, nil)
	n, _ := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	return n
}

func (r *rawClient) del(t *testing.T, bucket, key string) {
	t.Helper()
	r.must(t, 204, "DELETE", bucket, key, "", nil, nil)
}

func (r *rawClient) list(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	b, _ := r.must(t, 200, "GET", bucket, "", "list-type=2&prefix="+url.QueryEscape(prefix), nil, nil)
	var out struct {
		Contents []struct{ Key string }
	}
	if err := xml.Unmarshal(b, &out); err != nil {
		t.Fatalf("raw list: %v: %s", err, b)
	}
	var keys []string
	for _, c := range out.Contents {
		keys = append(keys, c.Key)
	}
	sort.Strings(keys)
	return keys
}

func (r *rawClient) multipart(t *testing.T, bucket, key string, parts [][]byte) {
	t.Helper()
	b, _ := r.must(t, 200, "POST", bucket, key, "uploads", nil, nil)
	var init struct{ UploadId string }
	if err := xml.Unmarshal(b, &init); err != nil || init.UploadId == "" {
		t.Fatalf("raw CreateMultipartUpload: %v: %s", err, b)
	}
	var complete strings.Builder
	complete.WriteString("<CompleteMultipartUpload>")
	for i, p := range parts {
		q := fmt.Sprintf("partNumber=%d&uploadId=%s", i+1, url.QueryEscape(init.UploadId))
		_, h := r.must(t, 200, "PUT", bucket, key, q, p, nil)
		fmt.Fprintf(&complete, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, h.Get("ETag"))
	}
	complete.WriteString("</CompleteMultipartUpload>")
	b, _ = r.must(t, 200, "POST", bucket, key, "uploadId="+url.QueryEscape(init.UploadId), []byte(complete.String()), nil)
	if bytes.Contains(b, []byte("<Error>")) {
		t.Fatalf("raw CompleteMultipartUpload: %s", b)
	}
}

func (r *rawClient) copy(t *testing.T, bucket, src, dst string) {
	t.Helper()
	hdr := http.Header{"X-Amz-Copy-Source": {"/" + bucket + signing.EncodePath("/"+src)}}
	b, _ := r.must(t, 200, "PUT", bucket, dst, "", nil, hdr)
	if bytes.Contains(b, []byte("<Error>")) {
		t.Fatalf("raw CopyObject: %s", b)
	}
}
