package emulator

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestStorageModes(t *testing.T) {
	for _, mode := range []string{"memory", "disk", "discard"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			e := startTLS(t, func(o *Options) { o.Storage, o.DataDir = mode, dir })
			c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
			ctx := ctxT(t)
			data := randBytes(300_000)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("obj"), Body: onlyReader{bytes.NewReader(data)},
				ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			want := data
			if mode == "discard" {
				want = make([]byte, len(data))
				for i := range want {
					want[i] = PatternByte(int64(i))
				}
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("obj"), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("GetObject: %v, %d bytes, equal %v", err, len(got), bytes.Equal(got, want))
			}
			hasSum := aws.ToString(out.ChecksumSHA256) != ""
			if hasSum == (mode == "discard") {
				t.Errorf("checksum returned = %v; discard storage must not return checksums of bytes it does not serve", hasSum)
			}
			rg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("obj"), Range: aws.String("bytes=1000-1999")})
			if err != nil {
				t.Fatalf("range GET: %v", err)
			}
			part, _ := io.ReadAll(rg.Body)
			rg.Body.Close()
			if !bytes.Equal(part, want[1000:2000]) {
				t.Fatal("range bytes differ")
			}
			if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String("copy"), CopySource: aws.String(testBucket + "/obj")}); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			if got := getBytes(t, c, testBucket, "copy"); !bytes.Equal(got, want) {
				t.Fatal("copy differs")
			}
			for _, k := range []string{"obj", "copy"} {
				if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k)}); err != nil {
					t.Fatalf("DeleteObject: %v", err)
				}
			}
			if mode == "disk" {
				ents, _ := os.ReadDir(dir)
				if len(ents) != 0 {
					t.Errorf("disk blobs left after delete: %d", len(ents))
				}
			}
		})
	}
}

func TestDiscardPattern(t *testing.T) {
	var p patternReaderAt
	buf := make([]byte, 70000)
	for _, off := range []int64{0, 1, 250, 251, 123456789} {
		if _, err := p.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		for i, b := range buf {
			if b != PatternByte(off+int64(i)) {
				t.Fatalf("offset %d+%d: %d, want %d", off, i, b, PatternByte(off+int64(i)))
			}
		}
	}
}

func TestNewStoreErrors(t *testing.T) {
	if _, err := New(Options{Storage: "tape"}); err == nil {
		t.Error("unknown storage accepted")
	}
	if _, err := New(Options{Storage: "disk"}); err == nil {
		t.Error("disk without DataDir accepted")
	}
}
