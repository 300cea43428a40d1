package proxy

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
)

// TestMD5ETags: with Options.MD5ETags the ETag of a successful PutObject or
// UploadPart is the MD5 of the payload, also after a retry that replays
// the body; other operations, and every operation with the option off,
// keep the upstream ETag.
func TestMD5ETags(t *testing.T) {
	body := []byte("the payload whose MD5 becomes the ETag")
	sum := md5.Sum(body)
	md5ETag := `"` + hex.EncodeToString(sum[:]) + `"`
	tests := []struct {
		name   string
		on     bool
		method string
		path   string
		hdr    map[string]string
		expire bool // the first session token is expired: one retry
		want   string
	}{
		{"PutObject", true, "PUT", "/data/obj", nil, false, md5ETag},
		{"PutObject with Content-MD5", true, "PUT", "/data/obj", map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])}, false, md5ETag},
		{"UploadPart", true, "PUT", "/data/obj?partNumber=1&uploadId=u1", nil, false, md5ETag},
		{"PutObject retried on an expired session", true, "PUT", "/data/obj", nil, true, md5ETag},
		{"GetObject", true, "GET", "/data/obj", nil, false, `"abc"`},
		{"CopyObject", true, "PUT", "/data/obj", map[string]string{"X-Amz-Copy-Source": "/data/src"}, false, `"abc"`},
		{"PutObject, option off", false, "PUT", "/data/obj", nil, false, `"abc"`},
		{"UploadPart, option off", false, "PUT", "/data/obj?partNumber=1&uploadId=u1", nil, false, `"abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &fakeUpstream{}
			if tt.expire {
				up.expire("tok-1")
			}
			_, srv := newTestProxy(t, up, func(o *Options) { o.MD5ETags = tt.on })
			var b []byte
			if tt.method == "PUT" {
				b = body
			}
			req := newReq(t, tt.method, srv.URL+tt.path, b)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(sign(t, req, b))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			if etag := resp.Header.Get("ETag"); etag != tt.want {
				t.Errorf("ETag %s, want %s", etag, tt.want)
			}
			s := up.seen()
			if string(s[len(s)-1].Body) != string(b) {
				t.Errorf("upstream got %q, want %q", s[len(s)-1].Body, b)
			}
			if tt.expire && len(s) != 2 {
				t.Errorf("%d upstream attempts, want 2 (one retry)", len(s))
			}
		})
	}
}
