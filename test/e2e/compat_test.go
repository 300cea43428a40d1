package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/s3xproxy/s3xproxy/proxy"
)

func md5Base64(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestContentMD5Uploads: Content-MD5 is verified by the proxy (directory
// buckets refuse the header): a correct digest stores the object byte for
// byte, a wrong one is 400 BadDigest and commits nothing — not even over an
// existing object — and a malformed one is 400 InvalidDigest before
// anything is sent upstream.
func TestContentMD5Uploads(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	small, large := payload(10, 1), payload(3<<20+17, 2)
	tests := []struct {
		name     string
		body     []byte
		md5      string
		status   int
		code     string
		existing bool // an object is already stored under the key
		upstream bool // the request may reach the emulator
	}{
		// Refused before upstream first: an aborted upload (below) may
		// still be counted by the emulator after the client got its 400.
		{"wrong empty", nil, md5Base64(small), 400, "BadDigest", false, false},
		{"malformed", small, "not base64!", 400, "InvalidDigest", false, false},
		{"not 16 bytes", small, base64.StdEncoding.EncodeToString([]byte("short")), 400, "InvalidDigest", false, false},
		{"correct small", small, md5Base64(small), 200, "", false, true},
		{"correct 3 MiB", large, md5Base64(large), 200, "", false, true},
		{"correct empty", nil, md5Base64(nil), 200, "", false, true},
		{"wrong small", small, md5Base64(large), 400, "BadDigest", false, true},
		{"wrong 3 MiB", large, md5Base64(small), 400, "BadDigest", false, true},
		{"wrong 3 MiB over an existing object", large, md5Base64(small), 400, "BadDigest", true, true},
		{"one byte flipped", flipLast(large), md5Base64(large), 400, "BadDigest", true, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("md5/%d", i)
			if tt.existing {
				rw.put(t, aliasData, key, []byte("old contents"))
			}
			e.emu.ResetStats()
			status, body, _ := rw.do(t, "PUT", aliasData, key, "", tt.body, http.Header{"Content-Md5": {tt.md5}})
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
			if st := e.emu.Stats(); !tt.upstream && total(st.Requests)+total(st.Rejections) != 0 {
				t.Fatalf("refused before upstream, but the emulator saw %v", st.Requests)
			}
			switch {
			case tt.status == 200:
				if got := rw.get(t, aliasData, key); !bytes.Equal(got, tt.body) {
					t.Fatalf("stored %d bytes, want the %d sent", len(got), len(tt.body))
				}
			case tt.existing:
				if got := rw.get(t, aliasData, key); string(got) != "old contents" {
					t.Fatalf("a refused upload replaced the object: %d bytes", len(got))
				}
			default:
				if st, b, _ := rw.do(t, "HEAD", aliasData, key, "", nil, nil); st != 404 {
					t.Fatalf("object exists after a refused upload: HEAD %d %s", st, b)
				}
			}
		})
	}
}

func flipLast(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 0x01
	return c
}

// TestMinioSendContentMD5: minio-go with SendContentMd5 sends Content-MD5
// (with its streaming signature over http); the upload works and is exact.
func TestMinioSendContentMD5(t *testing.T) {
	e := newEnv(t, envConfig{})
	seen := &tap{next: http.DefaultTransport}
	u, _ := url.Parse(e.srv.URL)
	c, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV4(rwKey, rwSecret, ""),
		Region: region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1, Transport: seen})
	if err != nil {
		t.Fatal(err)
	}
	mc := &minioClient{c: c}
	for _, size := range []int{1, 100 << 10, 6 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := payload(size, 3)
			key := fmt.Sprintf("minio-md5/%d", size)
			_, err := c.PutObject(context.Background(), aliasData, key, bytes.NewReader(body), int64(size),
				minio.PutObjectOptions{SendContentMd5: true, DisableMultipart: true})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			calls, _, _ := seen.snapshot()
			last := calls[len(calls)-1]
			if last.method != "PUT" || last.contentMD5 != md5Base64(body) {
				t.Fatalf("minio-go sent %s with Content-MD5 %q, want %q", last.method, last.contentMD5, md5Base64(body))
			}
			t.Logf("minio-go x-amz-content-sha256: %s", last.sha256)
			if got := mc.get(t, aliasData, key); !bytes.Equal(got, body) {
				t.Fatalf("stored %d bytes differ from the %d put", len(got), len(body))
			}
		})
	}
}

