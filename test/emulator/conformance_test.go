package emulator

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// recorder records the payload hash mode of each request the SDK sends.
type recorder struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	seen map[string][]string // "METHOD path" -> x-amz-content-sha256 values
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	k := req.Method + " " + req.URL.Path
	r.seen[k] = append(r.seen[k], req.Header.Get("X-Amz-Content-Sha256"))
	r.mu.Unlock()
	return r.rt.RoundTrip(req)
}

func (r *recorder) modes(k string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen[k]...)
}

func recordingClient(t *testing.T, e *Emulator) (*s3.Client, *recorder) {
	rec := &recorder{seen: map[string][]string{}}
	c := sdkClient(t, e, func(o *s3.Options) {
		rec.rt = o.HTTPClient.(*http.Client).Transport
		o.HTTPClient = &http.Client{Transport: rec}
	})
	return c, rec
}

// onlyReader hides Seek, so the SDK must stream (aws-chunked with a
// trailing checksum over TLS).
type onlyReader struct{ io.Reader }

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func checksumOfBytes(alg string, b []byte) string {
	h := newChecksum(alg)
	h.Write(b)
	return sumBase64(h)
}

func outputChecksum(alg string, crc32, crc32c, crc64, sha1, sha256 *string) string {
	m := map[string]*string{algCRC32: crc32, algCRC32C: crc32c, algCRC64NVME: crc64, algSHA1: sha1, algSHA256: sha256}
	return aws.ToString(m[alg])
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestConformanceChecksums(t *testing.T) {
	e := startTLS(t)
	c, rec := recordingClient(t, e)
	ctx := ctxT(t)
	algs := []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme}
	for _, alg := range algs {
		for _, streaming := range []bool{false, true} {
			name := string(alg)
			if name == "" {
				name = "default"
			}
			if streaming {
				name += "/streaming"
			}
			t.Run(name, func(t *testing.T) {
				data := randBytes(100_000)
				key := "sum/" + strings.ReplaceAll(name, "/", "-")
				in := &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), ChecksumAlgorithm: alg,
					ContentLength: aws.Int64(int64(len(data)))}
				if streaming {
					in.Body = onlyReader{bytes.NewReader(data)}
				} else {
					in.Body = bytes.NewReader(data)
				}
				if _, err := c.PutObject(ctx, in); err != nil {
					t.Fatalf("PutObject: %v", err)
				}
				wantAlg := string(alg)
				if wantAlg == "" {
					wantAlg = algCRC32 // the SDK default for directory buckets
				}
				modes := rec.modes("PUT /" + key)
				if streaming && (len(modes) != 1 || modes[0] != streamUnsTr) {
					t.Errorf("payload modes = %v, want %s", modes, streamUnsTr)
				}
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				got, err := io.ReadAll(out.Body)
				out.Body.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("GetObject body: %v, equal=%v", err, bytes.Equal(got, data))
				}
				want := checksumOfBytes(wantAlg, data)
				if v := outputChecksum(wantAlg, out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256); v != want {
					t.Errorf("GetObject %s = %q, want %q", wantAlg, v, want)
				}
				if out.ChecksumType != types.ChecksumTypeFullObject {
					t.Errorf("ChecksumType = %q", out.ChecksumType)
				}
				attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String(testBucket), Key: aws.String(key),
					ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectSize, types.ObjectAttributesEtag, types.ObjectAttributesStorageClass}})
				if err != nil {
					t.Fatalf("GetObjectAttributes: %v", err)
				}
				cs := attrs.Checksum
				if cs == nil || outputChecksum(wantAlg, cs.ChecksumCRC32, cs.ChecksumCRC32C, cs.ChecksumCRC64NVME, cs.ChecksumSHA1, cs.ChecksumSHA256) != want {
					t.Errorf("GetObjectAttributes checksum = %+v, want %s %s", cs, wantAlg, want)
				}
				if aws.ToInt64(attrs.ObjectSize) != int64(len(data)) || attrs.StorageClass != types.StorageClassExpressOnezone ||
					`"`+aws.ToString(attrs.ETag)+`"` != aws.ToString(out.ETag) {
					t.Errorf("GetObjectAttributes = size %d class %s etag %s (object etag %s)", aws.ToInt64(attrs.ObjectSize), attrs.StorageClass, aws.ToString(attrs.ETag), aws.ToString(out.ETag))
				}
			})
		}
	}
}

