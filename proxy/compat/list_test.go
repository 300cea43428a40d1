package compat

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

const testBucket = "data--usw2-az1--x-s3"

type listResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Name, Prefix          string
	Marker                *string
	NextMarker            *string
	Delimiter             string
	EncodingType          string
	MaxKeys               int
	IsTruncated           bool
	KeyCount              *int
	ContinuationToken     *string
	NextContinuationToken *string
	Contents              []struct {
		Key   string
		Size  int64
		ETag  string
		Owner *struct{ ID string }
	}
	CommonPrefixes []struct{ Prefix string }
}

// proxyFor serves the Lister's handlers over a real socket: /v1/<bucket>
// and /v2/<bucket>.
func proxyFor(t *testing.T, l *Lister, up Upstream) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/"):
			err = l.ListObjectsV1(w, r, up, strings.TrimPrefix(r.URL.Path, "/v1/"), r.URL.Query())
		case strings.HasPrefix(r.URL.Path, "/v2/"):
			err = l.ListObjectsV2(w, r, up, strings.TrimPrefix(r.URL.Path, "/v2/"), r.URL.Query())
		}
		if err != nil {
			s3err.Write(w, r, err, "req-1")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string) (int, []byte, error) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func getList(t *testing.T, u string) listResult {
	t.Helper()
	status, body, err := get(t, u)
	if err != nil || status != 200 {
		t.Fatalf("GET %s: %d %v %s", u, status, err, body)
	}
	var res listResult
	if err := xml.Unmarshal(body, &res); err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	return res
}

// testKeys: 2500 flat keys, a directory with files, subdirectories and
// near-miss names, and keys that need encoding.
func testKeys() []string {
	var keys []string
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("k%04d", i))
	}
	for i := range 60 {
		keys = append(keys, fmt.Sprintf("dir/file-%02d", i), fmt.Sprintf("dir/fig-%02d", i))
	}
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("dir/file-sub%02d/x", i), fmt.Sprintf("dir/other%02d/y", i))
	}
	keys = append(keys, "dir/fi", "di", "dirt", "sp ace+plus/é", "sp ace+plus/&<>")
	return keys
}

// expected lists prefix/delimiter with general-purpose S3 semantics.
func expected(keys []string, prefix, delim string) []string {
	set := map[string]bool{}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rest, delim); delim != "" && i >= 0 {
			set[prefix+rest[:i+len(delim)]] = true
			continue
		}
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// pageAll lists to the end and returns every entry (keys and prefixes,
// decoded) in the order received. next picks the next request's marker or
// token from a page.
func pageAll(t *testing.T, base string, q url.Values, v1 bool, next func(listResult) string) (got []string, pages []int) {
	t.Helper()
	for range 2000 {
		res := getList(t, base+"?"+q.Encode())
		if v1 && (res.KeyCount != nil || res.ContinuationToken != nil || res.NextContinuationToken != nil) {
			t.Fatalf("V1 response carries V2 elements: %+v", res)
		}
		if !v1 && res.KeyCount == nil {
			t.Fatal("V2 response without KeyCount")
		}
		page := 0
		for _, c := range res.Contents {
			if v1 && c.Owner == nil {
				t.Fatalf("V1 Contents %q without Owner", c.Key)
			}
			got = append(got, decode(t, res.EncodingType, c.Key))
			page++
		}
		for _, p := range res.CommonPrefixes {
			got = append(got, decode(t, res.EncodingType, p.Prefix))
			page++
		}
		pages = append(pages, page)
		if !res.IsTruncated {
			return got, pages
		}
		m := next(res)
		if v1 {
			q.Set("marker", m)
		} else {
			q.Set("continuation-token", m)
		}
	}
	t.Fatal("listing never ended")
	return nil, nil
}