// TestCannedACL: x-amz-acl private / bucket-owner-full-control are
// accepted (and dropped), any other ACL or grant is 501 NotImplemented from
// the proxy, which sends nothing upstream.
func TestCannedACL(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	tests := []struct {
		name   string
		hdr    http.Header
		status int
	}{
		{"private", http.Header{"X-Amz-Acl": {"private"}}, 200},
		{"Private mixed case", http.Header{"X-Amz-Acl": {"Private"}}, 200},
		{"bucket-owner-full-control", http.Header{"X-Amz-Acl": {"bucket-owner-full-control"}}, 200},
		{"public-read", http.Header{"X-Amz-Acl": {"public-read"}}, 501},
		{"authenticated-read", http.Header{"X-Amz-Acl": {"authenticated-read"}}, 501},
		{"grant-read", http.Header{"X-Amz-Grant-Read": {`uri="http://acs.amazonaws.com/groups/global/AllUsers"`}}, 501},
		{"private plus a grant", http.Header{"X-Amz-Acl": {"private"}, "X-Amz-Grant-Full-Control": {`id="abc"`}}, 501},
		{"copy with public-read", http.Header{"X-Amz-Acl": {"public-read"}, "X-Amz-Copy-Source": {"/" + aliasData + "/acl/0"}}, 501},
		{"copy with private", http.Header{"X-Amz-Acl": {"private"}, "X-Amz-Copy-Source": {"/" + aliasData + "/acl/0"}}, 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("acl/%d", i)
			e.emu.ResetStats()
			var payload []byte
			if tt.hdr.Get("X-Amz-Copy-Source") == "" {
				payload = []byte("acl body")
			}
			status, body, _ := rw.do(t, "PUT", aliasData, key, "", payload, tt.hdr)
			if status != tt.status || bytes.Contains(body, []byte("<Error>")) != (status != 200) {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			st := e.emu.Stats()
			if status == 200 {
				if got := rw.get(t, aliasData, key); string(got) != "acl body" {
					t.Fatalf("stored %q", got)
				}
				if st.Rejections["NotImplemented"] != 0 {
					t.Fatalf("the ACL header reached the emulator: %v", st.Rejections)
				}
				return
			}
			if s3Code(body) != "NotImplemented" || !strings.Contains(string(body), "Directory buckets do not support ACLs") {
				t.Fatalf("want NotImplemented explaining ACLs: %s", body)
			}
			if n := total(st.Requests) + total(st.Rejections); n != 0 {
				t.Fatalf("refused ACL reached the emulator: %v", st.Requests)
			}
			if st, _, _ := rw.do(t, "HEAD", aliasData, key, "", nil, nil); st != 404 {
				t.Fatalf("object exists after a refused ACL (HEAD %d)", st)
			}
		})
	}
}

