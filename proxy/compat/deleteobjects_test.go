package compat

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

func deleteBody(n int) string {
	var b strings.Builder
	b.WriteString(`<Delete><Quiet>true</Quiet>`)
	for i := range n {
		fmt.Fprintf(&b, "<Object><Key>%s-%04d</Key></Object>", strings.Repeat("k", 1000), i)
	}
	b.WriteString(`</Delete>`)
	return b.String()
}

func TestDeleteObjectsChecksum(t *testing.T) {
	small := `<Delete><Object><Key>a</Key></Object></Delete>`
	big := deleteBody(1000) // 1000 keys of ~1 KiB: must fit the default bound
	tests := []struct {
		name   string
		header http.Header
		body   string
		reader func(string) io.Reader
		max    int64
		err    error  // errors.Is target
		code   string // S3 code of the error
		crc    string // expected x-amz-checksum-crc32, "" = header must be absent
		stream bool   // body passes unbuffered
	}{
		{name: "check value", body: "123456789", crc: "y/Q5Jg=="}, // CRC-32/IEEE check value 0xCBF43926
		{name: "md5 verified and replaced", header: http.Header{"Content-Md5": {md5b64(small)}}, body: small, crc: crc32b64(small)},
		{name: "1000 long keys", header: http.Header{"Content-Md5": {md5b64(big)}}, body: big, crc: crc32b64(big)},
		{name: "md5 mismatch", header: http.Header{"Content-Md5": {md5b64("x")}}, body: small, err: signing.ErrBadDigest, code: "BadDigest"},
		{name: "md5 malformed", header: http.Header{"Content-Md5": {"nope"}}, body: small, err: signing.ErrInvalidDigest, code: "InvalidDigest"},
		{name: "too large", body: small, max: 10, code: "MalformedXML"},
		{name: "too large unknown length", body: small, max: 10, code: "MalformedXML", reader: func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
		{name: "body error kept", body: small, err: iotest.ErrTimeout, code: "InternalError", reader: func(s string) io.Reader { return iotest.TimeoutReader(iotest.OneByteReader(strings.NewReader(s))) }},
		{name: "client checksum kept, streamed", header: http.Header{"X-Amz-Checksum-Sha256": {"abc"}, "Content-Md5": {md5b64(small)}}, body: small, stream: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header.Clone()
			if h == nil {
				h = http.Header{}
			}
			var r io.Reader = strings.NewReader(tt.body)
			length := int64(len(tt.body))
			if tt.reader != nil {
				r, length = tt.reader(tt.body), -1
			}
			rc, n, err := DeleteObjectsChecksum(h, io.NopCloser(r), length, tt.max)
			if tt.code != "" {
				if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) || s3err.From(err).Code != tt.code {
					t.Fatalf("got %v, want %s (%v)", err, tt.code, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || string(got) != tt.body {
				t.Fatalf("body %.40q… %v", got, err)
			}
			if h.Get("Content-Md5") != "" {
				t.Error("Content-MD5 still set")
			}
			if tt.stream {
				if h.Get(HeaderChecksumCRC32) != "" || h.Get("X-Amz-Checksum-Sha256") != "abc" || n != length {
					t.Errorf("client checksum case changed headers %v or length %d", h, n)
				}
				return
			}
			if h.Get(HeaderChecksumCRC32) != tt.crc || n != int64(len(tt.body)) {
				t.Errorf("crc %q len %d, want %q %d", h.Get(HeaderChecksumCRC32), n, tt.crc, len(tt.body))
			}
		})
	}
}

// crc32b64 is an independent bitwise CRC-32 (IEEE, reflected 0xEDB88320).
func crc32b64(s string) string {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc ^= uint32(s[i])
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ 0xEDB88320
			} else {
				crc >>= 1
			}
		}
	}
	crc = ^crc
	return base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
}
