package emulator

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func getBytes(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func TestConformanceCopyDelete(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	data := randBytes(3000)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("src key+1"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/x-test"), Metadata: map[string]string{"color": "blue"}}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	e.ResetStats()
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dst"), CopySource: aws.String(testBucket + "/src%20key%2B1")})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if st := e.Stats(); st.IAMRequests["CopyObject"] != 1 || st.SessionRequests["CopyObject"] != 0 {
		t.Errorf("CopyObject auth: iam %v session %v, want IAM-signed", st.IAMRequests, st.SessionRequests)
	}
	if cp.CopyObjectResult == nil || aws.ToString(cp.CopyObjectResult.ETag) == "" {
		t.Fatalf("CopyObjectResult = %+v", cp.CopyObjectResult)
	}
	if got := getBytes(t, c, testBucket, "dst"); !bytes.Equal(got, data) {
		t.Fatal("copied bytes differ")
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dst")})
	if err != nil || aws.ToString(head.ContentType) != "text/x-test" || head.Metadata["color"] != "blue" || head.StorageClass != types.StorageClassExpressOnezone {
		t.Fatalf("HeadObject dst: %v %+v", err, head)
	}
	// Cross-bucket copy with REPLACE metadata.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(otherBkt), Key: aws.String("x"), CopySource: aws.String(testBucket + "/dst"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"color": "red"}}); err != nil {
		t.Fatalf("CopyObject cross-bucket: %v", err)
	}
	h2, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(otherBkt), Key: aws.String("x")})
	if err != nil || h2.Metadata["color"] != "red" || aws.ToInt64(h2.ContentLength) != 3000 {
		t.Fatalf("HeadObject other/x: %v %+v", err, h2)
	}
	// Copy onto itself without changes is illegal, as in S3.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dst"), CopySource: aws.String(testBucket + "/dst")})
	if httpStatus(err) != 400 || apiCode(err) != "InvalidRequest" {
		t.Errorf("self copy err = %v, want 400 InvalidRequest", err)
	}
	// DeleteObject, then HEAD is 404.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String("src key+1")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("src key+1")}); httpStatus(err) != 404 {
		t.Fatalf("HeadObject deleted: %v, want 404", err)
	}
	// DeleteObjects (the SDK sends a CRC32 checksum, no Content-MD5).
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(testBucket), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("dst")}, {Key: aws.String("never-existed")}}}})
	if err != nil || len(del.Deleted) != 2 || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v %+v", err, del)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dst")}); httpStatus(err) != 404 {
		t.Fatalf("HeadObject after DeleteObjects: %v, want 404", err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("dst")}); apiCode(err) != "NoSuchKey" {
		t.Fatalf("GetObject after delete: %v, want NoSuchKey", err)
	}
}

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

func TestConformanceBucketsAndControl(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	hb, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(testBucket)})
	if err != nil || aws.ToString(hb.BucketRegion) != testRegion || aws.ToString(hb.BucketLocationName) != "usw2-az1" || hb.BucketLocationType != types.LocationTypeAvailabilityZone {
		t.Fatalf("HeadBucket: %v %+v", err, hb)
	}
	// The SDK's CreateSession fails first; its error is not wrapped with %w.
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing--usw2-az1--x-s3")}); err == nil || !strings.Contains(err.Error(), "StatusCode: 404") || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("HeadBucket missing: %v, want 404 NoSuchBucket", err)
	}
	nb := "fresh--usw2-az1--x-s3"
	e.ResetStats()
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(nb), CreateBucketConfiguration: &types.CreateBucketConfiguration{
		Location: &types.LocationInfo{Type: types.LocationTypeAvailabilityZone, Name: aws.String("usw2-az1")},
		Bucket:   &types.BucketInfo{Type: types.BucketTypeDirectory, DataRedundancy: types.DataRedundancySingleAvailabilityZone}}})
	if err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if st := e.Stats(); st.IAMRequests["CreateBucket"] != 1 || st.Requests["CreateSession"] != 0 {
		t.Errorf("CreateBucket stats %+v: want IAM-signed on the control host, no CreateSession", st)
	}
	lb, err := c.ListDirectoryBuckets(ctx, &s3.ListDirectoryBucketsInput{})
	if err != nil {
		t.Fatalf("ListDirectoryBuckets: %v", err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if strings.Join(names, ",") != "conformance--usw2-az1--x-s3,fresh--usw2-az1--x-s3,other--usw2-az1--x-s3" {
		t.Errorf("ListDirectoryBuckets = %v", names)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(nb), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject in new bucket: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(nb)}); httpStatus(err) != 409 || apiCode(err) != "BucketNotEmpty" {
		t.Fatalf("DeleteBucket non-empty: %v, want 409 BucketNotEmpty", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(nb), Key: aws.String("k")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(nb)}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(nb)}); httpStatus(err) != 404 {
		t.Fatalf("HeadBucket deleted: %v, want 404", err)
	}
}

