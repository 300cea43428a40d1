package signing

import (
	"net/http"
	"testing"
)

// TestSetUpstreamHeaders: x-amz-content-sha256 is left as it was (the
// caller sets it last).
func TestSetUpstreamHeaders(t *testing.T) {
	tests := []struct {
		name string
		res  Result
		in   map[string]string
		want map[string]string // "" means absent
	}{
		{"decoded signed chunks",
			Result{UpstreamContentSHA256: UnsignedPayload, DecodedContentLength: 10},
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "10", HeaderContentSHA256: StreamingSignedPayload},
			map[string]string{"Content-Encoding": "", "X-Amz-Decoded-Content-Length": "", HeaderContentSHA256: StreamingSignedPayload}},
		{"decoded keeps gzip",
			Result{UpstreamContentSHA256: UnsignedPayload, DecodedContentLength: 10},
			map[string]string{"Content-Encoding": "aws-chunked,gzip"},
			map[string]string{"Content-Encoding": "gzip"}},
		{"re-encoded trailer",
			Result{UpstreamContentSHA256: StreamingUnsignedTrailer, DecodedContentLength: 7, Trailer: "x-amz-checksum-crc32"},
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32", HeaderContentSHA256: StreamingSignedTrailer},
			map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "7", "X-Amz-Trailer": "x-amz-checksum-crc32", HeaderContentSHA256: StreamingSignedTrailer}},
		{"plain body",
			Result{UpstreamContentSHA256: UnsignedPayload, DecodedContentLength: -1},
			map[string]string{HeaderContentSHA256: emptySHA256, "Content-Encoding": "gzip"},
			map[string]string{HeaderContentSHA256: emptySHA256, "Content-Encoding": "gzip", "X-Amz-Trailer": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.in {
				h.Set(k, v)
			}
			tt.res.SetUpstreamHeaders(h)
			for k, want := range tt.want {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