func TestConformanceRangeAndConditional(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	data := randBytes(100)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("r"), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	etag := aws.ToString(put.ETag)
	if e := strings.Trim(etag, `"`); len(e) != 32 || e == checksumOfBytes(algSHA1, data) {
		t.Fatalf("ETag %q, want 32 random alphanumerics", etag)
	}
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	tests := []struct {
		name       string
		in         s3.GetObjectInput
		wantBody   []byte
		wantRange  string
		wantStatus int
		wantCode   string
	}{
		{name: "range", in: s3.GetObjectInput{Range: aws.String("bytes=10-19")}, wantBody: data[10:20], wantRange: "bytes 10-19/100"},
		{name: "suffix range", in: s3.GetObjectInput{Range: aws.String("bytes=-5")}, wantBody: data[95:], wantRange: "bytes 95-99/100"},
		{name: "open range", in: s3.GetObjectInput{Range: aws.String("bytes=90-")}, wantBody: data[90:], wantRange: "bytes 90-99/100"},
		{name: "range past end clamps", in: s3.GetObjectInput{Range: aws.String("bytes=98-200")}, wantBody: data[98:], wantRange: "bytes 98-99/100"},
		{name: "unsatisfiable", in: s3.GetObjectInput{Range: aws.String("bytes=100-")}, wantStatus: 416, wantCode: "InvalidRange"},
		{name: "if-match ok", in: s3.GetObjectInput{IfMatch: aws.String(etag)}, wantBody: data},
		{name: "if-match fails", in: s3.GetObjectInput{IfMatch: aws.String(`"nope"`)}, wantStatus: 412, wantCode: "PreconditionFailed"},
		{name: "if-none-match", in: s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, wantStatus: 304},
		{name: "if-none-match other", in: s3.GetObjectInput{IfNoneMatch: aws.String(`"nope"`)}, wantBody: data},
		{name: "if-modified-since future", in: s3.GetObjectInput{IfModifiedSince: aws.Time(future)}, wantStatus: 304},
		{name: "if-modified-since past", in: s3.GetObjectInput{IfModifiedSince: aws.Time(past)}, wantBody: data},
		{name: "if-unmodified-since past", in: s3.GetObjectInput{IfUnmodifiedSince: aws.Time(past)}, wantStatus: 412, wantCode: "PreconditionFailed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Bucket, in.Key = aws.String(testBucket), aws.String("r")
			out, err := c.GetObject(ctx, &in)
			if tc.wantStatus != 0 {
				if err == nil {
					out.Body.Close()
					t.Fatalf("GetObject succeeded, want %d", tc.wantStatus)
				}
				if httpStatus(err) != tc.wantStatus || tc.wantCode != "" && apiCode(err) != tc.wantCode {
					t.Fatalf("GetObject err = %v (status %d code %s), want %d %s", err, httpStatus(err), apiCode(err), tc.wantStatus, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(got, tc.wantBody) || aws.ToString(out.ContentRange) != tc.wantRange {
				t.Fatalf("got %d bytes range %q, want %d bytes range %q", len(got), aws.ToString(out.ContentRange), len(tc.wantBody), tc.wantRange)
			}
		})
	}
}

func TestConformanceListObjectsV2(t *testing.T) {
	e := startTLS(t)
	c := sdkClient(t, e, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := ctxT(t)
	var keys []string
	for i := 0; i < 20; i++ {
		keys = append(keys, "p/"+string(rune('a'+i))+".txt")
	}
	keys = append(keys, "q/x1", "q/y/x2", "top1", "top2", "top3")
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	list := func(t *testing.T, in s3.ListObjectsV2Input) (objs, prefixes []string, pages int) {
		t.Helper()
		in.Bucket = aws.String(testBucket)
		p := s3.NewListObjectsV2Paginator(c, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}
			pages++
			if int(aws.ToInt32(out.KeyCount)) != len(out.Contents)+len(out.CommonPrefixes) {
				t.Fatalf("KeyCount %d != %d+%d", aws.ToInt32(out.KeyCount), len(out.Contents), len(out.CommonPrefixes))
			}
			for _, o := range out.Contents {
				objs = append(objs, aws.ToString(o.Key))
				if o.StorageClass != types.ObjectStorageClassExpressOnezone || aws.ToInt64(o.Size) != int64(len(aws.ToString(o.Key))) {
					t.Errorf("object %s: class %s size %d", aws.ToString(o.Key), o.StorageClass, aws.ToInt64(o.Size))
				}
			}
			for _, cp := range out.CommonPrefixes {
				prefixes = append(prefixes, aws.ToString(cp.Prefix))
			}
		}
		return objs, prefixes, pages
	}
	t.Run("all keys paged", func(t *testing.T) {
		objs, _, pages := list(t, s3.ListObjectsV2Input{MaxKeys: aws.Int32(4)})
		if pages != 7 {
			t.Errorf("pages = %d, want 7", pages)
		}
		if sort.StringsAreSorted(objs) {
			t.Errorf("listing is lexicographic; S3 Express lists unordered: %v", objs)
		}
		sorted := append([]string(nil), objs...)
		sort.Strings(sorted)
		want := append([]string(nil), keys...)
		sort.Strings(want)
		if strings.Join(sorted, ",") != strings.Join(want, ",") {
			t.Errorf("keys = %v, want %v", sorted, want)
		}
	})
	t.Run("delimiter", func(t *testing.T) {
		objs, prefixes, _ := list(t, s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
		sort.Strings(objs)
		sort.Strings(prefixes)
		if strings.Join(objs, ",") != "top1,top2,top3" || strings.Join(prefixes, ",") != "p/,q/" {
			t.Errorf("objects %v prefixes %v", objs, prefixes)
		}
	})
	t.Run("prefix and delimiter", func(t *testing.T) {
		objs, prefixes, _ := list(t, s3.ListObjectsV2Input{Prefix: aws.String("q/"), Delimiter: aws.String("/")})
		if strings.Join(objs, ",") != "q/x1" || strings.Join(prefixes, ",") != "q/y/" {
			t.Errorf("objects %v prefixes %v", objs, prefixes)
		}
	})
	t.Run("stable order", func(t *testing.T) {
		a, _, _ := list(t, s3.ListObjectsV2Input{})
		b, _, _ := list(t, s3.ListObjectsV2Input{MaxKeys: aws.Int32(3)})
		if strings.Join(a, ",") != strings.Join(b, ",") {
			t.Errorf("order differs between page sizes:\n%v\n%v", a, b)
		}
	})
	for _, tc := range []struct {
		name string
		in   s3.ListObjectsV2Input
	}{
		{"prefix without trailing slash", s3.ListObjectsV2Input{Prefix: aws.String("p"), Delimiter: aws.String("/")}},
		{"other delimiter", s3.ListObjectsV2Input{Delimiter: aws.String("-")}},
		{"start-after", s3.ListObjectsV2Input{StartAfter: aws.String("p/")}},
		{"bad token", s3.ListObjectsV2Input{ContinuationToken: aws.String("!!!")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Bucket = aws.String(testBucket)
			_, err := c.ListObjectsV2(ctx, &in)
			if httpStatus(err) != 400 || apiCode(err) != "InvalidArgument" {
				t.Fatalf("err = %v, want 400 InvalidArgument", err)
			}
		})
	}
}

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
