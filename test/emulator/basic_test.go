package emulator

import (
	"bytes"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestSDKBasicPutGetHeadList(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e)
	ctx := ctxT(t)
	body := []byte("hello, express")
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dir/a.txt"), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dir/a.txt")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(got, body) || aws.ToString(get.ETag) != aws.ToString(put.ETag) {
		t.Fatalf("GetObject = %q etag %s, want %q etag %s", got, aws.ToString(get.ETag), body, aws.ToString(put.ETag))
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dir/a.txt")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) {
		t.Fatalf("HeadObject: %v %v", err, head)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "dir/a.txt" {
		t.Fatalf("ListObjectsV2: %v %+v", err, list)
	}
	st := e.Stats()
	t.Logf("stats %+v", st)
	if st.CreateSessions[testBucket+"/ReadWrite"] != 1 {
		t.Errorf("CreateSessions = %v, want one ReadWrite", st.CreateSessions)
	}
}

func TestSDKExpireSessions(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	e.ExpireSessions()
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
	if err == nil {
		t.Fatal("HeadObject after ExpireSessions succeeded, want ExpiredToken")
	}
	if got := e.Stats().Rejections["ExpiredToken"]; got != 1 {
		t.Fatalf("ExpiredToken rejections = %d (err %v), want 1", got, err)
	}
}