// TestDeleteObjects: multi-object delete from minio-go (which sends
// Content-MD5), from the SDK in path-style mode and hand-built, with the
// proxy's checksum shim in between; a wrong Content-MD5 deletes nothing.
func TestDeleteObjects(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	keys := func(prefix string) []string {
		return []string{prefix + "a", prefix + "b c", prefix + "d+e", prefix + "f/g", prefix + "unicode-é"}
	}
	putAll := func(t *testing.T, ks []string) {
		for _, k := range ks {
			rw.put(t, aliasData, k, []byte(k))
		}
	}

	t.Run("minio-go RemoveObjects", func(t *testing.T) {
		seen := &tap{next: http.DefaultTransport}
		u, _ := url.Parse(e.srv.URL)
		c, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV4(rwKey, rwSecret, ""),
			Region: region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1, Transport: seen})
		if err != nil {
			t.Fatal(err)
		}
		ks := keys("del-minio/")
		putAll(t, ks)
		e.emu.ResetStats()
		ch := make(chan minio.ObjectInfo, len(ks))
		for _, k := range ks {
			ch <- minio.ObjectInfo{Key: k}
		}
		close(ch)
		for res := range c.RemoveObjects(context.Background(), aliasData, ch, minio.RemoveObjectsOptions{}) {
			t.Fatalf("RemoveObjects %s: %v", res.ObjectName, res.Err)
		}
		calls, _, _ := seen.snapshot()
		var sentMD5 bool
		for _, cl := range calls {
			if cl.method == "POST" && strings.Contains(cl.query, "delete") && cl.contentMD5 != "" {
				sentMD5 = true
			}
		}
		if !sentMD5 {
			t.Errorf("minio-go did not send Content-MD5 with DeleteObjects: %+v", calls)
		}
		if st := e.emu.Stats(); st.Requests["DeleteObjects"] != 1 || total(st.Rejections) != 0 {
			t.Errorf("emulator: DeleteObjects %d, rejections %v", st.Requests["DeleteObjects"], st.Rejections)
		}
		if got := rw.list(t, aliasData, "del-minio/"); len(got) != 0 {
			t.Fatalf("left after RemoveObjects: %q", got)
		}
	})

	t.Run("aws-sdk-go-v2 DeleteObjects", func(t *testing.T) {
		seen := &tap{next: http.DefaultTransport}
		sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
		sdk.c = s3.New(sdk.c.Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: seen} })
		ks := keys("del-sdk/")
		putAll(t, ks)
		var ids []s3types.ObjectIdentifier
		for _, k := range ks {
			ids = append(ids, s3types.ObjectIdentifier{Key: aws.String(k)})
		}
		out, err := sdk.c.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{
			Bucket: aws.String(aliasData), Delete: &s3types.Delete{Objects: ids}})
		if err != nil {
			t.Fatalf("DeleteObjects: %v", err)
		}
		if len(out.Errors) != 0 || len(out.Deleted) != len(ks) {
			t.Fatalf("DeleteObjects: %d deleted, errors %+v", len(out.Deleted), out.Errors)
		}
		calls, _, _ := seen.snapshot()
		t.Logf("SDK DeleteObjects integrity headers: Content-MD5 %v, checksums %v", calls[0].contentMD5 != "", calls[0].checksums)
		if got := rw.list(t, aliasData, "del-sdk/"); len(got) != 0 {
			t.Fatalf("left after DeleteObjects: %q", got)
		}
	})

	t.Run("body over 2 MiB", func(t *testing.T) {
		var doc strings.Builder
		doc.WriteString("<Delete>")
		for i := 0; doc.Len() < 2<<20+1024; i++ {
			fmt.Fprintf(&doc, "<Object><Key>del-big/%0900d</Key></Object>", i)
		}
		doc.WriteString("</Delete>")
		body := []byte(doc.String())
		e.emu.ResetStats()
		status, b, _ := rw.do(t, "POST", aliasData, "", "delete", body, http.Header{"Content-Md5": {md5Base64(body)}})
		if status != 400 || s3Code(b) != "MalformedXML" {
			t.Fatalf("got %d %s, want 400 MalformedXML", status, b)
		}
		if st := e.emu.Stats(); total(st.Requests) != 0 {
			t.Fatalf("reached the emulator: %v", st.Requests)
		}
	})

	t.Run("read-only key", func(t *testing.T) {
		ks := keys("del-ro/")
		putAll(t, ks)
		ro := &rawClient{endpoint: e.srv.URL, key: roKey, secret: roSecret}
		body := []byte("<Delete><Object><Key>del-ro/a</Key></Object></Delete>")
		e.emu.ResetStats()
		status, b, _ := ro.do(t, "POST", aliasData, "", "delete", body, http.Header{"Content-Md5": {md5Base64(body)}})
		if status != 403 || s3Code(b) != "AccessDenied" {
			t.Fatalf("got %d %s, want 403 AccessDenied", status, b)
		}
		if st := e.emu.Stats(); total(st.Requests) != 0 {
			t.Fatalf("reached the emulator: %v", st.Requests)
		}
	})

	for _, tt := range []struct {
		name   string
		md5    func(body []byte) string
		status int
		code   string
	}{
		{"raw correct Content-MD5", md5Base64, 200, ""},
		{"raw wrong Content-MD5", func([]byte) string { return md5Base64([]byte("other")) }, 400, "BadDigest"},
		{"raw malformed Content-MD5", func([]byte) string { return "%%%" }, 400, "InvalidDigest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ks := keys("del-raw/" + strings.ReplaceAll(tt.name, " ", "-") + "/")
			putAll(t, ks)
			var doc strings.Builder
			doc.WriteString("<Delete><Quiet>true</Quiet>")
			for _, k := range ks {
				fmt.Fprintf(&doc, "<Object><Key>%s</Key></Object>", k)
			}
			doc.WriteString("</Delete>")
			body := []byte(doc.String())
			e.emu.ResetStats()
			status, b, _ := rw.do(t, "POST", aliasData, "", "delete", body, http.Header{"Content-Md5": {tt.md5(body)}})
			if status != tt.status || s3Code(b) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(b), tt.status, tt.code, b)
			}
			got := rw.list(t, aliasData, "del-raw/"+strings.ReplaceAll(tt.name, " ", "-")+"/")
			if status == 200 {
				if len(got) != 0 {
					t.Fatalf("left after DeleteObjects: %q", got)
				}
				return
			}
			want := slices.Sorted(slices.Values(ks))
			if !slices.Equal(got, want) {
				t.Fatalf("a refused DeleteObjects deleted keys: left %q", got)
			}
			if st := e.emu.Stats(); st.Requests["DeleteObjects"] != 0 {
				t.Fatalf("refused DeleteObjects reached the emulator: %v", st.Requests)
			}
		})
	}
}

