package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// listResult is a V1 or V2 ListBucketResult.
type listResult struct {
	Name, Prefix, Marker, NextMarker, Delimiter string
	MaxKeys                                     int
	IsTruncated                                 bool
	Contents                                    []struct{ Key string }
	CommonPrefixes                              []struct{ Prefix string }
	KeyCount                                    int
	ContinuationToken, NextContinuationToken    string
}

// entries returns the page's keys and common prefixes (prefixes end in "/").
func (l *listResult) entries() []string {
	var out []string
	for _, c := range l.Contents {
		out = append(out, c.Key)
	}
	for _, p := range l.CommonPrefixes {
		out = append(out, p.Prefix)
	}
	return out
}

// list sends one signed listing request with query q and parses it.
func listPage(t *testing.T, rw *rawClient, bucket string, q url.Values) (*listResult, []byte) {
	t.Helper()
	b, _ := rw.must(t, 200, "GET", bucket, "", q.Encode(), nil, nil)
	var res listResult
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatalf("listing %s: %v: %s", q.Encode(), err, b)
	}
	return &res, b
}

// pageV1 lists everything with ListObjects V1, resuming either on
// NextMarker or, as old clients do, on the last entry of the page. It
// fails on a duplicate entry and returns the entries in the order seen.
func pageV1(t *testing.T, rw *rawClient, bucket string, base url.Values, useNextMarker bool) ([]string, int) {
	t.Helper()
	seen := map[string]bool{}
	var all []string
	marker, pages := "", 0
	for {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		if marker != "" {
			q.Set("marker", marker)
		}
		res, raw := listPage(t, rw, bucket, q)
		pages++
		echoed := res.Marker
		if base.Get("encoding-type") == "url" { // S3 encodes the echoed Marker too
			var err error
			if echoed, err = url.QueryUnescape(echoed); err != nil {
				t.Fatalf("page %d: Marker %q is not url-encoded: %v", pages, res.Marker, err)
			}
		}
		if echoed != marker {
			t.Fatalf("page %d: Marker %q, want the request's %q", pages, res.Marker, marker)
		}
		if bytes.Contains(raw, []byte("<KeyCount>")) || bytes.Contains(raw, []byte("ContinuationToken>")) {
			t.Fatalf("page %d: a V1 answer carries V2 elements: %s", pages, raw)
		}
		all = addPage(t, pages, res.entries(), seen, all)
		if !res.IsTruncated {
			return all, pages
		}
		if pages > 10000 {
			t.Fatal("listing does not end")
		}
		switch {
		case useNextMarker:
			if res.NextMarker == "" {
				t.Fatalf("page %d: truncated without NextMarker", pages)
			}
			marker = res.NextMarker
		case len(res.Contents) > 0:
			marker = res.Contents[len(res.Contents)-1].Key
		case len(res.CommonPrefixes) > 0:
			marker = res.CommonPrefixes[len(res.CommonPrefixes)-1].Prefix
		default:
			t.Fatalf("page %d: truncated and empty", pages)
		}
	}
}

// unescapeAll decodes keys listed with encoding-type=url, in place.
func unescapeAll(t *testing.T, keys []string) {
	t.Helper()
	for i, k := range keys {
		d, err := url.QueryUnescape(k)
		if err != nil {
			t.Fatalf("key %q is not url-encoded: %v", k, err)
		}
		keys[i] = d
	}
}

// addPage appends a page's entries to all, failing on one already seen.
func addPage(t *testing.T, page int, entries []string, seen map[string]bool, all []string) []string {
	t.Helper()
	for _, k := range entries {
		if seen[k] {
			t.Fatalf("page %d: %q listed twice", page, k)
		}
		seen[k] = true
		all = append(all, k)
	}
	return all
}