func decode(t *testing.T, enc, s string) string {
	t.Helper()
	if enc != "url" {
		return s
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func byNextMarker(r listResult) string {
	if r.NextMarker == nil {
		panic("truncated V1 page without NextMarker")
	}
	return *r.NextMarker
}

// byLastKey is how old clients page without a delimiter: the last Key of
// the page (the last CommonPrefix when there is none).
func byLastKey(r listResult) string {
	if n := len(r.Contents); n > 0 {
		return decodeQ(r.EncodingType, r.Contents[n-1].Key)
	}
	return decodeQ(r.EncodingType, r.CommonPrefixes[len(r.CommonPrefixes)-1].Prefix)
}

func decodeQ(enc, s string) string {
	if enc == "url" {
		s, _ = url.QueryUnescape(s)
	}
	return s
}

func byNextToken(r listResult) string { return *r.NextContinuationToken }

func TestListObjectsPaging(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		name                   string
		v1                     bool
		prefix, delim, maxKeys string
		encoding               string
		next                   func(listResult) string
		pageCap                int
	}{
		{"v1 short upstream pages", true, "", "", "", "", byNextMarker, 299},
		{"v1 short upstream pages last key", true, "", "", "", "", byLastKey, 299},
		{"v2 filtered short upstream pages", false, "dir/fi", "/", "50", "", byNextToken, 13},
		{"v1 all default max-keys NextMarker", true, "", "", "", "", byNextMarker, 0},
		{"v1 all default max-keys last key", true, "", "", "", "", byLastKey, 0},
		{"v1 all small pages last key", true, "", "", "97", "", byLastKey, 0},
		{"v1 root delimiter", true, "", "/", "333", "", byNextMarker, 0},
		{"v1 dir prefix", true, "dir/", "/", "10", "", byNextMarker, 0},
		{"v1 filtered prefix NextMarker", true, "dir/fi", "/", "7", "", byNextMarker, 0},
		{"v1 filtered prefix last key", true, "dir/fi", "/", "7", "", byLastKey, 0},
		{"v1 filtered no slash", true, "di", "/", "1", "", byNextMarker, 0},
		{"v1 filtered url encoding", true, "sp ace+plus/", "/", "1", "url", byLastKey, 0},
		{"v1 filtered url encoding partial", true, "sp ace+pl", "/", "1", "url", byNextMarker, 0},
		{"v2 passthrough", false, "dir/", "/", "10", "", byNextToken, 0},
		{"v2 passthrough recursive url", false, "", "", "500", "url", byNextToken, 0},
		{"v2 filtered", false, "dir/fi", "/", "7", "", byNextToken, 0},
		{"v2 filtered big page", false, "k0", "/", "", "", byNextToken, 0},
		{"v2 filtered one per page", false, "dir/file-sub0", "/", "1", "", byNextToken, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeS3(t)
			f.keys[testBucket] = keys
			f.pageCap = tt.pageCap
			srv := proxyFor(t, NewLister(ListerOptions{}), f)
			q := url.Values{}
			for k, v := range map[string]string{"prefix": tt.prefix, "delimiter": tt.delim, "max-keys": tt.maxKeys, "encoding-type": tt.encoding} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if !tt.v1 {
				q.Set("list-type", "2")
			}
			path := "/v2/"
			if tt.v1 {
				path = "/v1/"
			}
			got, pages := pageAll(t, srv.URL+path+testBucket, q, tt.v1, tt.next)
			t.Logf("pages %v upstream requests %d", pages, f.requests.Load())
			want := expected(keys, tt.prefix, tt.delim)
			seen := map[string]int{}
			for _, k := range got {
				seen[k]++
				if seen[k] == 2 {
					t.Errorf("%q returned twice", k)
				}
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d distinct entries, want %d\nmissing/extra: %v", len(got), len(want), diff(got, want))
			}
			size := 1000
			if tt.maxKeys != "" {
				fmt.Sscan(tt.maxKeys, &size)
			}
			for i, n := range pages {
				if n > size || (i < len(pages)-1 && n != size) {
					t.Errorf("page %d has %d entries, max-keys %d (pages %v)", i, n, size, pages)
				}
			}
		})
	}
}

func diff(got, want []string) []string {
	var out []string
	for _, k := range want {
		if !slices.Contains(got, k) {
			out = append(out, "-"+k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			out = append(out, "+"+k)
		}
	}
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name         string
		method, key  string
		query        string
		v1, v2, filt bool
	}{
		{"plain v1", "GET", "", "", true, false, false},
		{"v1 params", "GET", "", "prefix=a/&delimiter=/&marker=m&max-keys=3&encoding-type=url", true, false, false},
		{"v1 presigned", "GET", "", "prefix=a&X-Amz-Signature=x&X-Amz-Credential=c", true, false, false},
		{"v1 sigv2 query", "GET", "", "AWSAccessKeyId=a&Signature=s&Expires=1", true, false, false},
		{"v2", "GET", "", "list-type=2&prefix=a/", false, true, false},
		{"v2 filtered", "GET", "", "list-type=2&prefix=a/b&delimiter=/", false, true, true},
		{"v1 filtered", "GET", "", "prefix=ab&delimiter=/", true, false, true},
		{"prefix without delimiter", "GET", "", "prefix=ab", true, false, false},
		{"uploads", "GET", "", "uploads", false, false, false},
		{"session", "GET", "", "session", false, false, false},
		{"object", "GET", "k", "", false, false, false},
		{"head", "HEAD", "", "", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			if got := IsListObjectsV1(tt.method, tt.key, q); got != tt.v1 {
				t.Errorf("IsListObjectsV1 = %v", got)
			}
			if got := IsListObjectsV2(tt.method, tt.key, q); got != tt.v2 {
				t.Errorf("IsListObjectsV2 = %v", got)
			}
			if got := NeedsPrefixFilter(q); got != tt.filt {
				t.Errorf("NeedsPrefixFilter = %v", got)
			}
		})
	}
}