// TestContentMD5Multipart: legacy clients send Content-MD5 on every
// UploadPart; a correct one stores the part, a wrong one is 400 BadDigest
// and the part is not recorded.
func TestContentMD5Multipart(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	key := "md5-multipart/obj"
	b, _ := rw.must(t, 200, "POST", aliasData, key, "uploads", nil, nil)
	var init struct{ UploadId string }
	if err := xml.Unmarshal(b, &init); err != nil || init.UploadId == "" {
		t.Fatalf("CreateMultipartUpload: %v: %s", err, b)
	}
	id := url.QueryEscape(init.UploadId)
	part1, part2 := payload(5<<20, 7), payload(1<<20, 8)
	tests := []struct {
		name   string
		part   int
		body   []byte
		md5    string
		status int
		code   string
	}{
		{"part 1 correct", 1, part1, md5Base64(part1), 200, ""},
		{"part 2 wrong", 2, part2, md5Base64(part1), 400, "BadDigest"},
		{"part 2 malformed", 2, part2, "xyz", 400, "InvalidDigest"},
	}
	etags := map[int]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fmt.Sprintf("partNumber=%d&uploadId=%s", tt.part, id)
			status, body, h := rw.do(t, "PUT", aliasData, key, q, tt.body, http.Header{"Content-Md5": {tt.md5}})
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
			if status == 200 {
				etags[tt.part] = h.Get("ETag")
			}
		})
	}
	b, _ = rw.must(t, 200, "GET", aliasData, key, "uploadId="+id, nil, nil)
	var parts struct {
		Part []struct{ PartNumber int }
	}
	if err := xml.Unmarshal(b, &parts); err != nil {
		t.Fatalf("ListParts: %v: %s", err, b)
	}
	if len(parts.Part) != 1 || parts.Part[0].PartNumber != 1 {
		t.Fatalf("ListParts after a refused part: %+v, want part 1 only", parts.Part)
	}
	complete := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", etags[1])
	b, _ = rw.must(t, 200, "POST", aliasData, key, "uploadId="+id, []byte(complete), nil)
	if bytes.Contains(b, []byte("<Error>")) {
		t.Fatalf("CompleteMultipartUpload: %s", b)
	}
	if got := rw.get(t, aliasData, key); !bytes.Equal(got, part1) {
		t.Fatalf("object: %d bytes, want part 1's %d", len(got), len(part1))
	}
}

// TestContentMD5WithTrailer: Content-MD5 on an aws-chunked upload with a
// checksum trailer (what SDKs send when the user supplies Content-MD5) is
// checked against the object bytes: correct → 200 and stored, wrong → 400
// BadDigest and nothing committed.
func TestContentMD5WithTrailer(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	data := payload(150000, 6)
	unsignedTrailer := func(url, md string) *http.Request {
		var sum [4]byte
		binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(data))
		var body []byte
		for off := 0; off < len(data); off += 65536 {
			chunk := data[off:min(off+65536, len(data))]
			body = append(body, fmt.Sprintf("%x\r\n", len(chunk))...)
			body = append(body, chunk...)
			body = append(body, "\r\n"...)
		}
		body = append(body, "0\r\nx-amz-checksum-crc32:"+base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n"...)
		return signedRequest(t, "PUT", url, rwKey, rwSecret, body, time.Now(), http.Header{
			"X-Amz-Content-Sha256":         {"STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
			"Content-Encoding":             {"aws-chunked"},
			"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))},
			"X-Amz-Trailer":                {"x-amz-checksum-crc32"},
			"Content-Md5":                  {md},
		})
	}
	signedTrailer := func(url, md string) *http.Request {
		return signedChunkedRequest(t, url, chunkedUpload{data: data, trailer: true, hdr: http.Header{"Content-Md5": {md}}})
	}
	for _, form := range []struct {
		name string
		req  func(url, md string) *http.Request
	}{{"unsigned trailer", unsignedTrailer}, {"signed trailer", signedTrailer}} {
		for _, tt := range []struct {
			name   string
			md5    string
			status int
			code   string
		}{
			{"correct", md5Base64(data), 200, ""},
			{"wrong", md5Base64(data[1:]), 400, "BadDigest"},
		} {
			t.Run(form.name+"/"+tt.name, func(t *testing.T) {
				key := "md5-trailer/" + strings.ReplaceAll(form.name+"-"+tt.name, " ", "-")
				rw.put(t, aliasData, key, []byte("old contents"))
				status, body, _ := do(t, form.req(e.url("/"+aliasData+"/"+key), tt.md5))
				if status != tt.status || s3Code(body) != tt.code {
					t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
				}
				want := data
				if status != 200 {
					want = []byte("old contents")
				}
				if got := rw.get(t, aliasData, key); !bytes.Equal(got, want) {
					t.Fatalf("stored %d bytes, want %d", len(got), len(want))
				}
			})
		}
	}
}

// TestSDKContentMD5: aws-sdk-go-v2 (path-style legacy mode) PutObject with
// ContentMD5 set: a correct digest stores the object, a wrong one is
// BadDigest and stores nothing.
func TestSDKContentMD5(t *testing.T) {
	e := newEnv(t, envConfig{})
	seen := &tap{next: http.DefaultTransport}
	sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
	sdk.c = s3.New(sdk.c.Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: seen} })
	body := payload(300<<10, 9)
	for _, tt := range []struct {
		name, md5, code string
	}{
		{"correct", md5Base64(body), ""},
		{"wrong", md5Base64(body[1:]), "BadDigest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "sdk-md5/" + tt.name
			_, err := sdk.c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(aliasData), Key: aws.String(key),
				Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentMD5: aws.String(tt.md5)})
			calls, _, _ := seen.snapshot()
			last := calls[len(calls)-1]
			t.Logf("SDK sent x-amz-content-sha256 %s, Content-MD5 %v, checksums %v", last.sha256, last.contentMD5 != "", last.checksums)
			if got := apiErrorCode(err); got != tt.code {
				t.Fatalf("PutObject: %v, want %q", err, tt.code)
			}
			rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
			if tt.code == "" {
				if got := rw.get(t, aliasData, key); !bytes.Equal(got, body) {
					t.Fatalf("stored %d bytes", len(got))
				}
			} else if st, _, _ := rw.do(t, "HEAD", aliasData, key, "", nil, nil); st != 404 {
				t.Fatalf("object exists after BadDigest (HEAD %d)", st)
			}
		})
	}
}

