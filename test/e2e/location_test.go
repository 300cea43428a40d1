package e2e

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"testing"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// TestGetBucketLocation: the proxy answers GetBucketLocation itself from
// the routed region (directory buckets do not serve it), and minio-go
// configured without a region — which asks it before anything else —
// round-trips an object. Nothing but data calls reach the emulator.
func TestGetBucketLocation(t *testing.T) {
	e := newEnv(t, envConfig{})
	u, _ := url.Parse(e.srv.URL)
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        miniocreds.NewStaticV4(rwKey, rwSecret, ""),
		BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, bucket := range []string{aliasData, bucketData} {
		t.Run(bucket, func(t *testing.T) {
			loc, err := c.GetBucketLocation(ctx, bucket)
			if err != nil || loc != "us-west-2" {
				t.Fatalf("GetBucketLocation = %q, %v; want us-west-2 (the zone usw2-az1's region)", loc, err)
			}
			body := []byte("located " + bucket)
			if _, err := c.PutObject(ctx, bucket, "loc/k", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			obj, err := c.GetObject(ctx, bucket, "loc/k", minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("GetObject = %q, %v; want %q", got, err, body)
			}
		})
	}
	if n := e.emu.Stats().Requests["GetBucketLocation"]; n != 0 {
		t.Fatalf("GetBucketLocation reached the emulator %d times; the proxy answers it", n)
	}
}
