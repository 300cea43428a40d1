package compat

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeS3 is an httptest-backed stand-in for a directory bucket's Zonal
// endpoint and the control endpoint, strict where S3 Express is: only "/"
// as delimiter, a prefix listed with a delimiter must end in "/", listings
// are unordered (by a hash of the name, deterministic) and continuation
// tokens are opaque. Paths: /<bucket>?list-type=2... and /control/<region>/.
type fakeS3 struct {
	srv      *httptest.Server
	keys     map[string][]string // bucket → keys
	buckets  map[string][]dirBucket
	requests atomic.Int64
	mu       sync.Mutex
	failAt   int64 // when > 0, the failAt-th listing request gets a 500
	pageCap  int   // when > 0, pages hold at most this many entries (S3 may return fewer than max-keys)
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	f := &fakeS3{keys: map[string][]string{}, buckets: map[string][]dirBucket{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Bucket and Control implement Upstream over HTTP to the fake.
func (f *fakeS3) Bucket(ctx context.Context, in BucketRequest) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, in.Method, f.srv.URL+"/"+in.Bucket+"?"+in.RawQuery, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range in.Header {
		req.Header[k] = v
	}
	return f.srv.Client().Do(req)
}

func (f *fakeS3) Control(ctx context.Context, in ControlRequest) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, in.Method, f.srv.URL+"/control/"+in.Region+in.Path+"?"+in.RawQuery, nil)
	if err != nil {
		return nil, err
	}
	return f.srv.Client().Do(req)
}

var _ Upstream = (*fakeS3)(nil)

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", "upstream-req")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func (f *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if f.failAt > 0 && n == f.failAt {
		s3Error(w, 500, "InternalError", "boom")
		return
	}
	if region, ok := strings.CutPrefix(r.URL.Path, "/control/"); ok {
		f.serveBuckets(w, r, strings.TrimSuffix(region, "/"))
		return
	}
	bucket := strings.TrimPrefix(r.URL.Path, "/")
	keys, ok := f.keys[bucket]
	if !ok {
		s3Error(w, 404, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	if r.Header.Get("X-Amz-Expected-Bucket-Owner") == "wrong" {
		s3Error(w, 403, "AccessDenied", "Access Denied")
		return
	}
	f.serveList(w, r.URL.Query(), keys)
}

type fakeEntry struct {
	name     string
	isPrefix bool
}

func hashOf(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// entries lists prefix/delimiter the way a directory bucket does: unordered.
func entries(keys []string, prefix, delim string) []fakeEntry {
	seen := map[string]bool{}
	var out []fakeEntry
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, "/"); delim == "/" && i >= 0 {
			cp := prefix + rest[:i+1]
			if !seen[cp] {
				seen[cp] = true
				out = append(out, fakeEntry{cp, true})
			}
			continue
		}
		out = append(out, fakeEntry{k, false})
	}
	slices.SortFunc(out, func(a, b fakeEntry) int {
		ha, hb := hashOf(a.name), hashOf(b.name)
		if ha < hb {
			return -1
		}
		if ha > hb {
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}

func (f *fakeS3) serveList(w http.ResponseWriter, q url.Values, keys []string) {
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	switch {
	case q.Get("list-type") != "2":
		s3Error(w, 501, "NotImplemented", "ListObjects V1 is not supported")
		return
	case delim != "" && delim != "/":
		s3Error(w, 400, "InvalidArgument", "Only / is supported as delimiter")
		return
	case delim == "/" && prefix != "" && !strings.HasSuffix(prefix, "/"):
		s3Error(w, 400, "InvalidArgument", "Prefix must end with delimiter")
		return
	case q.Has("start-after"):
		s3Error(w, 400, "InvalidArgument", "start-after is not supported")
		return
	}
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		maxKeys, _ = strconv.Atoi(v)
	}
	pos := 0
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.StdEncoding.DecodeString(tok)
		p, ok := strings.CutPrefix(string(b), "opaque:")
		if err != nil || !ok {
			s3Error(w, 400, "InvalidArgument", "The continuation token provided is incorrect")
			return
		}
		pos, _ = strconv.Atoi(p)
	}
	all := entries(keys, prefix, delim)
	if f.pageCap > 0 {
		maxKeys = min(maxKeys, f.pageCap)
	}
	end := min(pos+maxKeys, len(all))
	page := all[min(pos, len(all)):end]
	urlEnc := q.Get("encoding-type") == "url"
	enc := func(s string) string {
		if urlEnc {
			return url.QueryEscape(s)
		}
		return s
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	fmt.Fprintf(&b, "<Name>x</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys>", esc(enc(prefix)), maxKeys)
	if urlEnc {
		b.WriteString("<EncodingType>url</EncodingType>")
	}
	// Entries first, IsTruncated and the token after them: the proxy must not
	// depend on element order.
	for i, e := range page {
		if e.isPrefix {
			fmt.Fprintf(&b, "<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>", esc(enc(e.name)))
			continue
		}
		fmt.Fprintf(&b, "<Contents><Key>%s</Key><LastModified>2026-11-27T10:00:00.000Z</LastModified>"+
			"<ETag>\"e%d\"</ETag><Size>%d</Size>", esc(enc(e.name)), i, len(e.name))
		if q.Get("fetch-owner") == "true" {
			b.WriteString("<Owner><ID>owner-id</ID><DisplayName>owner</DisplayName></Owner>")
		}
		b.WriteString("<StorageClass>EXPRESS_ONEZONE</StorageClass></Contents>")
	}
	fmt.Fprintf(&b, "<KeyCount>%d</KeyCount><IsTruncated>%v</IsTruncated>", len(page), end < len(all))
	if end < len(all) {
		fmt.Fprintf(&b, "<NextContinuationToken>%s</NextContinuationToken>",
			base64.StdEncoding.EncodeToString([]byte("opaque:"+strconv.Itoa(end))))
	}
	b.WriteString("</ListBucketResult>")
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(b.String()))
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// serveBuckets answers ListDirectoryBuckets, two buckets per page.
func (f *fakeS3) serveBuckets(w http.ResponseWriter, r *http.Request, region string) {
	all := f.buckets[region]
	pos, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("continuation-token"), "tok-"))
	end := min(pos+2, len(all))
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListAllMyDirectoryBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Buckets>`)
	for _, bk := range all[pos:end] {
		fmt.Fprintf(&b, "<Bucket><BucketRegion>%s</BucketRegion><CreationDate>%s</CreationDate><Name>%s</Name>"+
			"<BucketArn>arn:aws:s3express:%s:1:bucket/%s</BucketArn></Bucket>", region, bk.CreationDate, bk.Name, region, bk.Name)
	}
	b.WriteString("</Buckets>")
	if end < len(all) {
		fmt.Fprintf(&b, "<ContinuationToken>tok-%d</ContinuationToken>", end)
	}
	b.WriteString("</ListAllMyDirectoryBucketsResult>")
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(b.String()))
}