// ---- inbound authentication: negative paths not covered elsewhere ----------
//
// (They live here because this helper owns only compat_test.go,
// localsession_test.go and listing_test.go.)

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// chunkSigner signs aws-chunked chunks and the trailer as the S3 API
// reference's "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks" describes: each signature chains
// on the previous one, starting from the request's seed signature.
type chunkSigner struct {
	key            []byte
	amzDate, scope string
	prev           string
}

func newChunkSigner(secret, amzDate, seed string) *chunkSigner {
	date := amzDate[:8]
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	return &chunkSigner{key: k, amzDate: amzDate, scope: date + "/" + region + "/s3/aws4_request", prev: seed}
}

func (c *chunkSigner) chunk(data []byte) string {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + emptySHA256 + "\n" + sha256Hex(data)
	c.prev = hex.EncodeToString(hmacSHA256(c.key, sts))
	return c.prev
}

func (c *chunkSigner) trailer(lines string) string {
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + sha256Hex([]byte(lines))
	c.prev = hex.EncodeToString(hmacSHA256(c.key, sts))
	return c.prev
}

// chunkedUpload describes one signed aws-chunked PUT and how to spoil it.
type chunkedUpload struct {
	data    []byte
	trailer bool        // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with x-amz-checksum-crc32
	hdr     http.Header // extra signed headers
	// spoil alters the encoded parts after signing: sigs[i] is chunk i's
	// signature (the last one the final 0-length chunk), chunks[i] its data.
	// It returns true to also replace the final chunk's size with junk.
	spoil func(sigs []string, chunks [][]byte, trailerValue, trailerSig *string) (mangle bool)
}

// signedChunkedRequest builds the PUT: the seed signature by the SDK's v4
// signer, then every chunk signed by hand.
func signedChunkedRequest(t *testing.T, url string, u chunkedUpload) *http.Request {
	t.Helper()
	const chunkSize = 64 << 10
	var chunks [][]byte
	for off := 0; off < len(u.data); off += chunkSize {
		chunks = append(chunks, u.data[off:min(off+chunkSize, len(u.data))])
	}
	chunks = append(chunks, nil) // the final chunk
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], crc32.ChecksumIEEE(u.data))
	trailerValue := base64.StdEncoding.EncodeToString(crc[:])
	encode := func(sigs []string, trailerValue, trailerSig string, mangle bool) []byte {
		var b bytes.Buffer
		for i, c := range chunks {
			size := fmt.Sprintf("%x", len(c))
			if mangle && i == len(chunks)-1 {
				size = "z" // same length, not a chunk size
			}
			fmt.Fprintf(&b, "%s;chunk-signature=%s\r\n", size, sigs[i])
			b.Write(c)
			if len(c) > 0 || !u.trailer {
				b.WriteString("\r\n")
			}
		}
		if u.trailer {
			fmt.Fprintf(&b, "x-amz-checksum-crc32:%s\r\nx-amz-trailer-signature:%s\r\n\r\n", trailerValue, trailerSig)
		}
		return b.Bytes()
	}
	placeholder := make([]string, len(chunks))
	for i := range placeholder {
		placeholder[i] = strings.Repeat("0", 64)
	}
	hdr := http.Header{
		"Content-Encoding":             {"aws-chunked"},
		"X-Amz-Decoded-Content-Length": {fmt.Sprint(len(u.data))},
		"X-Amz-Content-Sha256":         {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
	}
	for k, v := range u.hdr {
		hdr[k] = v
	}
	if u.trailer {
		hdr.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
		hdr.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	}
	req := signedRequest(t, "PUT", url, rwKey, rwSecret, encode(placeholder, trailerValue, placeholder[0], false), time.Now(), hdr)
	m := regexp.MustCompile(`Signature=([0-9a-f]{64})`).FindStringSubmatch(req.Header.Get("Authorization"))
	if m == nil {
		t.Fatalf("no seed signature in %q", req.Header.Get("Authorization"))
	}
	cs := newChunkSigner(rwSecret, req.Header.Get("X-Amz-Date"), m[1])
	sigs := make([]string, len(chunks))
	for i, c := range chunks {
		sigs[i] = cs.chunk(c)
	}
	trailerSig := ""
	if u.trailer {
		trailerSig = cs.trailer("x-amz-checksum-crc32:" + trailerValue + "\n")
	}
	mangle := false
	if u.spoil != nil {
		chunks = slices.Clone(chunks)
		for i := range chunks {
			chunks[i] = bytes.Clone(chunks[i])
		}
		mangle = u.spoil(sigs, chunks, &trailerValue, &trailerSig)
	}
	// The spoiled body has the signed Content-Length: only its bytes differ.
	setBody(req, encode(sigs, trailerValue, trailerSig, mangle))
	return req
}

