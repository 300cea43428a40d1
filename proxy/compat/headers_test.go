package compat

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

func md5b64(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestACL(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		wantErr bool
		left    http.Header
	}{
		{"none", http.Header{"X-Amz-Meta-A": {"1"}}, false, http.Header{"X-Amz-Meta-A": {"1"}}},
		{"private dropped", http.Header{"X-Amz-Acl": {"private"}}, false, http.Header{}},
		{"bucket-owner-full-control dropped", http.Header{"X-Amz-Acl": {"Bucket-Owner-Full-Control"}}, false, http.Header{}},
		{"public-read", http.Header{"X-Amz-Acl": {"public-read"}}, true, nil},
		{"authenticated-read", http.Header{"X-Amz-Acl": {"authenticated-read"}}, true, nil},
		{"mixed values", http.Header{"X-Amz-Acl": {"private", "public-read-write"}}, true, nil},
		{"grant read", http.Header{"X-Amz-Grant-Read": {`id="x"`}}, true, nil},
		{"grant with private", http.Header{"X-Amz-Acl": {"private"}, "X-Amz-Grant-Full-Control": {`id="x"`}}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header.Clone()
			err := ACL(h)
			if tt.wantErr {
				e := s3err.From(err)
				if err == nil || e.Status != 501 || e.Code != "NotImplemented" || !strings.Contains(e.Message, "do not support ACLs") {
					t.Fatalf("got %v, want 501 NotImplemented explaining ACLs", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != len(tt.left) || h.Get("X-Amz-Acl") != "" {
				t.Errorf("headers left %v, want %v", h, tt.left)
			}
		})
	}
}

func TestContentMD5(t *testing.T) {
	const body = "hello, directory bucket"
	tests := []struct {
		name     string
		md5      *string
		body     io.ReadCloser
		upFront  error // error from ContentMD5 itself
		readErr  error // error at the end of reading
		wantBody string
	}{
		{"no header", nil, io.NopCloser(strings.NewReader(body)), nil, nil, body},
		{"match", ptr(md5b64(body)), io.NopCloser(strings.NewReader(body)), nil, nil, body},
		{"match one byte reads", ptr(md5b64(body)), io.NopCloser(iotest.OneByteReader(strings.NewReader(body))), nil, nil, body},
		{"match data with EOF", ptr(md5b64(body)), io.NopCloser(iotest.DataErrReader(strings.NewReader(body))), nil, nil, body},
		{"match empty", ptr(md5b64("")), io.NopCloser(strings.NewReader("")), nil, nil, ""},
		{"match nil body", ptr(md5b64("")), nil, nil, nil, ""},
		{"mismatch", ptr(md5b64("other")), io.NopCloser(strings.NewReader(body)), nil, signing.ErrBadDigest, ""},
		{"mismatch half reads", ptr(md5b64("other")), io.NopCloser(iotest.HalfReader(strings.NewReader(body))), nil, signing.ErrBadDigest, ""},
		{"mismatch nil body", ptr(md5b64("x")), nil, signing.ErrBadDigest, nil, ""},
		{"not base64", ptr("%%%"), io.NopCloser(strings.NewReader(body)), signing.ErrInvalidDigest, nil, ""},
		{"wrong length", ptr(base64.StdEncoding.EncodeToString([]byte("short"))), io.NopCloser(strings.NewReader(body)), signing.ErrInvalidDigest, nil, ""},
		{"hex instead of base64", ptr("5d41402abc4b2a76b9719d911017c592"), io.NopCloser(strings.NewReader(body)), signing.ErrInvalidDigest, nil, ""},
		{"body read error", ptr(md5b64(body)), io.NopCloser(iotest.TimeoutReader(strings.NewReader(body))), nil, iotest.ErrTimeout, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"X-Amz-Meta-A": {"1"}}
			if tt.md5 != nil {
				h.Set("Content-MD5", *tt.md5)
			}
			rc, err := ContentMD5(h, tt.body)
			if tt.upFront != nil {
				if !errors.Is(err, tt.upFront) || s3err.From(err).Status != 400 {
					t.Fatalf("got %v, want %v", err, tt.upFront)
				}
				if rc != tt.body || (tt.body != nil && h.Get("Content-MD5") == "") {
					t.Error("on error the body and headers must be left as given")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Get("Content-MD5") != "" || h.Get("X-Amz-Meta-A") != "1" {
				t.Errorf("headers %v: Content-MD5 must be dropped, others kept", h)
			}
			if rc == nil {
				if tt.body != nil {
					t.Fatal("nil body returned")
				}
				return
			}
			got, err := io.ReadAll(rc)
			if tt.readErr != nil {
				if !errors.Is(err, tt.readErr) {
					t.Fatalf("read error %v, want %v", err, tt.readErr)
				}
				if len(got) >= len(body) {
					t.Errorf("all %d bytes delivered before the failure", len(got))
				}
				if errors.Is(err, signing.ErrBadDigest) {
					if e := s3err.From(err); e.Status != 400 || e.Code != "BadDigest" {
						t.Errorf("got %d %s, want 400 BadDigest", e.Status, e.Code)
					}
				}
				return
			}
			if err != nil || string(got) != tt.wantBody {
				t.Errorf("read %q, %v; want %q", got, err, tt.wantBody)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestContentMD5NothingCommitted sends a mismatching body through a real
// http.Client with a Content-Length: the server must never receive the
// complete body, so it could not commit an object.
func TestContentMD5NothingCommitted(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	tests := []struct {
		name     string
		md5      string
		complete bool
	}{
		{"match arrives whole", md5b64(string(payload)), true},
		{"mismatch never complete", md5b64("different"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan int, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, err := io.Copy(io.Discard, r.Body)
				if err != nil {
					n = -1 // the body did not complete
				}
				got <- int(n)
			}))
			defer srv.Close()
			h := http.Header{"Content-Md5": {tt.md5}}
			body, err := ContentMD5(h, io.NopCloser(bytes.NewReader(payload)))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/k", body)
			req.ContentLength = int64(len(payload))
			resp, err := srv.Client().Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			if tt.complete != (err == nil) {
				t.Errorf("client error %v", err)
			}
			n := <-got
			if complete := n == len(payload); complete != tt.complete {
				t.Errorf("server received %d of %d bytes", n, len(payload))
			}
		})
	}
}

type oneKey struct{}

func (oneKey) LookupKey(id string) (signing.Key, bool) {
	return signing.Key{SecretAccessKey: "secret"}, id == "AKID"
}

// verifiedUpload is the signing.Result of a SigV4-signed PUT of data: as
// UNSIGNED-PAYLOAD, or as an unsigned aws-chunked stream with a CRC32
// trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER), whose Body is the wire form.
func verifiedUpload(t *testing.T, data []byte, chunked bool) *signing.Result {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body, payload := data, signing.UnsignedPayload
	r := httptest.NewRequest("PUT", "http://proxy.local/bkt/key", nil)
	if chunked {
		var crc [4]byte
		binary.BigEndian.PutUint32(crc[:], crc32.ChecksumIEEE(data))
		body = fmt.Appendf(nil, "%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", len(data), data, base64.StdEncoding.EncodeToString(crc[:]))
		if len(data) == 0 {
			body = body[len("0\r\n\r\n"):]
		}
		payload = signing.StreamingUnsignedTrailer
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	}
	r.Header.Set(signing.HeaderContentSHA256, payload)
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payload, "s3", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	res, err := signing.NewVerifier(oneKey{}).Verify(r, now)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

// TestVerifyContentMD5 checks Content-MD5 against the payload a
// signing.Result carries: the object bytes, also when the body is
// aws-chunked.
func TestVerifyContentMD5(t *testing.T) {
	const body = "hello, directory bucket"
	tests := []struct {
		name    string
		md5     *string
		data    string
		upFront error // error from VerifyContentMD5 itself
		readErr error // error at the end of reading
	}{
		{"no header", nil, body, nil, nil},
		{"match", ptr(md5b64(body)), body, nil, nil},
		{"match empty", ptr(md5b64("")), "", nil, nil},
		{"mismatch", ptr(md5b64("other")), body, nil, signing.ErrBadDigest},
		{"mismatch empty", ptr(md5b64("x")), "", nil, signing.ErrBadDigest},
		{"not base64", ptr("%%%"), body, signing.ErrInvalidDigest, nil},
		{"wrong length", ptr(base64.StdEncoding.EncodeToString([]byte("short"))), body, signing.ErrInvalidDigest, nil},
	}
	for _, chunked := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/chunked=%v", tt.name, chunked), func(t *testing.T) {
				h := http.Header{"X-Amz-Meta-A": {"1"}}
				if tt.md5 != nil {
					h.Set("Content-MD5", *tt.md5)
				}
				res := verifiedUpload(t, []byte(tt.data), chunked)
				before := res.Body
				err := VerifyContentMD5(h, res)
				if tt.md5 != nil && h.Get("Content-MD5") != *tt.md5 {
					t.Error("headers modified")
				}
				// An empty payload has no body and is checked at once.
				want := tt.upFront
				if res.Body == nil {
					want = cmp.Or(tt.upFront, tt.readErr)
				}
				if want != nil {
					if !errors.Is(err, want) || s3err.From(err).Status != 400 {
						t.Fatalf("got %v, want %v", err, want)
					}
					if res.Body != before {
						t.Error("body replaced on error")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Body == nil {
					return
				}
				got, err := io.ReadAll(res.Body)
				if tt.readErr != nil {
					if e := s3err.From(err); !errors.Is(err, tt.readErr) || e.Code != "BadDigest" {
						t.Fatalf("read error %v, want %v", err, tt.readErr)
					}
					if chunked && bytes.Contains(got, []byte("0\r\n")) {
						t.Fatalf("final chunk sent despite the mismatch: %q", got)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if chunked {
					want := fmt.Sprintf("%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:", len(tt.data), tt.data)
					if tt.data == "" {
						want = "0\r\nx-amz-checksum-crc32:"
					}
					if !bytes.HasPrefix(got, []byte(want)) {
						t.Fatalf("upstream stream %q does not carry the payload", got)
					}
				} else if string(got) != tt.data {
					t.Fatalf("read %q, want %q", got, tt.data)
				}
			})
		}
	}
}

func TestStorageClass(t *testing.T) {
	tests := []struct{ in, want string }{
		{"STANDARD", ""},
		{"standard", ""},
		{"EXPRESS_ONEZONE", "EXPRESS_ONEZONE"},
		{"ONEZONE_IA", "ONEZONE_IA"},
		{"GLACIER", "GLACIER"}, // refused by S3 itself, not hidden
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h := http.Header{}
			if tt.in != "" {
				h.Set("X-Amz-Storage-Class", tt.in)
			}
			StorageClass(h)
			if got := h.Get("X-Amz-Storage-Class"); got != tt.want {
				t.Fatalf("x-amz-storage-class = %q, want %q", got, tt.want)
			}
		})
	}
}
