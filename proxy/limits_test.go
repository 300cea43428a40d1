package proxy

import (
	"errors"
	"net/http"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// TestCheckSingleHeaders covers what HTTP/1.1 never delivers to a handler
// (net/http refuses a second Host line itself): an HTTP/2 request may
// carry Host fields beside :authority. The socket-level cases are in
// test/e2e TestDuplicateSecurityHeaders.
func TestCheckSingleHeaders(t *testing.T) {
	tests := []struct {
		name string
		host string
		h    http.Header
		arg  string // ArgumentName, "" for no error
	}{
		{"plain", "b.s3.local", http.Header{"X-Amz-Date": {"20260101T000000Z"}}, ""},
		{"host field equal to authority", "b.s3.local", http.Header{"Host": {"B.S3.local"}}, ""},
		{"host field naming another host", "b.s3.local", http.Header{"Host": {"other.s3.local"}}, "Host"},
		{"two host fields", "b.s3.local", http.Header{"Host": {"b.s3.local", "b.s3.local"}}, "Host"},
		{"two dates", "b.s3.local", http.Header{"X-Amz-Date": {"20260101T000000Z", "20260101T000000Z"}}, "X-Amz-Date"},
		{"empty then real copy source", "b.s3.local", http.Header{"X-Amz-Copy-Source": {"", "/x/k"}}, "X-Amz-Copy-Source"},
		{"two trailers", "b.s3.local", http.Header{"X-Amz-Trailer": {"x-amz-checksum-crc32", "x-amz-checksum-sha256"}}, "X-Amz-Trailer"},
		{"two write offsets", "b.s3.local", http.Header{"X-Amz-Write-Offset-Bytes": {"0", "10"}}, "X-Amz-Write-Offset-Bytes"},
		{"repeatable header", "b.s3.local", http.Header{"X-Amz-Meta-A": {"1", "2"}, "Accept": {"a", "b"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSingleHeaders(&http.Request{Host: tt.host, Header: tt.h})
			var e *s3err.Error
			switch {
			case tt.arg == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.arg == "":
			case !errors.As(err, &e) || e.Status != 400 || e.Code != "InvalidArgument":
				t.Fatalf("got %v, want 400 InvalidArgument", err)
			case len(e.Extra) != 1 || e.Extra[0].Value != tt.arg:
				t.Fatalf("ArgumentName %v, want %s", e.Extra, tt.arg)
			}
		})
	}
}