func TestConformanceGeneralPurposeBucket(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	e.ResetStats()
	for _, k := range []string{"b", "a", "c/d"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(gpBucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
	}
	if got := getBytes(t, c, gpBucket, "c/d"); string(got) != "c/d" {
		t.Fatalf("GetObject = %q", got)
	}
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(gpBucket), Delimiter: aws.String("/")})
	if err != nil || len(v1.Contents) != 2 || aws.ToString(v1.Contents[0].Key) != "a" || len(v1.CommonPrefixes) != 1 {
		t.Fatalf("ListObjects V1: %v %+v", err, v1)
	}
	st := e.Stats()
	if st.Requests["CreateSession"] != 0 || st.IAMRequests["PutObject"] != 3 {
		t.Errorf("stats %+v: general-purpose buckets use plain SigV4 (service s3)", st)
	}
}

func TestConformancePresignedGet(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e)
	ctx := ctxT(t)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("pre/signed"), Body: strings.NewReader("presigned body")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	ps := s3.NewPresignClient(c)
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("pre/signed")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatalf("PresignGetObject: %v", err)
	}
	if !strings.Contains(req.URL, "X-Amz-S3session-Token=") {
		t.Errorf("presigned URL lacks X-Amz-S3session-Token: %s", req.URL)
	}
	hc := &http.Client{Transport: e.Transport()}
	resp, err := hc.Get(req.URL)
	if err != nil {
		t.Fatalf("GET presigned: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "presigned body" {
		t.Fatalf("presigned GET = %d %q", resp.StatusCode, body)
	}
	if st := e.Stats(); st.SessionRequests["GetObject"] != 1 {
		t.Errorf("presigned GET not counted as session-signed: %+v", st.SessionRequests)
	}
}

// TestConformanceKeys round-trips awkward keys through the SDK: the key is
// the percent-decoded path, and signatures are computed on the re-encoded
// canonical form.
func TestConformanceKeys(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	keys := []string{"a b", "plus+sign", "tilde~x", "unicode/é/日本", "double//slash", "trailing/", "pct%2Fliteral", "semi;colon=eq&amp", "star*(paren)!", "q?mark#hash"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("PutObject %q: %v", k, err)
		}
		if got := getBytes(t, c, testBucket, k); string(got) != k {
			t.Fatalf("GetObject %q = %q", k, got)
		}
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("empty"), Body: strings.NewReader("")}); err != nil {
		t.Fatalf("PutObject empty: %v", err)
	}
	if got := getBytes(t, c, testBucket, "empty"); len(got) != 0 {
		t.Fatalf("empty object = %q", got)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	listed := map[string]bool{}
	for _, o := range out.Contents {
		listed[aws.ToString(o.Key)] = true
	}
	for _, k := range append(keys, "empty") {
		if !listed[k] {
			t.Errorf("key %q not listed (listed %v)", k, listed)
		}
	}
}
