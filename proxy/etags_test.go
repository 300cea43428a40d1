package proxy

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMD5ETags: under the ETag contract a successful PutObject or
// UploadPart answers the MD5 of the payload when the client declared it
// (Content-MD5) or, with Options.AlwaysMD5ETags, always (hashed as it
// streams, also after a retry that replays the body); other operations,
// payloads without a declared MD5 by default, and appends (whose S3 ETag is
// the whole object's) answer S3's ETag marked; with
// Options.PassthroughETags every operation keeps the upstream ETag.
func TestMD5ETags(t *testing.T) {
	body := []byte("the payload whose MD5 becomes the ETag")
	sum := md5.Sum(body)
	md5ETag := `"` + hex.EncodeToString(sum[:]) + `"`
	cmd5 := map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])}
	tests := []struct {
		name   string
		mode   string // "" default, "always" (AlwaysMD5ETags), "off" (PassthroughETags)
		method string
		path   string
		hdr    map[string]string
		expire bool // the first session token is expired: one retry
		want   string
	}{
		{"PutObject", "", "PUT", "/data/obj", nil, false, `"abc-s3x"`},
		{"PutObject with Content-MD5", "", "PUT", "/data/obj", cmd5, false, md5ETag},
		{"UploadPart with Content-MD5", "", "PUT", "/data/obj?partNumber=1&uploadId=u1", cmd5, false, md5ETag},
		{"UploadPart", "", "PUT", "/data/obj?partNumber=1&uploadId=u1", nil, false, `"abc-s3x"`},
		{"PutObject, always", "always", "PUT", "/data/obj", nil, false, md5ETag},
		{"PutObject with Content-MD5, always", "always", "PUT", "/data/obj", cmd5, false, md5ETag},
		{"UploadPart, always", "always", "PUT", "/data/obj?partNumber=1&uploadId=u1", nil, false, md5ETag},
		{"PutObject retried on an expired session, always", "always", "PUT", "/data/obj", nil, true, md5ETag},
		{"PutObject with Content-MD5 retried", "", "PUT", "/data/obj", cmd5, true, md5ETag},
		{"GetObject", "", "GET", "/data/obj", nil, false, `"abc-s3x"`},
		{"HeadObject", "", "HEAD", "/data/obj", nil, false, `"abc-s3x"`},
		{"CopyObject", "", "PUT", "/data/obj", map[string]string{"X-Amz-Copy-Source": "/data/src"}, false, `"abc-s3x"`},
		{"PutObject append, always", "always", "PUT", "/data/obj", map[string]string{"X-Amz-Write-Offset-Bytes": "10"}, false, `"abc-s3x"`},
		{"GetObject, option off", "off", "GET", "/data/obj", nil, false, `"abc"`},
		{"PutObject with Content-MD5, option off", "off", "PUT", "/data/obj", cmd5, false, `"abc"`},
		{"UploadPart, option off", "off", "PUT", "/data/obj?partNumber=1&uploadId=u1", nil, false, `"abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &fakeUpstream{}
			if tt.expire {
				up.expire("tok-1")
			}
			_, srv := newTestProxy(t, up, func(o *Options) {
				o.PassthroughETags, o.AlwaysMD5ETags = tt.mode == "off", tt.mode == "always"
			})
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

// TestETagConditionsUnmarked: under the ETag contract (Options.PassthroughETags false) the marked ETags a
// client sends in If-Match, If-None-Match and the copy-source conditions
// reach S3 unmarked; anything else, duplicated headers included, passes
// byte for byte; with the option off nothing is touched.
func TestETagConditionsUnmarked(t *testing.T) {
	long := `"` + strings.Repeat("a", 1500) + `-s3x"`
	huge := `"` + strings.Repeat("a", 9000) + `-s3x"`
	tests := []struct {
		name string
		on   bool
		hdr  http.Header
		want http.Header
	}{
		{"If-Match", true, http.Header{"If-Match": {`"abc-s3x"`}}, http.Header{"If-Match": {`"abc"`}}},
		{"If-None-Match list, weak and *", true,
			http.Header{"If-None-Match": {`W/"x-s3x", "y", *, "a,b-s3x"`}},
			http.Header{"If-None-Match": {`W/"x", "y", *, "a,b"`}}},
		{"copy-source conditions", true,
			http.Header{"X-Amz-Copy-Source": {"/data/src"}, "X-Amz-Copy-Source-If-Match": {`"c-s3x"`}, "X-Amz-Copy-Source-If-None-Match": {`d-s3x`}},
			http.Header{"X-Amz-Copy-Source-If-Match": {`"c"`}, "X-Amz-Copy-Source-If-None-Match": {`d`}}},
		{"not ours: MD5, crafted, unterminated", true,
			http.Header{"If-Match": {`"0123456789abcdef0123456789abcdef"`, `"abc-1"`, `"abc-s3x`}},
			http.Header{"If-Match": {`"0123456789abcdef0123456789abcdef"`, `"abc-1"`, `"abc-s3x`}}},
		{"duplicated If-Match", true,
			http.Header{"If-Match": {`"a-s3x"`, `"b-s3x"`}}, http.Header{"If-Match": {`"a"`, `"b"`}}},
		{"long value", true, http.Header{"If-Match": {long}}, http.Header{"If-Match": {long[:len(long)-5] + `"`}}},
		{"huge value refused by the header limits", true, http.Header{"If-Match": {huge}}, nil},
		{"option off", false, http.Header{"If-Match": {`"abc-s3x"`}}, http.Header{"If-Match": {`"abc-s3x"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &fakeUpstream{}
			_, srv := newTestProxy(t, up, func(o *Options) { o.PassthroughETags = !tt.on })
			method, body := "GET", []byte(nil)
			if tt.hdr.Get("X-Amz-Copy-Source") != "" {
				method, body = "PUT", []byte{}
			}
			req := newReq(t, method, srv.URL+"/data/obj", body)
			for k, vv := range tt.hdr {
				req.Header[k] = vv
			}
			resp, err := http.DefaultClient.Do(sign(t, req, body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.want == nil {
				if resp.StatusCode != 400 || !strings.Contains(string(got), "RequestHeaderSectionTooLarge") {
					t.Fatalf("status %d: %s; want 400 RequestHeaderSectionTooLarge", resp.StatusCode, got)
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			s := up.seen()
			h := s[len(s)-1].Header
			for k, want := range tt.want {
				if g := h.Values(k); !slices.Equal(g, want) {
					t.Errorf("upstream %s = %q, want %q", k, g, want)
				}
			}
		})
	}
}

// TestETagBodiesMarked: the ETag elements of forwarded XML answers
// (ListParts, CopyObject, CompleteMultipartUpload) are marked as they
// stream, the rest kept byte for byte, and Content-Length dropped.
func TestETagBodiesMarked(t *testing.T) {
	const doc = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>&quot;p1&quot;</ETag></Part>` +
		`<Part><PartNumber>2</PartNumber><ETag>"p2"</ETag></Part></ListPartsResult>`
	const want = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>&quot;p1-s3x&quot;</ETag></Part>` +
		`<Part><PartNumber>2</PartNumber><ETag>"p2-s3x"</ETag></Part></ListPartsResult>`
	for _, on := range []bool{true, false} {
		up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.RawQuery == "session" || r.URL.RawQuery == "session=" {
				(&fakeUpstream{}).ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
			io.WriteString(w, doc)
		})
		_, srv := newTestProxy(t, up, func(o *Options) { o.PassthroughETags = !on })
		req := newReq(t, "GET", srv.URL+"/data/obj?uploadId=u1", nil)
		resp, err := http.DefaultClient.Do(sign(t, req, nil))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		w := want
		if !on {
			w = doc
		}
		if string(got) != w {
			t.Errorf("on=%v: body\n got %s\nwant %s", on, got, w)
		}
	}
}
