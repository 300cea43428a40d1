package compat

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// fakeParts is an httptest-backed ListParts endpoint for one upload:
// GET /<key>?uploadId=&max-parts=&part-number-marker=, parts in number
// order, at most pageCap a page (S3 may return fewer than max-parts).
type fakeParts struct {
	srv      *httptest.Server
	uploadID string
	etags    map[int]string // part number → real ETag
	pageCap  int

	mu      sync.Mutex
	queries []string // raw queries received
}

func newFakeParts(t *testing.T, uploadID string, etags map[int]string, pageCap int) *fakeParts {
	t.Helper()
	f := &fakeParts{uploadID: uploadID, etags: etags, pageCap: pageCap}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeParts) Bucket(ctx context.Context, in BucketRequest) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, in.Method, f.srv.URL+"/"+in.Key+"?"+in.RawQuery, nil)
	if err != nil {
		return nil, err
	}
	return f.srv.Client().Do(req)
}

func (f *fakeParts) Control(context.Context, ControlRequest) (*http.Response, error) {
	return nil, errors.New("no control endpoint")
}

var _ Upstream = (*fakeParts)(nil)

func (f *fakeParts) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	f.mu.Unlock()
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("uploadId") != f.uploadID {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist.")
		return
	}
	maxParts, _ := strconv.Atoi(q.Get("max-parts"))
	if maxParts <= 0 || maxParts > 1000 {
		maxParts = 1000
	}
	if f.pageCap > 0 {
		maxParts = min(maxParts, f.pageCap)
	}
	marker, _ := strconv.Atoi(q.Get("part-number-marker"))
	var nums []int
	for n := 1; n <= 10000; n++ {
		if _, ok := f.etags[n]; ok && n > marker {
			nums = append(nums, n)
		}
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	fmt.Fprintf(&b, "<Bucket>b</Bucket><Key>k</Key><UploadId>%s</UploadId><PartNumberMarker>%d</PartNumberMarker>", f.uploadID, marker)
	next, truncated := 0, len(nums) > maxParts
	for _, n := range nums[:min(len(nums), maxParts)] {
		fmt.Fprintf(&b, "<Part><PartNumber>%d</PartNumber><LastModified>2026-11-27T10:00:00.000Z</LastModified>"+
			"<ETag>%s</ETag><Size>5242880</Size></Part>", n, esc(f.etags[n]))
		next = n
	}
	// IsTruncated and the marker after the parts: order must not matter.
	fmt.Fprintf(&b, "<MaxParts>%d</MaxParts><IsTruncated>%v</IsTruncated><NextPartNumberMarker>%d</NextPartNumberMarker>"+
		"<Owner><ID>o</ID></Owner><StorageClass>EXPRESS_ONEZONE</StorageClass></ListPartsResult>", maxParts, truncated, next)
	w.Header().Set("Content-Type", "application/xml")
	_, _ = io.WriteString(w, b.String())
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestPayloadMD5(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4099)
	want := `"` + md5Hex(data) + `"`
	tests := []struct {
		name   string
		length int64
		body   func() io.Reader
		read   int // bytes to read; -1 all
		ok     bool
	}{
		{"unknown length, read to EOF", -1, func() io.Reader { return bytes.NewReader(data) }, -1, true},
		{"known length, read to EOF", int64(len(data)), func() io.Reader { return bytes.NewReader(data) }, -1, true},
		{"known length, last byte read before EOF", int64(len(data)), func() io.Reader { return bytes.NewReader(data) }, len(data), true},
		{"one byte at a time", -1, func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }, -1, true},
		{"partly read", -1, func() io.Reader { return bytes.NewReader(data) }, 100, false},
		{"read error", -1, func() io.Reader { return iotest.TimeoutReader(bytes.NewReader(data)) }, -1, false},
		{"shorter than declared", int64(len(data)) + 1, func() io.Reader { return bytes.NewReader(data) }, -1, false},
		{"longer than declared", int64(len(data)) - 1, func() io.Reader { return bytes.NewReader(data) }, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewPayloadMD5(tt.length)
			rc, err := m.Wrap(io.NopCloser(tt.body()))
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if tt.read < 0 {
				got, _ = io.ReadAll(rc)
			} else {
				got = make([]byte, tt.read)
				_, _ = io.ReadFull(rc, got)
			}
			if tt.ok && !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, want the %d written unchanged", len(got), len(data))
			}
			etag, ok := m.ETag()
			if ok != tt.ok || (ok && etag != want) {
				t.Errorf("ETag() = %q, %v; want %q, %v", etag, ok, want, tt.ok)
			}
		})
	}
	t.Run("empty payload", func(t *testing.T) {
		m := NewPayloadMD5(0)
		rc, _ := m.Wrap(http.NoBody)
		_, _ = io.ReadAll(rc)
		if etag, ok := m.ETag(); !ok || etag != `"d41d8cd98f00b204e9800998ecf8427e"` {
			t.Errorf("ETag() = %q, %v; want the MD5 of nothing", etag, ok)
		}
	})
}

