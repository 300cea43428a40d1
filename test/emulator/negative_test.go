package emulator

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func TestNegative(t *testing.T) {
	clock := newClock()
	e := startPlain(t, clock)
	now := clock.Now
	rw := createSession(t, e, now, testBucket, "ReadWrite")
	ro := createSession(t, e, now, testBucket, "ReadOnly")
	other := createSession(t, e, now, otherBkt, "")
	put := func(t *testing.T, key, body string) {
		t.Helper()
		if res := (rawReq{method: "PUT", path: "/" + key, body: []byte(body), creds: rw}).do(t, e, now); res.status != 200 {
			t.Fatalf("seed PUT %s: %d %s", key, res.status, res.body)
		}
	}
	put(t, "exists", "hello")
	body5 := []byte("hello")
	md5sum := md5.Sum(body5)
	contentMD5 := base64.StdEncoding.EncodeToString(md5sum[:])
	deleteXML := []byte(`<Delete><Object><Key>exists-not</Key></Object></Delete>`)
	tests := []struct {
		name   string
		req    rawReq
		status int
		code   string
	}{
		{"tampered signature", rawReq{path: "/exists", creds: rw, after: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-4]+"0000")
		}}, 403, "SignatureDoesNotMatch"},
		{"wrong secret", rawReq{path: "/exists", creds: creds{rw.akid, "not-the-secret", rw.token}}, 403, "SignatureDoesNotMatch"},
		{"signed header changed", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Meta-A": "1"},
			after: func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "2") }}, 403, "SignatureDoesNotMatch"},
		{"path changed", rawReq{path: "/exists", creds: rw, after: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/other", "" }}, 403, "SignatureDoesNotMatch"},
		{"query added", rawReq{path: "/exists", creds: rw, after: func(r *http.Request) { r.URL.RawQuery = "partNumber=1" }}, 403, "SignatureDoesNotMatch"},
		{"unsigned x-amz header", rawReq{path: "/exists", creds: rw, after: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Sneaky", "1") }}, 403, "AccessDenied"},
		{"unknown session token", rawReq{path: "/exists", creds: creds{rw.akid, rw.secret, "bm90LWEtdG9rZW4="}}, 400, "InvalidToken"},
		{"token of another bucket", rawReq{path: "/exists", creds: other}, 403, "AccessDenied"},
		{"token with another session's key", rawReq{path: "/exists", creds: creds{other.akid, other.secret, rw.token}}, 403, "InvalidAccessKeyId"},
		{"security token with session token", rawReq{path: "/exists", creds: rw, header: map[string]string{"X-Amz-Security-Token": "sts"}}, 400, "InvalidRequest"},
		{"read-only session PutObject", rawReq{method: "PUT", path: "/k", body: body5, creds: ro}, 403, "AccessDenied"},
		{"read-only session DeleteObject", rawReq{method: "DELETE", path: "/exists", creds: ro}, 403, "AccessDenied"},
		{"read-only session CreateMultipartUpload", rawReq{method: "POST", path: "/k", query: "uploads", creds: ro}, 403, "AccessDenied"},
		{"read-only session GetObject", rawReq{path: "/exists", creds: ro}, 200, ""},
		{"read-only session ListObjectsV2", rawReq{query: "list-type=2", creds: ro}, 200, ""},
		{"session-signed CopyObject", rawReq{method: "PUT", path: "/copy", creds: rw, header: map[string]string{"X-Amz-Copy-Source": testBucket + "/exists"}}, 403, "AccessDenied"},
		{"session-signed UploadPartCopy", rawReq{method: "PUT", path: "/copy", query: "partNumber=1&uploadId=x", creds: rw, header: map[string]string{"X-Amz-Copy-Source": testBucket + "/exists"}}, 403, "AccessDenied"},
		{"IAM-signed CopyObject", rawReq{method: "PUT", path: "/copy", creds: iam, header: map[string]string{"X-Amz-Copy-Source": testBucket + "/exists"}}, 200, ""},
		{"IAM-signed GetObject on Zonal host", rawReq{path: "/exists", creds: iam}, 403, "AccessDenied"},
		{"IAM-signed HeadBucket", rawReq{method: "HEAD", creds: iam}, 200, ""},
		{"session-signed HeadBucket", rawReq{method: "HEAD", creds: rw}, 200, ""},
		{"CreateSession with session token", rawReq{query: "session", creds: rw}, 400, "InvalidRequest"},
		{"CreateSession bad mode", rawReq{query: "session", creds: iam, header: map[string]string{"X-Amz-Create-Session-Mode": "Admin"}}, 400, "InvalidArgument"},
		{"CreateSession missing bucket", rawReq{host: ZonalHost("nope--usw2-az1--x-s3", testRegion), query: "session", creds: iam}, 404, "NoSuchBucket"},
		{"Content-MD5 on PutObject", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"Content-Md5": contentMD5}}, 501, "NotImplemented"},
		{"Content-MD5 on UploadPart", rawReq{method: "PUT", path: "/k", query: "partNumber=1&uploadId=x", body: body5, creds: rw, header: map[string]string{"Content-Md5": contentMD5}}, 501, "NotImplemented"},
		{"x-amz-acl", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Acl": "private"}}, 501, "NotImplemented"},
		{"x-amz-grant-read", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Grant-Read": "id=1"}}, 501, "NotImplemented"},
		{"bad storage class", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Storage-Class": "STANDARD"}}, 400, "InvalidStorageClass"},
		{"express storage class", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Storage-Class": "EXPRESS_ONEZONE"}}, 200, ""},
		{"path-style on Zonal host", rawReq{host: "s3express-usw2-az1.us-west-2.amazonaws.com", path: "/" + testBucket + "/exists", creds: rw}, 400, "InvalidRequest"},
		{"Zonal host of another zone", rawReq{host: testBucket + ".s3express-usw2-az3.us-west-2.amazonaws.com", path: "/exists", creds: rw}, 404, "NoSuchBucket"},
		{"virtual host on control endpoint", rawReq{host: testBucket + ".s3express-control.us-west-2.amazonaws.com", creds: iam}, 400, "InvalidRequest"},
		{"unknown host", rawReq{host: "example.com", path: "/exists", creds: rw}, 400, "InvalidRequest"},
		{"skewed date", rawReq{path: "/exists", creds: rw, at: clock.Now().Add(-16 * time.Minute)}, 403, "RequestTimeTooSkewed"},
		{"future date", rawReq{path: "/exists", creds: rw, at: clock.Now().Add(16 * time.Minute)}, 403, "RequestTimeTooSkewed"},
		{"date within skew", rawReq{path: "/exists", creds: rw, at: clock.Now().Add(-14 * time.Minute)}, 200, ""},
		{"bad date", rawReq{path: "/exists", creds: rw, after: func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }}, 403, "AccessDenied"},
		{"wrong region", rawReq{path: "/exists", creds: rw, region: "us-east-1"}, 400, "AuthorizationHeaderMalformed"},
		{"wrong service", rawReq{path: "/exists", creds: rw, service: "s3"}, 400, "AuthorizationHeaderMalformed"},
		{"unknown access key", rawReq{query: "session", creds: creds{akid: "AKIDUNKNOWN", secret: "x"}}, 403, "InvalidAccessKeyId"},
		{"anonymous", rawReq{path: "/exists", noSign: true}, 403, "AccessDenied"},
		{"sigv2", rawReq{path: "/exists", noSign: true, header: map[string]string{"Authorization": "AWS AKID:c2ln"}}, 400, "InvalidRequest"},
		{"malformed authorization", rawReq{path: "/exists", noSign: true, header: map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=x", "X-Amz-Date": "20200101T000000Z"}}, 400, "AuthorizationHeaderMalformed"},
		{"missing content sha256", rawReq{path: "/exists", creds: rw, after: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }}, 400, "InvalidRequest"},
		{"payload hash mismatch", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, hash: strings.Repeat("a", 64)}, 400, "XAmzContentSHA256Mismatch"},
		{"checksum mismatch", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}}, 400, "BadDigest"},
		{"checksum malformed", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Checksum-Sha256": "short"}}, 400, "InvalidRequest"},
		{"two checksums", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Checksum-Crc32": "NhCmhg==", "X-Amz-Checksum-Crc32c": "AAAAAA=="}}, 400, "InvalidRequest"},
		{"ListObjects V1", rawReq{creds: rw}, 501, "NotImplemented"},
		{"ACL subresource", rawReq{path: "/exists", query: "acl", creds: rw}, 501, "NotImplemented"},
		{"versionId not null", rawReq{path: "/exists", query: "versionId=123", creds: rw}, 400, "InvalidArgument"},
		{"versionId null", rawReq{path: "/exists", query: "versionId=null", creds: rw}, 200, ""},
		{"DeleteObjects without digest", rawReq{method: "POST", query: "delete", body: deleteXML, creds: rw}, 400, "InvalidRequest"},
		{"DeleteObjects checksum mismatch", rawReq{method: "POST", query: "delete", body: deleteXML, creds: rw, header: map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "CRC32", "X-Amz-Checksum-Crc32": "AAAAAA=="}}, 400, "BadDigest"},
		{"DeleteObjects malformed XML", rawReq{method: "POST", query: "delete", body: []byte("<Delete><Object>"), creds: rw, header: map[string]string{"X-Amz-Checksum-Crc32": checksumOfBytes(algCRC32, []byte("<Delete><Object>"))}}, 400, "MalformedXML"},
		{"DeleteObjects CRC32", rawReq{method: "POST", query: "delete", body: deleteXML, creds: rw, header: map[string]string{"X-Amz-Checksum-Crc32": checksumOfBytes(algCRC32, deleteXML)}}, 200, ""},
		{"DeleteObjects bad Content-MD5", rawReq{method: "POST", query: "delete", body: deleteXML, creds: rw, header: map[string]string{"Content-Md5": contentMD5}}, 400, "BadDigest"},
		{"DeleteObjects good Content-MD5", rawReq{method: "POST", query: "delete", body: deleteXML, creds: rw, header: map[string]string{"Content-Md5": md5b64(deleteXML)}}, 200, ""},
		{"DeleteObjects not XML", rawReq{method: "POST", query: "delete", body: []byte("{json}"), creds: rw, header: map[string]string{"Content-Md5": md5b64([]byte("{json}"))}}, 400, "MalformedXML"},
		{"Complete malformed XML", rawReq{method: "POST", path: "/k", query: "uploadId=" + startUpload(t, e, now, rw, "k"), body: []byte("<CompleteMultipartUpload><Part>"), creds: rw}, 400, "MalformedXML"},
		{"Complete unknown upload", rawReq{method: "POST", path: "/k", query: "uploadId=nope", body: []byte("<CompleteMultipartUpload/>"), creds: rw}, 404, "NoSuchUpload"},
		{"UploadPart bad part number", rawReq{method: "PUT", path: "/k", query: "partNumber=10001&uploadId=x", body: body5, creds: rw}, 400, "InvalidArgument"},
		{"GetObject missing key", rawReq{path: "/missing", creds: rw}, 404, "NoSuchKey"},
		{"delimiter not slash", rawReq{query: "list-type=2&delimiter=%7C", creds: rw}, 400, "InvalidArgument"},
		{"max-keys not a number", rawReq{query: "list-type=2&max-keys=lots", creds: rw}, 400, "InvalidArgument"},
		{"control CreateBucket invalid name", rawReq{method: "PUT", host: ControlHost(testRegion), path: "/Bad_Name--usw2-az1--x-s3", creds: iam}, 400, "InvalidBucketName"},
		{"control CreateBucket malformed XML", rawReq{method: "PUT", host: ControlHost(testRegion), path: "/ok--usw2-az1--x-s3", body: []byte("<CreateBucketConfiguration>"), creds: iam}, 400, "MalformedXML"},
		{"control CreateBucket without configuration", rawReq{method: "PUT", host: ControlHost(testRegion), path: "/ok--usw2-az1--x-s3", creds: iam}, 400, "InvalidRequest"},
		{"control CreateBucket LocationConstraint only", rawReq{method: "PUT", host: ControlHost(testRegion), path: "/ok--usw2-az1--x-s3", body: []byte("<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>"), creds: iam}, 400, "InvalidRequest"},
		{"control CreateBucket wrong redundancy", rawReq{method: "PUT", host: ControlHost(testRegion), path: "/ok--usw2-az1--x-s3", body: []byte("<CreateBucketConfiguration><Location><Type>AvailabilityZone</Type><Name>usw2-az1</Name></Location><Bucket><Type>Directory</Type><DataRedundancy>SingleLocalZone</DataRedundancy></Bucket></CreateBucketConfiguration>"), creds: iam}, 400, "InvalidArgument"},
		{"control session-signed", rawReq{host: ControlHost(testRegion), creds: rw}, 400, "InvalidRequest"},
		{"general purpose PUT with Content-MD5", rawReq{method: "PUT", host: "s3.us-west-2.amazonaws.com", path: "/" + gpBucket + "/k", body: body5, creds: iam, service: "s3", header: map[string]string{"Content-Md5": contentMD5}}, 200, ""},
		{"general purpose PUT bad Content-MD5", rawReq{method: "PUT", host: gpBucket + ".s3.us-west-2.amazonaws.com", path: "/k", body: []byte("other"), creds: iam, service: "s3", header: map[string]string{"Content-Md5": contentMD5}}, 400, "BadDigest"},
		{"general purpose with service s3express", rawReq{host: "s3.us-west-2.amazonaws.com", path: "/" + gpBucket + "/k", creds: iam}, 400, "AuthorizationHeaderMalformed"},
		{"general purpose session-signed", rawReq{host: "s3.us-west-2.amazonaws.com", path: "/" + gpBucket + "/k", creds: rw, service: "s3"}, 400, "InvalidRequest"},
		{"directory bucket on s3 host", rawReq{host: "s3.us-west-2.amazonaws.com", path: "/" + testBucket + "/exists", creds: iam, service: "s3"}, 404, "NoSuchBucket"},
		{"huge header", rawReq{path: "/exists", creds: rw, header: map[string]string{"X-Amz-Meta-Big": strings.Repeat("x", 9000)}}, 400, "RequestHeaderSectionTooLarge"},
		{"metadata too large", rawReq{method: "PUT", path: "/k", body: body5, creds: rw, header: map[string]string{"X-Amz-Meta-Big": strings.Repeat("x", 2100)}}, 400, "MetadataTooLarge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.req.do(t, e, now)
			if res.status != tc.status || res.code != tc.code {
				t.Fatalf("got %d %s, want %d %s\n%s", res.status, res.code, tc.status, tc.code, res.body)
			}
		})
	}
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func startUpload(t *testing.T, e *Emulator, now func() time.Time, c creds, key string) string {
	t.Helper()
	res := rawReq{method: "POST", path: "/" + key, query: "uploads", creds: c}.do(t, e, now)
	if res.status != 200 {
		t.Fatalf("CreateMultipartUpload: %d %s", res.status, res.body)
	}
	s := string(res.body)
	i, j := strings.Index(s, "<UploadId>"), strings.Index(s, "</UploadId>")
	return s[i+len("<UploadId>") : j]
}

func TestSessionExpiry(t *testing.T) {
	clock := newClock()
	e := startChecked(t, Options{Credentials: map[string]string{testAKID: testSecret}, Buckets: []string{testBucket}, SessionTTL: time.Minute, Now: clock.Now})
	s := createSession(t, e, clock.Now, testBucket, "")
	get := rawReq{query: "list-type=2", creds: s}
	if res := get.do(t, e, clock.Now); res.status != 200 {
		t.Fatalf("fresh session: %d %s", res.status, res.body)
	}
	clock.Advance(59 * time.Second)
	if res := get.do(t, e, clock.Now); res.status != 200 {
		t.Fatalf("session at 59s: %d %s", res.status, res.body)
	}
	clock.Advance(time.Second)
	res := get.do(t, e, clock.Now)
	if res.status != 400 || res.code != "ExpiredToken" || !strings.Contains(string(res.body), "The provided token has expired.") {
		t.Fatalf("expired session: %d %s", res.status, res.body)
	}
	// ExpireSessions ends a fresh session at once.
	s2 := createSession(t, e, clock.Now, testBucket, "")
	e.ExpireSessions()
	if res := (rawReq{query: "list-type=2", creds: s2}).do(t, e, clock.Now); res.code != "ExpiredToken" {
		t.Fatalf("after ExpireSessions: %d %s", res.status, res.body)
	}
	if got := e.Stats().Rejections["ExpiredToken"]; got != 2 {
		t.Errorf("ExpiredToken rejections = %d, want 2", got)
	}
}

func TestPresignedExpiry(t *testing.T) {
	clock := newClock()
	e := startPlain(t, clock)
	s := createSession(t, e, clock.Now, testBucket, "")
	rawReq{method: "PUT", path: "/p", body: []byte("presigned"), creds: s}.do(t, e, clock.Now)
	req, err := http.NewRequest("GET", "http://"+ZonalHost(testBucket, testRegion)+"/p?X-Amz-Expires=60", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-S3session-Token", s.token)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, _, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.akid, SecretAccessKey: s.secret}, req, unsignedPayload, "s3express", testRegion, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		r, _ := http.NewRequest("GET", u, nil)
		resp, err := (&http.Client{Transport: e.Transport()}).Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("fresh presigned URL: %d (%s)", code, u)
	}
	clock.Advance(61 * time.Second)
	if code := get(); code != 403 {
		t.Fatalf("expired presigned URL: %d, want 403", code)
	}
}
