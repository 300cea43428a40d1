package e2e

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUnsignedTrailerUpload: an aws-chunked body with an unsigned checksum
// trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER, what SDKs send by default)
// is passed through and its checksum verified upstream.
func TestUnsignedTrailerUpload(t *testing.T) {
	e := newEnv(t, envConfig{})
	data := payload(70000, 9)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(data))
	crc := base64.StdEncoding.EncodeToString(sum[:])
	tests := []struct {
		name   string
		crc    string
		status int
	}{
		{"good checksum", crc, 200},
		{"bad checksum", base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4}), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			for off := 0; off < len(data); off += 65536 {
				chunk := data[off:min(off+65536, len(data))]
				body = append(body, fmt.Sprintf("%x\r\n", len(chunk))...)
				body = append(body, chunk...)
				body = append(body, "\r\n"...)
			}
			body = append(body, "0\r\nx-amz-checksum-crc32:"+tt.crc+"\r\n\r\n"...)
			hdr := http.Header{
				"X-Amz-Content-Sha256":         {"STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
				"Content-Encoding":             {"aws-chunked"},
				"X-Amz-Decoded-Content-Length": {strconv.Itoa(len(data))},
				"X-Amz-Trailer":                {"x-amz-checksum-crc32"},
			}
			key := "trailer/" + tt.name
			req := signedRequest(t, "PUT", e.url("/"+aliasData+"/trailer/"+strings.ReplaceAll(tt.name, " ", "%20")), rwKey, rwSecret, body, time.Now(), hdr)
			status, b, h := do(t, req)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, b)
			}
			if status != 200 {
				return
			}
			if h.Get("X-Amz-Checksum-Crc32") != crc {
				t.Errorf("checksum header %q, want %q", h.Get("X-Amz-Checksum-Crc32"), crc)
			}
			rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
			if got := rw.get(t, aliasData, key); string(got) != string(data) {
				t.Fatalf("stored %d bytes, want the %d decoded bytes", len(got), len(data))
			}
		})
	}
}