func completeBody(parts ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + strings.Join(parts, "\n") + `</CompleteMultipartUpload>`
}

func TestCompleteMultipartETags(t *testing.T) {
	m1, m2, m3 := md5Hex([]byte("one")), md5Hex([]byte("two")), md5Hex([]byte("three"))
	real := map[int]string{1: `"r1aaaa"`, 2: `"r2bbbb"`, 3: `"r3cccc"`}
	tests := []struct {
		name string
		body string
		want string // rewritten body
		code string // S3 error code, "" for success
	}{
		{"quoted MD5s, checksum kept",
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>"`+m1+`"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>`,
				`<Part><ETag>&quot;`+m2+`&quot;</ETag><PartNumber>2</PartNumber></Part>`),
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>&#34;r1aaaa&#34;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>`,
				`<Part><ETag>&#34;r2bbbb&#34;</ETag><PartNumber>2</PartNumber></Part>`), ""},
		{"unquoted MD5 and surrounding whitespace",
			completeBody("<Part>\n  <PartNumber> 3 </PartNumber>\n  <ETag>\n " + m3 + "\n</ETag>\n</Part>"),
			completeBody("<Part>\n  <PartNumber> 3 </PartNumber>\n  <ETag>&#34;r3cccc&#34;</ETag>\n</Part>"), ""},
		{"real ETag kept as the real one",
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>"r1aaaa"</ETag></Part>`),
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>"r1aaaa"</ETag></Part>`), ""},
		{"marked ETags unmarked, MD5 beside them translated",
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>&quot;r1aaaa-s3x&quot;</ETag></Part>`,
				`<Part><PartNumber>2</PartNumber><ETag>"`+m2+`"</ETag></Part>`,
				`<Part><PartNumber>7</PartNumber><ETag>"upc7-s3x"</ETag></Part>`),
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>&#34;r1aaaa&#34;</ETag></Part>`,
				`<Part><PartNumber>2</PartNumber><ETag>&#34;r2bbbb&#34;</ETag></Part>`,
				`<Part><PartNumber>7</PartNumber><ETag>&#34;upc7&#34;</ETag></Part>`), ""},
		{"other ETag left for S3 to refuse",
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>"not-an-md5"</ETag></Part>`),
			completeBody(`<Part><PartNumber>1</PartNumber><ETag>"not-an-md5"</ETag></Part>`), ""},
		{"no namespace, no parts", `<CompleteMultipartUpload></CompleteMultipartUpload>`, `<CompleteMultipartUpload></CompleteMultipartUpload>`, ""},
		{"unknown part", completeBody(`<Part><PartNumber>4</PartNumber><ETag>"` + m1 + `"</ETag></Part>`), "", "InvalidPart"},
		{"bad part number", completeBody(`<Part><PartNumber>x</PartNumber><ETag>"` + m1 + `"</ETag></Part>`), "", "MalformedXML"},
		{"missing part number", completeBody(`<Part><ETag>"` + m1 + `"</ETag></Part>`), "", "MalformedXML"},
		{"not XML", `<CompleteMultipartUpload><Part>`, "", "MalformedXML"},
		{"wrong root", `<Delete><Part><PartNumber>1</PartNumber></Part></Delete>`, "", "MalformedXML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeParts(t, "up1", real, 0)
			h := http.Header{HeaderContentMD5: {"x"}, "X-Amz-Checksum-Crc32": {"keep"}}
			body, n, err := CompleteMultipartETags(context.Background(), f, CompleteInput{
				Bucket: "b--usw2-az1--x-s3", Key: "dir/obj", UploadID: "up1", Header: h,
				Body: io.NopCloser(strings.NewReader(tt.body)), ContentLength: int64(len(tt.body)),
			})
			if tt.code != "" {
				if e := s3err.From(err); err == nil || e.Code != tt.code || e.Status != http.StatusBadRequest {
					t.Fatalf("err %v, want 400 %s", err, tt.code)
				}
				if h.Get(HeaderContentMD5) == "" {
					t.Error("Content-MD5 removed on failure")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(body)
			if string(got) != tt.want || n != int64(len(got)) {
				t.Errorf("body (%d)\n got %s\nwant %s", n, got, tt.want)
			}
			if h.Get(HeaderContentMD5) != "" || h.Get("X-Amz-Checksum-Crc32") != "keep" {
				t.Errorf("header %v: want Content-MD5 dropped, checksum kept", h)
			}
		})
	}
}

func TestCompleteMultipartETagsLimits(t *testing.T) {
	f := newFakeParts(t, "up1", map[int]string{1: `"r1"`}, 0)
	big := completeBody(strings.Repeat(" ", 300) + `<Part><PartNumber>1</PartNumber><ETag>"` + md5Hex(nil) + `"</ETag></Part>`)
	for _, tt := range []struct {
		name   string
		length int64
	}{{"declared too long", int64(len(big))}, {"unknown length, too long", -1}} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := CompleteMultipartETags(context.Background(), f, CompleteInput{
				Bucket: "b", Key: "k", UploadID: "up1", Header: http.Header{},
				Body: io.NopCloser(strings.NewReader(big)), ContentLength: tt.length, MaxBytes: 256,
			})
			if e := s3err.From(err); err == nil || e.Code != "MalformedXML" {
				t.Errorf("err %v, want MalformedXML", err)
			}
		})
	}
	if n := len(f.queries); n != 0 {
		t.Errorf("%d ListParts calls for refused bodies", n)
	}
	t.Run("upstream error passed on", func(t *testing.T) {
		body := completeBody(`<Part><PartNumber>1</PartNumber><ETag>"` + md5Hex(nil) + `"</ETag></Part>`)
		_, _, err := CompleteMultipartETags(context.Background(), f, CompleteInput{
			Bucket: "b", Key: "k", UploadID: "gone", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1,
		})
		if e := s3err.From(err); err == nil || e.Status != http.StatusNotFound || e.Code != "NoSuchUpload" {
			t.Errorf("err %v, want 404 NoSuchUpload", err)
		}
	})
}

// TestListPartsPagination: ListParts is followed by NextPartNumberMarker
// until every listed part number is known, and no further.
func TestListPartsPagination(t *testing.T) {
	etags := map[int]string{}
	for n := 1; n <= 2500; n++ {
		etags[n] = fmt.Sprintf(`"real-%d"`, n)
	}
	tests := []struct {
		name    string
		pageCap int
		parts   []int
		calls   int
	}{
		{"one page", 0, []int{1, 2, 3}, 1},
		{"three full pages", 0, []int{1, 1500, 2500}, 3},
		{"stops after the highest part", 0, []int{1, 999, 1000}, 1},
		{"short pages", 7, []int{1, 20}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeParts(t, "up/1+x", etags, tt.pageCap)
			var parts, want []string
			for _, n := range tt.parts {
				parts = append(parts, fmt.Sprintf(`<Part><PartNumber>%d</PartNumber><ETag>"%s"</ETag></Part>`, n, md5Hex([]byte(strconv.Itoa(n)))))
				want = append(want, fmt.Sprintf(`<Part><PartNumber>%d</PartNumber><ETag>&#34;real-%d&#34;</ETag></Part>`, n, n))
			}
			body := completeBody(parts...)
			out, _, err := CompleteMultipartETags(context.Background(), f, CompleteInput{
				Bucket: "b", Key: "k", UploadID: "up/1+x", Header: http.Header{},
				Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
			})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(out)
			if string(got) != completeBody(want...) {
				t.Errorf("body\n got %s\nwant %s", got, completeBody(want...))
			}
			if len(f.queries) != tt.calls {
				t.Errorf("%d ListParts calls %q, want %d", len(f.queries), f.queries, tt.calls)
			}
			if len(f.queries) > 1 && !strings.Contains(f.queries[1], "part-number-marker=") {
				t.Errorf("second call %q has no part-number-marker", f.queries[1])
			}
		})
	}
}

