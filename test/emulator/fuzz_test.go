package emulator

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler feeds arbitrary request lines, headers and bodies to the S3
// handler: it must answer every one without a recovered panic. The seed
// corpus runs with every `go test`.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		method, host, uri, hk, hv, body string
	}{
		{"GET", ZonalHost(testBucket, testRegion), "/?session", "Authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00", ""},
		{"PUT", ZonalHost(testBucket, testRegion), "/k%20x?partNumber=1&uploadId=u", "X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "3\r\nabc\r\n0\r\n\r\n"},
		{"POST", ZonalHost(testBucket, testRegion), "/?delete", "Content-Md5", "!!", "<Delete><Object><Key>"},
		{"GET", "s3express-control.us-west-2.amazonaws.com", "/?max-directory-buckets=-1", "X-Amz-Date", "20200101T000000Z", ""},
		{"HEAD", "s3.us-west-2.amazonaws.com", "/plain-bucket/a/../b", "Range", "bytes=-0", ""},
		{"GET", "x.s3express-.amazonaws.com", "http://h/p?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=9", "", "", ""},
		{"DELETE", ZonalHost(testBucket, testRegion), "/%", "Authorization", "AWS4-HMAC-SHA256 ,,,", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.host, s.uri, s.hk, s.hv, s.body)
	}
	e, err := New(Options{Credentials: map[string]string{testAKID: testSecret}, Buckets: []string{testBucket, gpBucket}})
	if err != nil {
		f.Fatal(err)
	}
	h := e.Handler()
	f.Fuzz(func(t *testing.T, method, host, uri, hk, hv, body string) {
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			u = &url.URL{Path: "/"}
		}
		r := &http.Request{Method: method, RequestURI: uri, URL: u, Host: host, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		if hk != "" && !strings.ContainsAny(hk, "\r\n: ") {
			r.Header.Set(hk, hv)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("500 for %s %s %s: %s", method, host, uri, w.Body)
		}
		if w.Code >= 300 && method != "HEAD" && w.Code != 304 && !bytes.HasPrefix(w.Body.Bytes(), []byte("<?xml")) {
			t.Fatalf("non-XML error %d: %q", w.Code, w.Body)
		}
	})
}
