package emulator

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestConcurrentClients runs writers, readers, listers and a multipart
// upload at once (meaningful under -race) and checks one session was
// created for the bucket whatever the concurrency.
func TestConcurrentClients(t *testing.T) {
	for _, storage := range []string{"memory", "disk"} {
		t.Run(storage, func(t *testing.T) {
			dir := t.TempDir()
			e := startTLS(t, func(o *Options) { o.Storage, o.DataDir = storage, dir })
			c := sdkClient(t, e)
			ctx := ctxT(t)
			cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("mp")})
			if err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			parts := make([]types.CompletedPart, 4)
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 15; i++ {
						key := fmt.Sprintf("shared/%d", i%3)
						body := bytes.Repeat([]byte{byte('a' + w)}, 1000+i)
						if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
							errs <- err
							return
						}
						out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
						if err == nil {
							b, _ := io.ReadAll(out.Body)
							out.Body.Close()
							if len(b) < 1000 || !bytes.Equal(b, bytes.Repeat(b[:1], len(b))) {
								errs <- fmt.Errorf("torn object %s: %d bytes", key, len(b))
								return
							}
						}
						if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String("shared/")}); err != nil {
							errs <- err
							return
						}
						if i%5 == 4 {
							_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
						}
					}
					up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String("mp"), UploadId: cr.UploadId,
						PartNumber: aws.Int32(int32(w + 1)), Body: bytes.NewReader(bytes.Repeat([]byte{byte('0' + w)}, 5<<20))})
					if err != nil {
						errs <- err
						return
					}
					parts[w] = types.CompletedPart{PartNumber: aws.Int32(int32(w + 1)), ETag: up.ETag}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("mp"), UploadId: cr.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			got := getBytes(t, c, testBucket, "mp")
			if len(got) != 20<<20 || got[0] != '0' || got[len(got)-1] != '3' {
				t.Fatalf("assembled %d bytes", len(got))
			}
			if n := e.Stats().CreateSessions[testBucket+"/ReadWrite"]; n != 1 {
				t.Errorf("CreateSessions = %d, want 1", n)
			}
		})
	}
}