// alterSig changes one hex digit of a signature.
func alterSig(s string) string {
	b := []byte(s)
	if b[10] == '0' {
		b[10] = '1'
	} else {
		b[10] = '0'
	}
	return string(b)
}

// TestSignedChunkedUploads: hand-built STREAMING-AWS4-HMAC-SHA256-PAYLOAD
// (and -TRAILER) uploads are decoded and stored exactly; one altered chunk
// signature, a payload byte flipped after signing, a wrong trailer
// signature or an altered trailer value is 403 SignatureDoesNotMatch, a
// malformed stream 400 IncompleteBody, and none of them commits an object
// (nor replaces an existing one).
func TestSignedChunkedUploads(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	data := payload(150000, 4) // 3 chunks of data and the final chunk
	tests := []struct {
		name     string
		trailer  bool
		spoil    func(sigs []string, chunks [][]byte, tv, ts *string) bool
		hdr      http.Header
		status   int
		code     string
		existing bool
	}{
		{"valid", false, nil, nil, 200, "", false},
		{"valid with trailer", true, nil, nil, 200, "", false},
		{"first chunk signature altered", false, func(s []string, _ [][]byte, _, _ *string) bool { s[0] = alterSig(s[0]); return false }, nil, 403, "SignatureDoesNotMatch", false},
		{"second chunk signature altered", false, func(s []string, _ [][]byte, _, _ *string) bool { s[1] = alterSig(s[1]); return false }, nil, 403, "SignatureDoesNotMatch", true},
		{"final chunk signature altered", false, func(s []string, _ [][]byte, _, _ *string) bool { s[3] = alterSig(s[3]); return false }, nil, 403, "SignatureDoesNotMatch", true},
		{"payload byte flipped after signing", false, func(_ []string, c [][]byte, _, _ *string) bool { c[1][100] ^= 0x20; return false }, nil, 403, "SignatureDoesNotMatch", true},
		{"last payload byte flipped after signing", false, func(_ []string, c [][]byte, _, _ *string) bool { c[2][len(c[2])-1] ^= 1; return false }, nil, 403, "SignatureDoesNotMatch", true},
		{"trailer: chunk signature altered", true, func(s []string, _ [][]byte, _, _ *string) bool { s[2] = alterSig(s[2]); return false }, nil, 403, "SignatureDoesNotMatch", true},
		{"trailer: wrong trailer signature", true, func(_ []string, _ [][]byte, _, ts *string) bool { *ts = alterSig(*ts); return false }, nil, 403, "SignatureDoesNotMatch", true},
		{"trailer: checksum altered after signing", true, func(_ []string, _ [][]byte, tv, _ *string) bool { *tv = "AAAAAA=="; return false }, nil, 403, "SignatureDoesNotMatch", true},
		{"valid with Content-MD5", false, nil, http.Header{"Content-Md5": {md5Base64(data)}}, 200, "", false},
		{"wrong Content-MD5", false, nil, http.Header{"Content-Md5": {md5Base64(data[1:])}}, 400, "BadDigest", true},
		{"malformed final chunk header", false, func([]string, [][]byte, *string, *string) bool { return true }, nil, 400, "IncompleteBody", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("signed-chunked/%d", i)
			if tt.existing {
				rw.put(t, aliasData, key, []byte("old contents"))
			}
			e.emu.ResetStats()
			req := signedChunkedRequest(t, e.url("/"+aliasData+"/"+key), chunkedUpload{data: data, trailer: tt.trailer, spoil: tt.spoil, hdr: tt.hdr})
			status, body, _ := do(t, req)
			if status != tt.status || s3Code(body) != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
			if tt.status == 200 {
				if got := rw.get(t, aliasData, key); !bytes.Equal(got, data) {
					t.Fatalf("stored %d bytes, want the %d decoded bytes", len(got), len(data))
				}
				return
			}
			st := e.emu.Stats()
			t.Logf("emulator saw %v, rejected %v", st.Requests, st.Rejections)
			if tt.existing {
				if got := rw.get(t, aliasData, key); string(got) != "old contents" {
					t.Fatalf("a refused upload replaced the object (%d bytes)", len(got))
				}
			} else if st, _, _ := rw.do(t, "HEAD", aliasData, key, "", nil, nil); st != 404 {
				t.Fatalf("object exists after a refused upload (HEAD %d)", st)
			}
		})
	}
}

