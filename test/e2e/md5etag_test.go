package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"github.com/s3xproxy/s3xproxy/proxy"
)

// quotedMD5 is the ETag a general-purpose S3 bucket gives a single-part
// upload of b.
func quotedMD5(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// TestMD5ETags: with Options.AlwaysMD5ETags, PutObject and UploadPart answer the
// MD5 of the body as ETag whatever the client (aws-chunked or not), those
// ETags complete a multipart upload (translated back through ListParts),
// and GET / HEAD keep the emulator's own ETags.
func TestMD5ETags(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.AlwaysMD5ETags = true }})
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	mc := newMinioClient(t, e.srv.URL, rwKey, rwSecret)
	raw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	ctx := context.Background()
	bucket := aliasData
	small := payload(70_001, 61)

	t.Run("sdk PutObject", func(t *testing.T) {
		e.emu.ResetStats()
		key := "md5/sdk-small"
		out, err := sdk.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key,
			Body: bytes.NewReader(small), ContentLength: aws.Int64(int64(len(small)))})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.ETag); got != quotedMD5(small) {
			t.Errorf("PutObject ETag %s, want the MD5 %s", got, quotedMD5(small))
		}
		sessionSigned(t, e, "PutObject")
		head, err := sdk.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(head.ETag); got == "" || got == quotedMD5(small) {
			t.Errorf("HeadObject ETag %q: want the emulator's own", got)
		}
		if got := sdk.get(t, bucket, key); !bytes.Equal(got, small) {
			t.Errorf("stored %d bytes differ from the %d put", len(got), len(small))
		}
	})

	t.Run("raw and minio PutObject", func(t *testing.T) {
		_, h := raw.must(t, 200, "PUT", bucket, "md5/raw", "", small, nil)
		if got := h.Get("ETag"); got != quotedMD5(small) {
			t.Errorf("raw PutObject ETag %s, want %s", got, quotedMD5(small))
		}
		_, h = raw.must(t, 200, "PUT", bucket, "md5/raw-empty", "", nil, nil)
		if got := h.Get("ETag"); got != quotedMD5(nil) {
			t.Errorf("raw empty PutObject ETag %s, want %s", got, quotedMD5(nil))
		}
		info, err := mc.c.PutObject(ctx, bucket, "md5/minio", bytes.NewReader(small), int64(len(small)),
			minio.PutObjectOptions{DisableMultipart: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Trim(quotedMD5(small), `"`); info.ETag != want {
			t.Errorf("minio PutObject ETag %s, want %s", info.ETag, want)
		}
	})

	t.Run("aws-chunked PutObject with a trailer", func(t *testing.T) {
		var sum [4]byte
		binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(small))
		crc := base64.StdEncoding.EncodeToString(sum[:])
		var body []byte
		for off := 0; off < len(small); off += 65536 {
			chunk := small[off:min(off+65536, len(small))]
			body = append(body, fmt.Sprintf("%x\r\n", len(chunk))...)
			body = append(body, chunk...)
			body = append(body, "\r\n"...)
		}
		body = append(body, "0\r\nx-amz-checksum-crc32:"+crc+"\r\n\r\n"...)
		hdr := http.Header{
			"X-Amz-Content-Sha256":         {"STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
			"Content-Encoding":             {"aws-chunked"},
			"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(small))},
			"X-Amz-Trailer":                {"x-amz-checksum-crc32"},
		}
		req := signedRequest(t, "PUT", e.url("/"+aliasData+"/md5/chunked"), rwKey, rwSecret, body, time.Now(), hdr)
		status, b, h := do(t, req)
		if status != 200 || h.Get("ETag") != quotedMD5(small) {
			t.Fatalf("status %d ETag %s, want 200 and the MD5 %s of the decoded payload: %s", status, h.Get("ETag"), quotedMD5(small), b)
		}
		if got := sdk.get(t, bucket, "md5/chunked"); !bytes.Equal(got, small) {
			t.Errorf("stored %d bytes, want the %d decoded bytes", len(got), len(small))
		}
	})

	parts := [][]byte{payload(5<<20, 62), payload(5<<20, 63), payload(12_345, 64)}
	whole := bytes.Join(parts, nil)

	t.Run("sdk multipart", func(t *testing.T) {
		key := "md5/sdk-multi"
		up, err := sdk.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		var done []s3types.CompletedPart
		for i, p := range parts {
			n := int32(i + 1)
			out, err := sdk.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
				PartNumber: &n, Body: bytes.NewReader(p), ContentLength: aws.Int64(int64(len(p)))})
			if err != nil {
				t.Fatalf("UploadPart %d: %v", n, err)
			}
			if got := aws.ToString(out.ETag); got != quotedMD5(p) {
				t.Errorf("UploadPart %d ETag %s, want the MD5 %s", n, got, quotedMD5(p))
			}
			done = append(done, s3types.CompletedPart{PartNumber: &n, ETag: out.ETag,
				ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C})
		}
		e.emu.ResetStats()
		if _, err := sdk.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key,
			UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done}}); err != nil {
			t.Fatalf("CompleteMultipartUpload with MD5 ETags: %v", err)
		}
		sessionSigned(t, e, "ListParts", "CompleteMultipartUpload")
		if got := sdk.get(t, bucket, key); !bytes.Equal(got, whole) {
			t.Errorf("stored %d bytes differ from the %d uploaded", len(got), len(whole))
		}
	})

	t.Run("minio multipart", func(t *testing.T) {
		mc.multipart(t, bucket, "md5/minio-multi", parts)
		if got := mc.get(t, bucket, "md5/minio-multi"); !bytes.Equal(got, whole) {
			t.Errorf("stored %d bytes differ from the %d uploaded", len(got), len(whole))
		}
	})

	t.Run("complete refusals", func(t *testing.T) {
		key := "md5/refused"
		b, _ := raw.must(t, 200, "POST", bucket, key, "uploads", nil, nil)
		var init struct{ UploadId string }
		if err := xml.Unmarshal(b, &init); err != nil || init.UploadId == "" {
			t.Fatalf("CreateMultipartUpload: %v: %s", err, b)
		}
		q := "uploadId=" + url.QueryEscape(init.UploadId)
		_, h := raw.must(t, 200, "PUT", bucket, key, "partNumber=1&"+q, parts[2], nil)
		if h.Get("ETag") != quotedMD5(parts[2]) {
			t.Errorf("UploadPart ETag %s, want %s", h.Get("ETag"), quotedMD5(parts[2]))
		}
		for _, tt := range []struct{ name, body, code string }{
			{"unknown part number", fmt.Sprintf(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>`,
				quotedMD5(parts[2])), "InvalidPart"},
			{"wrong non-MD5 ETag reaches S3", `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"nope"</ETag></Part></CompleteMultipartUpload>`, "InvalidPart"},
			{"not XML", `<CompleteMultipartUpload><Part>`, "MalformedXML"},
		} {
			status, b, _ := raw.do(t, "POST", bucket, key, q, []byte(tt.body), nil)
			if status != 400 || s3Code(b) != tt.code {
				t.Errorf("%s: %d %s, want 400 %s", tt.name, status, b, tt.code)
			}
		}
		status, b, _ := raw.do(t, "POST", bucket, key, "uploadId=gone", []byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`), nil)
		if status != 404 || s3Code(b) != "NoSuchUpload" {
			t.Errorf("unknown upload: %d %s, want 404 NoSuchUpload", status, b)
		}
		body := fmt.Sprintf(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>`, quotedMD5(parts[2]))
		raw.must(t, 200, "POST", bucket, key, q, []byte(body), nil)
		if got := sdk.get(t, bucket, key); !bytes.Equal(got, parts[2]) {
			t.Errorf("stored %d bytes, want the %d uploaded", len(got), len(parts[2]))
		}
	})
}

// TestMD5ETagsOff: with Options.PassthroughETags the ETag is the upstream
// one, unchanged.
func TestMD5ETagsOff(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.PassthroughETags = true }})
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	ctx := context.Background()
	bucket, key := aliasData, "md5off/obj"
	body := payload(10_000, 65)
	out, err := sdk.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key,
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		t.Fatal(err)
	}
	head, err := sdk.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.ETag); got == quotedMD5(body) || got != aws.ToString(head.ETag) {
		t.Errorf("PutObject ETag %s, want the emulator's %s (not the MD5)", got, aws.ToString(head.ETag))
	}
	sdk.multipart(t, bucket, "md5off/multi", [][]byte{payload(5<<20, 66), payload(100, 67)})
	if st := e.emu.Stats(); st.Requests["ListParts"] != 0 {
		t.Errorf("ListParts called with MD5 ETags off: %v", st.Requests)
	}
}
