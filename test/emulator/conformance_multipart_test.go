package emulator

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestConformanceMultipart(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	const mib = 1 << 20
	src := randBytes(2 * mib)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("copy-src"), Body: bytes.NewReader(src)}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	key := "mp/object"
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ContentType: aws.String("application/x-mp")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	id := cr.UploadId
	p1, p2 := randBytes(5*mib), randBytes(5*mib)
	u1, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(p1), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	if err != nil {
		t.Fatalf("UploadPart 1: %v", err)
	}
	u2, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(2),
		Body: onlyReader{bytes.NewReader(p2)}, ContentLength: aws.Int64(int64(len(p2))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
	if err != nil {
		t.Fatalf("UploadPart 2 (trailing checksum): %v", err)
	}
	if aws.ToString(u2.ChecksumCRC32C) != checksumOfBytes(algCRC32C, p2) {
		t.Errorf("UploadPart 2 checksum %s", aws.ToString(u2.ChecksumCRC32C))
	}
	u3, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(3),
		CopySource: aws.String(testBucket + "/copy-src"), CopySourceRange: aws.String("bytes=1048576-2097151")})
	if err != nil {
		t.Fatalf("UploadPartCopy: %v", err)
	}
	p3 := src[mib:]
	if aws.ToString(u3.CopyPartResult.ChecksumCRC32C) != checksumOfBytes(algCRC32C, p3) {
		t.Errorf("UploadPartCopy checksum %s, want %s", aws.ToString(u3.CopyPartResult.ChecksumCRC32C), checksumOfBytes(algCRC32C, p3))
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: id})
	if err != nil || len(parts.Parts) != 3 || aws.ToInt64(parts.Parts[2].Size) != mib || parts.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32c {
		t.Fatalf("ListParts: %v %+v", err, parts)
	}
	// A second upload, aborted; listing shows only live uploads.
	cr2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("mp/aborted")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload 2: %v", err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
	if err != nil || len(ups.Uploads) != 2 {
		t.Fatalf("ListMultipartUploads: %v %+v", err, ups)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("mp/aborted"), UploadId: cr2.UploadId}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String("mp/aborted"), UploadId: cr2.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	if apiCode(err) != "NoSuchUpload" {
		t.Fatalf("UploadPart after abort: %v, want NoSuchUpload", err)
	}
	completed := []types.CompletedPart{
		{PartNumber: aws.Int32(1), ETag: u1.ETag, ChecksumCRC32C: u1.ChecksumCRC32C},
		{PartNumber: aws.Int32(2), ETag: u2.ETag, ChecksumCRC32C: u2.ChecksumCRC32C},
		{PartNumber: aws.Int32(3), ETag: u3.CopyPartResult.ETag, ChecksumCRC32C: u3.CopyPartResult.ChecksumCRC32C},
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if !strings.HasSuffix(aws.ToString(done.ETag), `-3"`) || !strings.HasSuffix(aws.ToString(done.ChecksumCRC32C), "-3") {
		t.Errorf("Complete ETag %s checksum %s", aws.ToString(done.ETag), aws.ToString(done.ChecksumCRC32C))
	}
	want := append(append(append([]byte(nil), p1...), p2...), p3...)
	if got := getBytes(t, c, testBucket, key); !bytes.Equal(got, want) {
		t.Fatalf("assembled object differs (len %d, want %d)", len(got), len(want))
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), PartNumber: aws.Int32(3)})
	if err != nil || aws.ToInt64(head.ContentLength) != mib || aws.ToInt32(head.PartsCount) != 3 || aws.ToString(head.ContentType) != "application/x-mp" {
		t.Fatalf("HeadObject part 3: %v %+v", err, head)
	}
	attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts, types.ObjectAttributesChecksum}})
	if err != nil || attrs.ObjectParts == nil || aws.ToInt32(attrs.ObjectParts.TotalPartsCount) != 3 || len(attrs.ObjectParts.Parts) != 3 ||
		aws.ToString(attrs.ObjectParts.Parts[1].ChecksumCRC32C) != checksumOfBytes(algCRC32C, p2) {
		t.Fatalf("GetObjectAttributes: %v %+v", err, attrs.ObjectParts)
	}
	ups, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("ListMultipartUploads after complete: %v %+v", err, ups.Uploads)
	}
}

func TestConformanceMultipartRules(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	small := []byte("tiny part")
	start := func(t *testing.T) (*string, []types.CompletedPart) {
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("rules")})
		if err != nil {
			t.Fatalf("CreateMultipartUpload: %v", err)
		}
		var parts []types.CompletedPart
		for _, n := range []int32{1, 2, 3} {
			up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String("rules"), UploadId: cr.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(small)})
			if err != nil {
				t.Fatalf("UploadPart: %v", err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: up.ETag})
		}
		return cr.UploadId, parts
	}
	tests := []struct {
		name  string
		parts func([]types.CompletedPart) []types.CompletedPart
		code  string
	}{
		{"not consecutive", func(p []types.CompletedPart) []types.CompletedPart { return []types.CompletedPart{p[0], p[2]} }, "InvalidPartOrder"},
		{"descending", func(p []types.CompletedPart) []types.CompletedPart { return []types.CompletedPart{p[1], p[0]} }, "InvalidPartOrder"},
		{"wrong etag", func(p []types.CompletedPart) []types.CompletedPart {
			return []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"bogus"`)}}
		}, "InvalidPart"},
		{"small non-last part", func(p []types.CompletedPart) []types.CompletedPart { return p[:2] }, "EntityTooSmall"},
		{"single small part ok", func(p []types.CompletedPart) []types.CompletedPart { return p[:1] }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, parts := start(t)
			_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("rules"), UploadId: id,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: tc.parts(parts)}})
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				return
			}
			if httpStatus(err) != 400 || apiCode(err) != tc.code {
				t.Fatalf("Complete err = %v, want 400 %s", err, tc.code)
			}
		})
	}
}