// pageV2 lists everything with ListObjectsV2 and continuation tokens.
func pageV2(t *testing.T, rw *rawClient, bucket string, base url.Values) ([]string, int) {
	t.Helper()
	seen := map[string]bool{}
	var all []string
	token, pages := "", 0
	for {
		q := url.Values{"list-type": {"2"}}
		for k, v := range base {
			q[k] = v
		}
		if token != "" {
			q.Set("continuation-token", token)
		}
		res, _ := listPage(t, rw, bucket, q)
		pages++
		if got := len(res.entries()); res.KeyCount != got {
			t.Errorf("page %d: KeyCount %d, %d entries", pages, res.KeyCount, got)
		}
		all = addPage(t, pages, res.entries(), seen, all)
		if !res.IsTruncated {
			return all, pages
		}
		if res.NextContinuationToken == "" || pages > 10000 {
			t.Fatalf("page %d: truncated without a usable NextContinuationToken", pages)
		}
		token = res.NextContinuationToken
	}
}

// putMany stores keys through the proxy with bounded concurrency.
func putMany(t *testing.T, rw *rawClient, bucket string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	sem := make(chan struct{}, 8)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, body, _ := rw.do(t, "PUT", bucket, k, "", []byte(k), nil)
			if status != 200 {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%s: %d %s", k, status, body))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d PUTs failed, first: %s", len(failed), failed[0])
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// TestListObjectsV1Paging: 1,150 keys listed with ListObjects V1 (answered
// by the proxy from ListObjectsV2 upstream) with NextMarker and with the
// last key as marker, and by minio-go in V1 mode: every key exactly once.
func TestListObjectsV1Paging(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	var keys []string
	for i := range 1147 {
		keys = append(keys, fmt.Sprintf("many/key-%04d", i))
	}
	keys = append(keys, "many/with space", "many/plus+sign", "many/unicode-é")
	// Keys that url-encoding changes, listed a page each below.
	encKeys := []string{"enc/plus+sign", "enc/unicode-é", "enc/with space"}
	putMany(t, rw, aliasData, append(slices.Clone(keys), encKeys...))
	want := sorted(keys)

	tests := []struct {
		name          string
		q             url.Values
		useNextMarker bool
		minPages      int
	}{
		{"default page size, NextMarker", url.Values{"prefix": {"many/"}}, true, 2},
		{"default page size, last key", url.Values{"prefix": {"many/"}}, false, 2},
		{"max-keys 300, NextMarker", url.Values{"prefix": {"many/"}, "max-keys": {"300"}}, true, 4},
		{"max-keys 300, last key", url.Values{"prefix": {"many/"}, "max-keys": {"300"}}, false, 4},
		{"max-keys 2000 capped", url.Values{"prefix": {"many/"}, "max-keys": {"2000"}}, true, 2},
		{"delimiter, max-keys 500, last key", url.Values{"prefix": {"many/"}, "delimiter": {"/"}, "max-keys": {"500"}}, false, 3},
		{"encoding-type url, last key", url.Values{"prefix": {"many/"}, "encoding-type": {"url"}, "max-keys": {"400"}}, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages := pageV1(t, rw, aliasData, tt.q, tt.useNextMarker)
			if tt.q.Get("encoding-type") == "url" {
				unescapeAll(t, got)
			}
			if pages < tt.minPages {
				t.Errorf("%d pages, want at least %d", pages, tt.minPages)
			}
			if got := sorted(got); !slices.Equal(got, want) {
				t.Fatalf("listed %d keys, want %d (missing or extra: %q)", len(got), len(want), symDiff(got, want))
			}
		})
	}

	t.Run("encoding-type url, a page per key, last key", func(t *testing.T) {
		// Every marker is an encoded key, echoed encoded again.
		got, pages := pageV1(t, rw, aliasData, url.Values{"prefix": {"enc/"}, "encoding-type": {"url"}, "max-keys": {"1"}}, false)
		unescapeAll(t, got)
		if got := sorted(got); pages < len(encKeys) || !slices.Equal(got, encKeys) {
			t.Fatalf("%d pages listed %q, want %q a page each", pages, got, encKeys)
		}
	})

	for _, useNext := range []bool{true, false} {
		t.Run(fmt.Sprintf("max-keys varies between pages, NextMarker=%v", useNext), func(t *testing.T) {
			sizes := []int{300, 1000, 7, 450, 1}
			seen := map[string]bool{}
			marker := ""
			for page := 0; ; page++ {
				q := url.Values{"prefix": {"many/"}, "max-keys": {strconv.Itoa(sizes[page%len(sizes)])}}
				if marker != "" {
					q.Set("marker", marker)
				}
				res, _ := listPage(t, rw, aliasData, q)
				for _, k := range res.entries() {
					if seen[k] {
						t.Fatalf("page %d: %q listed twice", page, k)
					}
					seen[k] = true
				}
				if !res.IsTruncated {
					break
				}
				if page > 2000 {
					t.Fatal("listing does not end")
				}
				marker = res.NextMarker
				if !useNext {
					marker = res.Contents[len(res.Contents)-1].Key
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("listed %d distinct keys, want %d", len(seen), len(want))
			}
		})
	}

	t.Run("minio-go UseV1", func(t *testing.T) {
		mc := newMinioClient(t, e.srv.URL, rwKey, rwSecret)
		for _, maxKeys := range []int{0, 250} {
			var got []string
			for o := range mc.c.ListObjects(context.Background(), aliasData,
				minio.ListObjectsOptions{Prefix: "many/", Recursive: true, UseV1: true, MaxKeys: maxKeys}) {
				if o.Err != nil {
					t.Fatalf("max-keys %d: %v", maxKeys, o.Err)
				}
				got = append(got, o.Key)
			}
			if got := sorted(got); !slices.Equal(got, want) {
				t.Fatalf("max-keys %d: listed %d keys, want %d (diff %q)", maxKeys, len(got), len(want), symDiff(got, want))
			}
		}
	})

	t.Run("aws-sdk-go-v2 ListObjects paginated by hand", func(t *testing.T) {
		sdk := newSDKClient(e.srv.URL, rwKey, rwSecret)
		var got []string
		var marker *string
		for range 100 {
			out, err := sdk.c.ListObjects(context.Background(), &s3.ListObjectsInput{
				Bucket: aws.String(aliasData), Prefix: aws.String("many/"), Marker: marker, MaxKeys: aws.Int32(400)})
			if err != nil {
				t.Fatalf("ListObjects: %v", err)
			}
			for _, o := range out.Contents {
				got = append(got, aws.ToString(o.Key))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			marker = out.NextMarker
		}
		if got := sorted(got); !slices.Equal(got, want) {
			t.Fatalf("listed %d keys, want %d", len(got), len(want))
		}
	})

	t.Run("max-keys 0", func(t *testing.T) {
		e.emu.ResetStats()
		res, _ := listPage(t, rw, aliasData, url.Values{"prefix": {"many/"}, "max-keys": {"0"}})
		if res.IsTruncated || len(res.entries()) != 0 {
			t.Fatalf("max-keys=0: truncated %v with %d entries", res.IsTruncated, len(res.entries()))
		}
		if st := e.emu.Stats(); total(st.Requests) != 0 {
			t.Fatalf("max-keys=0 called upstream: %v", st.Requests)
		}
	})

	t.Run("unknown marker", func(t *testing.T) {
		// Not a key at all, so never the last key of a page returned above
		// (any real key may have been one: directory buckets list unordered).
		status, body, _ := rw.do(t, "GET", aliasData, "", "prefix=many/&marker="+url.QueryEscape("many/key-0500-not-returned"), nil, nil)
		if status != 400 || s3Code(body) != "InvalidArgument" {
			t.Fatalf("a marker the proxy did not return: %d %.300s, want 400 InvalidArgument", status, body)
		}
	})
}

// symDiff returns the elements of a and b (both sorted) that are not in both.
func symDiff(a, b []string) []string {
	in := func(s []string, v string) bool { _, ok := slices.BinarySearch(s, v); return ok }
	var out []string
	for _, v := range a {
		if !in(b, v) {
			out = append(out, "+"+v)
		}
	}
	for _, v := range b {
		if !in(a, v) {
			out = append(out, "-"+v)
		}
	}
	if len(out) > 10 {
		out = append(out[:10], "...")
	}
	return out
}

// TestListPrefixNotEndingInSlash: a "/" delimiter with a prefix that does
// not end in "/" (what every legacy `ls prefix` sends, and directory
// buckets refuse) returns exactly S3's answer, for V1 and V2, in one page
// and paged with small max-keys.
func TestListPrefixNotEndingInSlash(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	tree := []string{
		"tree/a", "tree/fi.txt", "tree/fig", "tree/file1", "tree/file2", "tree/fi/x",
		"tree/fizz/y", "tree/fizz/z", "tree/fob", "tree/other/q", "tree/f", "treetop",
	}
	for i := range 30 {
		tree = append(tree, fmt.Sprintf("tree/filler-%02d", i), fmt.Sprintf("tree/fin/%02d", i))
	}
	putMany(t, rw, aliasData, tree)
	fiWant := []string{"tree/fi.txt", "tree/fi/", "tree/fig", "tree/file1", "tree/file2", "tree/fin/", "tree/fizz/"}
	for i := range 30 {
		fiWant = append(fiWant, fmt.Sprintf("tree/filler-%02d", i))
	}
	fiWant = sorted(fiWant)

	tests := []struct {
		name, prefix string
		want         []string
	}{
		{"tree/fi", "tree/fi", fiWant},
		{"tree/fiz", "tree/fiz", []string{"tree/fizz/"}},
		{"tree/fi/ (ends in /)", "tree/fi/", []string{"tree/fi/x"}},
		{"tree/o", "tree/o", []string{"tree/other/"}},
		{"tree/zzz no match", "tree/zzz", nil},
		{"tree (root level)", "tree", []string{"tree/", "treetop"}},
		{"t", "t", []string{"tree/", "treetop"}},
	}
	for _, tt := range tests {
		for _, maxKeys := range []string{"", "2", "7"} {
			base := url.Values{"prefix": {tt.prefix}, "delimiter": {"/"}}
			if maxKeys != "" {
				base.Set("max-keys", maxKeys)
			}
			t.Run(fmt.Sprintf("%s/max-keys=%s/V1 NextMarker", tt.name, maxKeys), func(t *testing.T) {
				got, _ := pageV1(t, rw, aliasData, base, true)
				if got := sorted(got); !slices.Equal(got, tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			})
			t.Run(fmt.Sprintf("%s/max-keys=%s/V1 last key", tt.name, maxKeys), func(t *testing.T) {
				got, _ := pageV1(t, rw, aliasData, base, false)
				if got := sorted(got); !slices.Equal(got, tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			})
			t.Run(fmt.Sprintf("%s/max-keys=%s/V2", tt.name, maxKeys), func(t *testing.T) {
				got, pages := pageV2(t, rw, aliasData, base)
				if got := sorted(got); !slices.Equal(got, tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				if n, _ := strconv.Atoi(maxKeys); n > 0 && len(tt.want) > n && pages < (len(tt.want)+n-1)/n {
					t.Errorf("%d pages for %d entries at max-keys %d", pages, len(tt.want), n)
				}
			})
		}
	}

	t.Run("encoding-type url with special characters", func(t *testing.T) {
		special := []string{"sp/a b c", "sp/a b/d", "sp/a+b", "sp/a%b", "sp/aé", "sp/a&b=c", "sp/b"}
		putMany(t, rw, aliasData, special)
		want := sorted([]string{"sp/a b c", "sp/a b/", "sp/a+b", "sp/a%b", "sp/aé", "sp/a&b=c"})
		for _, mode := range []string{"NextMarker", "last key as sent", "last key decoded"} {
			for _, v2 := range []bool{false, true} {
				if v2 && mode != "NextMarker" {
					continue
				}
				t.Run(fmt.Sprintf("%s/v2=%v", mode, v2), func(t *testing.T) {
					var got []string
					marker := ""
					for page := 0; page < 50; page++ {
						q := url.Values{"prefix": {"sp/a"}, "delimiter": {"/"}, "max-keys": {"1"}, "encoding-type": {"url"}}
						if v2 {
							q.Set("list-type", "2")
							if marker != "" {
								q.Set("continuation-token", marker)
							}
						} else if marker != "" {
							q.Set("marker", marker)
						}
						res, _ := listPage(t, rw, aliasData, q)
						last := ""
						for _, k := range res.entries() {
							d, err := url.QueryUnescape(k)
							if err != nil {
								t.Fatalf("%q: %v", k, err)
							}
							got = append(got, d)
							last = k
						}
						if !res.IsTruncated {
							break
						}
						switch {
						case v2:
							marker = res.NextContinuationToken
						case mode == "NextMarker":
							marker = res.NextMarker
						case mode == "last key as sent":
							marker = last
						default:
							marker, _ = url.QueryUnescape(last)
						}
					}
					if got := sorted(got); !slices.Equal(got, want) {
						t.Fatalf("got %q, want %q", got, want)
					}
				})
			}
		}
	})

	t.Run("minio-go non-recursive ls", func(t *testing.T) {
		mc := newMinioClient(t, e.srv.URL, rwKey, rwSecret)
		for _, v1 := range []bool{false, true} {
			var got []string
			for o := range mc.c.ListObjects(context.Background(), aliasData, minio.ListObjectsOptions{Prefix: "tree/fi", UseV1: v1, MaxKeys: 5}) {
				if o.Err != nil {
					t.Fatalf("UseV1=%v: %v", v1, o.Err)
				}
				got = append(got, o.Key)
			}
			if got := sorted(got); !slices.Equal(got, fiWant) {
				t.Fatalf("UseV1=%v: got %q, want %q", v1, got, fiWant)
			}
		}
	})

	t.Run("V2 token the proxy did not issue", func(t *testing.T) {
		status, body, _ := rw.do(t, "GET", aliasData, "", "list-type=2&delimiter=/&prefix=tree/fi&continuation-token=bogus", nil, nil)
		if status != 400 || s3Code(body) != "InvalidArgument" {
			t.Fatalf("got %d %s, want 400 InvalidArgument", status, body)
		}
	})
}

// TestListBuckets: GET / answers the emulator's directory buckets
// (ListDirectoryBuckets on the control endpoint, IAM-signed) merged with the
// aliases, filtered by what the identity may see; clients parse it.
func TestListBuckets(t *testing.T) {
	e := newEnv(t, envConfig{emu: emulator.Options{Buckets: []string{bucketData, bucketOther, "general-purpose-bucket"}}})
	all := []string{aliasData, bucketData, bucketOther}
	tests := []struct {
		name, key, secret string
		want              []string
	}{
		{"read-write key", rwKey, rwSecret, all},
		{"read-only key", roKey, roSecret, all},
		{"narrow key sees its alias only", narrowKey, narrowSecret, []string{aliasData}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetStats()
			status, body, _ := do(t, signedRequest(t, "GET", e.url("/"), tt.key, tt.secret, nil, time.Now(), nil))
			if status != 200 {
				t.Fatalf("ListBuckets: %d %s", status, body)
			}
			var res struct {
				XMLName xml.Name
				Owner   struct{ ID string }
				Buckets []struct{ Name, CreationDate string } `xml:"Buckets>Bucket"`
			}
			if err := xml.Unmarshal(body, &res); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if res.XMLName.Local != "ListAllMyBucketsResult" || res.Owner.ID == "" {
				t.Errorf("root %q owner %q", res.XMLName.Local, res.Owner.ID)
			}
			var names []string
			dates := map[string]string{}
			for _, b := range res.Buckets {
				names = append(names, b.Name)
				dates[b.Name] = b.CreationDate
				if _, err := time.Parse(time.RFC3339, b.CreationDate); err != nil {
					t.Errorf("%s: CreationDate %q: %v", b.Name, b.CreationDate, err)
				}
			}
			if got := sorted(names); !slices.Equal(got, tt.want) {
				t.Fatalf("buckets %q, want %q", got, tt.want)
			}
			if d, ok := dates[bucketData]; ok && dates[aliasData] != d {
				t.Errorf("alias CreationDate %q, target's %q", dates[aliasData], d)
			}
			st := e.emu.Stats()
			if st.IAMRequests["ListDirectoryBuckets"] == 0 || total(st.SessionRequests) != 0 || total(st.Rejections) != 0 {
				t.Fatalf("emulator: IAM %v, session %v, rejections %v; want IAM-signed ListDirectoryBuckets",
					st.IAMRequests, st.SessionRequests, st.Rejections)
			}
		})
	}
	t.Run("clients", func(t *testing.T) {
		out, err := newSDKClient(e.srv.URL, rwKey, rwSecret).c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
		if err != nil {
			t.Fatalf("sdk ListBuckets: %v", err)
		}
		var names []string
		for _, b := range out.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
		if got := sorted(names); !slices.Equal(got, all) {
			t.Fatalf("sdk ListBuckets: %q", got)
		}
		bs, err := newMinioClient(t, e.srv.URL, narrowKey, narrowSecret).c.ListBuckets(context.Background())
		if err != nil {
			t.Fatalf("minio ListBuckets: %v", err)
		}
		if len(bs) != 1 || bs[0].Name != aliasData {
			t.Fatalf("minio ListBuckets (narrow key): %+v", bs)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		e.emu.ResetStats()
		status, body, _ := do(t, anonymous(t, "GET", e.url("/")))
		if status != 403 || s3Code(body) != "AccessDenied" {
			t.Fatalf("anonymous ListBuckets: %d %s", status, body)
		}
		if st := e.emu.Stats(); total(st.Requests) != 0 {
			t.Fatalf("anonymous ListBuckets reached the emulator: %v", st.Requests)
		}
	})
}

// TestListBucketsPagingAndDeny: more than 1000 directory buckets are all
// listed (the proxy follows ListDirectoryBuckets' ContinuationToken), and
// with buckets.default deny only the aliases and their targets are shown.
func TestListBucketsPagingAndDeny(t *testing.T) {
	for _, deny := range []bool{false, true} {
		t.Run(fmt.Sprintf("deny=%v", deny), func(t *testing.T) {
			e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.DenyUnlisted = deny }})
			want := []string{aliasData, bucketData}
			if !deny {
				want = append(want, bucketOther)
				for i := range 1005 {
					name := fmt.Sprintf("many%04d--usw2-az1--x-s3", i)
					e.emu.CreateBucket(name)
					want = append(want, name)
				}
			}
			want = sorted(want)
			status, body, _ := do(t, signedRequest(t, "GET", e.url("/"), rwKey, rwSecret, nil, time.Now(), nil))
			if status != 200 {
				t.Fatalf("ListBuckets: %d %s", status, body)
			}
			var res struct {
				Buckets []struct{ Name string } `xml:"Buckets>Bucket"`
			}
			if err := xml.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, b := range res.Buckets {
				names = append(names, b.Name)
			}
			if got := sorted(names); !slices.Equal(got, want) {
				t.Fatalf("%d buckets listed, want %d (diff %q)", len(got), len(want), symDiff(got, want))
			}
			if st := e.emu.Stats(); !deny && st.IAMRequests["ListDirectoryBuckets"] < 2 {
				t.Errorf("ListDirectoryBuckets calls %d, want >= 2 pages", st.IAMRequests["ListDirectoryBuckets"])
			}
		})
	}
}