// presignPut returns a SigV4 presigned PUT URL made with the SDK's signer
// at time at, valid for expires.
func presignPut(t *testing.T, rawURL, key, secret string, expires time.Duration, at time.Time) string {
	t.Helper()
	req, err := http.NewRequest("PUT", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, _, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, "UNSIGNED-PAYLOAD", "s3", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPresignedPutNegative: presigned PUTs that are expired, tampered with
// or over S3's 7-day limit are refused by the proxy, reach nothing and
// store nothing.
func TestPresignedPutNegative(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	now := time.Now()
	objURL := e.url("/" + aliasData + "/presign-neg/k")
	valid := presignPut(t, objURL, rwKey, rwSecret, time.Hour, now)
	tests := []struct {
		name   string
		url    string
		status int
		code   string
	}{
		{"expired", presignPut(t, objURL, rwKey, rwSecret, time.Hour, now.Add(-2*time.Hour)), 403, "AccessDenied"},
		{"signature altered", func() string {
			u, _ := url.Parse(valid)
			q := u.Query()
			q.Set("X-Amz-Signature", alterSig(q.Get("X-Amz-Signature")))
			u.RawQuery = q.Encode()
			return u.String()
		}(), 403, "SignatureDoesNotMatch"},
		{"expiry raised after signing", strings.Replace(valid, "X-Amz-Expires=3600", "X-Amz-Expires=7200", 1), 403, "SignatureDoesNotMatch"},
		{"other key in the path", strings.Replace(valid, "/presign-neg/k?", "/presign-neg/other?", 1), 403, "SignatureDoesNotMatch"},
		{"unknown access key", presignPut(t, objURL, "NOSUCHKEY00000000000", rwSecret, time.Hour, now), 403, "InvalidAccessKeyId"},
		{"read-only key", presignPut(t, objURL, roKey, roSecret, time.Hour, now), 403, "AccessDenied"},
		{"expires over 7 days", presignPut(t, objURL, rwKey, rwSecret, 8*24*time.Hour, now), 400, ""},
	}
	e.emu.ResetStats()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.url == valid {
				t.Fatal("the tampering did not change the URL")
			}
			req, _ := http.NewRequest("PUT", tt.url, strings.NewReader("should not be stored"))
			status, body, _ := do(t, req)
			if status != tt.status || (tt.code != "" && s3Code(body) != tt.code) {
				t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
			}
			if tt.code == "" {
				t.Logf("over 7 days: %d %s (S3 answers AuthorizationQueryParametersError)", status, s3Code(body))
			}
		})
	}
	if st := e.emu.Stats(); total(st.Requests)+total(st.Rejections) != 0 {
		t.Fatalf("refused presigned PUTs reached the emulator: %v", st.Requests)
	}
	if st, _, _ := rw.do(t, "HEAD", aliasData, "presign-neg/k", "", nil, nil); st != 404 {
		t.Fatalf("object exists after refused presigned PUTs (HEAD %d)", st)
	}
	req, _ := http.NewRequest("PUT", valid, strings.NewReader("stored"))
	if status, body, _ := do(t, req); status != 200 {
		t.Fatalf("the untampered URL: %d %s", status, body)
	}
	if got := rw.get(t, aliasData, "presign-neg/k"); string(got) != "stored" {
		t.Fatalf("stored %q", got)
	}
}

// sigV2Header signs req with a hand-built SigV2 Authorization header
// (RESTAuthentication: Verb, Content-MD5, Content-Type, Date, x-amz-*
// headers, resource).
func sigV2Header(req *http.Request, key, secret string, at time.Time) {
	date := at.UTC().Format(http.TimeFormat)
	req.Header.Set("Date", date)
	sts := req.Method + "\n" + req.Header.Get("Content-Md5") + "\n" + req.Header.Get("Content-Type") + "\n" + date + "\n" + req.URL.EscapedPath()
	req.Header.Set("Authorization", "AWS "+key+":"+sigV2(secret, sts))
}

// sigV2Query presigns a SigV2 URL (AWSAccessKeyId, Expires, Signature).
func sigV2Query(method, rawURL, key, secret string, expires time.Time) string {
	u, _ := url.Parse(rawURL)
	exp := strconv.FormatInt(expires.Unix(), 10)
	sts := method + "\n\n\n" + exp + "\n" + u.EscapedPath()
	return rawURL + "?AWSAccessKeyId=" + key + "&Expires=" + exp + "&Signature=" + url.QueryEscape(sigV2(secret, sts))
}