// TestCompleteMultipartETagsMarkedOnly: a part list holding only marked
// ETags is unmarked without a ListParts call.
func TestCompleteMultipartETagsMarkedOnly(t *testing.T) {
	f := newFakeParts(t, "up1", map[int]string{1: `"r1"`}, 0)
	body := completeBody(`<Part><PartNumber>1</PartNumber><ETag>"r1-s3x"</ETag></Part>`)
	rc, _, err := CompleteMultipartETags(context.Background(), f, CompleteInput{
		Bucket: "b--usw2-az1--x-s3", Key: "k", UploadID: "up1", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	if want := completeBody(`<Part><PartNumber>1</PartNumber><ETag>&#34;r1&#34;</ETag></Part>`); string(got) != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) != 0 {
		t.Errorf("ListParts calls %q, want none", f.queries)
	}
}

func TestKnownPayloadMD5(t *testing.T) {
	m, ok := KnownPayloadMD5("1B2M2Y8AsgTpgAmY7PhCfg==") // MD5 of nothing
	if etag, eok := m.ETag(); !ok || !eok || etag != `"d41d8cd98f00b204e9800998ecf8427e"` {
		t.Errorf("ETag() = %q, %v, %v", etag, ok, eok)
	}
	for _, bad := range []string{"", "not base64!", "AAAA"} {
		if _, ok := KnownPayloadMD5(bad); ok {
			t.Errorf("KnownPayloadMD5(%q) accepted", bad)
		}
	}
}
