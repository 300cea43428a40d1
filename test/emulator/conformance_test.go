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