func sigV2(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestSigV2HandBuilt: a hand-built SigV2 client (header and query forms)
// works when SigV2 is enabled; tampered, skewed and expired ones are
// refused; with SigV2 disabled both forms are 400 InvalidRequest and
// nothing reaches the emulator.
func TestSigV2HandBuilt(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("sigv2=%v", enabled), func(t *testing.T) {
			e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.SigV2 = enabled }})
			rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
			rw.put(t, aliasData, "v2/existing", []byte("existing"))
			now := time.Now()
			put := func(key, secret string, at time.Time, body string) *http.Request {
				req, _ := http.NewRequest("PUT", e.url("/"+aliasData+"/v2/hand built"), strings.NewReader(body))
				req.Header.Set("Content-Type", "text/plain")
				sigV2Header(req, key, secret, at)
				return req
			}
			get := func(u string) *http.Request { r, _ := http.NewRequest("GET", u, nil); return r }
			existing := e.url("/" + aliasData + "/v2/existing")
			type tc struct {
				name   string
				req    *http.Request
				status int
				code   string
				body   string
			}
			var tests []tc
			if enabled {
				tests = []tc{
					{"header PUT", put(rwKey, rwSecret, now, "v2 hand"), 200, "", ""},
					{"query GET", get(sigV2Query("GET", existing, rwKey, rwSecret, now.Add(time.Minute))), 200, "", "existing"},
					{"header wrong secret", put(rwKey, "wrong-secret", now, "x"), 403, "SignatureDoesNotMatch", ""},
					{"header skewed date", put(rwKey, rwSecret, now.Add(-time.Hour), "x"), 403, "RequestTimeTooSkewed", ""},
					{"query expired", get(sigV2Query("GET", existing, rwKey, rwSecret, now.Add(-time.Minute))), 403, "AccessDenied", ""},
					{"query tampered path", get(strings.Replace(sigV2Query("GET", existing, rwKey, rwSecret, now.Add(time.Minute)), "/v2/existing", "/v2/hand%20built", 1)), 403, "SignatureDoesNotMatch", ""},
					{"header read-only key writes", put(roKey, roSecret, now, "x"), 403, "AccessDenied", ""},
					{"local session key without its token", func() *http.Request {
						_, code, s := createLocalSession(t, e, rwKey, rwSecret, bucketData, "", now)
						if code != "" {
							t.Fatalf("CreateSession: %s", code)
						}
						r, _ := http.NewRequest("GET", existing, nil)
						sigV2Header(r, s.AccessKeyId, s.SecretAccessKey, now)
						return r
					}(), 400, "InvalidToken", ""},
				}
			} else {
				tests = []tc{
					{"header PUT disabled", put(rwKey, rwSecret, now, "v2 hand"), 400, "InvalidRequest", ""},
					{"query GET disabled", get(sigV2Query("GET", existing, rwKey, rwSecret, now.Add(time.Minute))), 400, "InvalidRequest", ""},
				}
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					e.emu.ResetStats()
					status, body, _ := do(t, tt.req)
					if status != tt.status || s3Code(body) != tt.code {
						t.Fatalf("got %d %q, want %d %q: %s", status, s3Code(body), tt.status, tt.code, body)
					}
					if tt.body != "" && string(body) != tt.body {
						t.Fatalf("body %q, want %q", body, tt.body)
					}
					if status != 200 {
						if st := e.emu.Stats(); total(st.Requests)+total(st.Rejections) != 0 {
							t.Fatalf("refused SigV2 request reached the emulator: %v", st.Requests)
						}
					}
				})
			}
			wantStored := ""
			if enabled {
				wantStored = "v2 hand"
			}
			status, body, _ := rw.do(t, "GET", aliasData, "v2/hand built", "", nil, nil)
			if wantStored == "" && status != 404 || wantStored != "" && string(body) != wantStored {
				t.Fatalf("v2/hand built after the run: %d %q, want %q", status, body, wantStored)
			}
		})
	}
}

// TestSignatureMismatchDetails: a SignatureDoesNotMatch answer carries, as
// S3's does, the StringToSign (and for SigV4 the CanonicalRequest) the
// proxy computed, so a client can find its mistake — and never a secret.
func TestSignatureMismatchDetails(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.SigV2 = true }})
	objURL := e.url("/" + aliasData + "/mismatch/k")
	v2 := func() *http.Request {
		r, _ := http.NewRequest("GET", objURL, nil)
		sigV2Header(r, rwKey, "wrong-secret", time.Now())
		return r
	}
	tests := []struct {
		name      string
		req       *http.Request
		stsPrefix string
		canonical bool
	}{
		{"sigv4 header", signedRequest(t, "GET", objURL, rwKey, "wrong-secret", nil, time.Now(), nil), "AWS4-HMAC-SHA256\n", true},
		{"sigv4 presigned", anonymous(t, "PUT", presignPut(t, objURL, rwKey, "wrong-secret", time.Hour, time.Now())), "AWS4-HMAC-SHA256\n", true},
		{"sigv2 header", v2(), "GET\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := do(t, tt.req)
			if status != 403 || s3Code(body) != "SignatureDoesNotMatch" {
				t.Fatalf("got %d %s", status, body)
			}
			for _, s := range []string{rwSecret, "wrong-secret", iamSecret} {
				if bytes.Contains(body, []byte(s)) {
					t.Fatalf("error body carries a secret: %s", body)
				}
			}
			var res struct{ StringToSign, CanonicalRequest, AWSAccessKeyId string }
			if err := xml.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(res.StringToSign, tt.stsPrefix) || res.AWSAccessKeyId != rwKey {
				t.Errorf("StringToSign %q, AWSAccessKeyId %q", res.StringToSign, res.AWSAccessKeyId)
			}
			if tt.canonical && !strings.HasPrefix(res.CanonicalRequest, tt.req.Method+"\n/"+aliasData+"/mismatch/k\n") {
				t.Errorf("CanonicalRequest %q", res.CanonicalRequest)
			}
		})
	}
}
