package compat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// ListerOptions configures a Lister. Zero values mean the documented defaults.
type ListerOptions struct {
	// MarkerCacheSize bounds the cache that maps the last key of a V1 page
	// to its resume point, for clients that page with the last key rather
	// than NextMarker. Default DefaultMarkerCacheSize entries (each holds
	// the key and an upstream token, well under 4 KiB).
	MarkerCacheSize int
	// FilterPageSize is the upstream max-keys used when a prefix listing is
	// filtered (NeedsPrefixFilter). Default 1000.
	FilterPageSize int
	// MaxPages bounds the upstream ListObjectsV2 pages one client listing
	// may fetch. A filtered listing (few matches in a large directory)
	// would otherwise scan the whole directory for one request; when the
	// cap is hit the client gets a truncated page (possibly with no
	// entries) whose marker or continuation token resumes at the next
	// upstream page. Default DefaultMaxPages.
	MaxPages int
}

// DefaultMaxPages is the default ListerOptions.MaxPages: with the default
// FilterPageSize, 10,000 upstream entries scanned per client request.
const DefaultMaxPages = 10

// Lister answers ListObjects V1 and the prefix listings directory buckets
// refuse, through ListObjectsV2 upstream. Safe for concurrent use.
type Lister struct {
	opts    ListerOptions
	markers *markerCache
}

// NewLister returns a Lister with opts' defaults applied.
func NewLister(opts ListerOptions) *Lister {
	if opts.FilterPageSize <= 0 || opts.FilterPageSize > maxPageSize {
		opts.FilterPageSize = maxPageSize
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	return &Lister{opts: opts, markers: newMarkerCache(opts.MarkerCacheSize)}
}

// v1Params are the only query parameters of a ListObjects V1 request.
var v1Params = map[string]bool{"prefix": true, "delimiter": true, "marker": true, "max-keys": true, "encoding-type": true}

// authParams are query auth parameters, ignored when classifying a request.
func authParam(k string) bool {
	switch k {
	case "AWSAccessKeyId", "Signature", "Expires", "x-id":
		return true
	}
	return strings.HasPrefix(k, "X-Amz-") || strings.HasPrefix(k, "x-amz-")
}

// IsListObjectsV1 reports whether a bucket-level request (key "") is a
// ListObjects V1: GET with no subresource, only V1 list parameters (query
// auth parameters aside) and no list-type=2.
func IsListObjectsV1(method, key string, q url.Values) bool {
	if method != http.MethodGet || key != "" {
		return false
	}
	for k := range q {
		if !v1Params[k] && !authParam(k) {
			return false
		}
	}
	return true
}

// IsListObjectsV2 reports whether a bucket-level request is ListObjectsV2.
func IsListObjectsV2(method, key string, q url.Values) bool {
	return method == http.MethodGet && key == "" && q.Get("list-type") == "2"
}

// NeedsPrefixFilter reports whether a listing's prefix/delimiter pair is one
// directory buckets refuse and the Lister must emulate: delimiter "/" with a
// non-empty prefix that does not end in "/".
func NeedsPrefixFilter(q url.Values) bool {
	p := q.Get("prefix")
	return q.Get("delimiter") == "/" && p != "" && !strings.HasSuffix(p, "/")
}

// parentPrefix cuts p back to its last "/" (the directory a directory
// bucket can list).
func parentPrefix(p string) string {
	return p[:strings.LastIndex(p, "/")+1]
}

// listParams is one translated listing.
type listParams struct {
	bucket      string
	upPrefix    string // prefix sent upstream
	delimiter   string
	filter      string // returned entries must start with this ("" = all)
	encoding    string // encoding-type as requested
	fetchOwner  bool
	startAfter  string
	header      http.Header
	pageSize    int // upstream max-keys for fresh pages
	maxPages    int // upstream pages per client request (ListerOptions.MaxPages)
	maxKeys     int
	v1          bool
	reqPrefix   string
	reqMarker   string // V1 marker or V2 continuation-token, echoed
	encodingURL bool
}

// forwardedHeaders are the request headers a listing passes upstream.
var forwardedHeaders = []string{"X-Amz-Expected-Bucket-Owner", "X-Amz-Request-Payer", "X-Amz-Optional-Object-Attributes"}

func newListParams(r *http.Request, bucket string, q url.Values, v1 bool, opts ListerOptions) (*listParams, error) {
	p := &listParams{
		bucket: bucket, delimiter: q.Get("delimiter"), encoding: q.Get("encoding-type"),
		startAfter: q.Get("start-after"), v1: v1, reqPrefix: q.Get("prefix"), header: http.Header{},
		maxPages: opts.MaxPages,
	}
	p.encodingURL = p.encoding == "url"
	p.maxKeys = maxPageSize
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, s3err.New(http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range")
		}
		p.maxKeys = min(n, maxPageSize)
	}
	if v1 {
		p.fetchOwner = true // V1 always returns Owner
		p.reqMarker = q.Get("marker")
	} else {
		p.fetchOwner = q.Get("fetch-owner") == "true"
		p.reqMarker = q.Get("continuation-token")
	}
	p.upPrefix, p.pageSize = p.reqPrefix, max(p.maxKeys, 1)
	if NeedsPrefixFilter(q) {
		p.upPrefix, p.filter, p.pageSize = parentPrefix(p.reqPrefix), p.reqPrefix, opts.FilterPageSize
	}
	for _, k := range forwardedHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			p.header[k] = v
		}
	}
	return p, nil
}

// query builds the upstream ListObjectsV2 query for cursor c.
func (p *listParams) query(c cursor) (string, int) {
	size := p.pageSize
	if c.Skip > 0 && c.PageSize > 0 {
		size = c.PageSize // a partly consumed page must be fetched exactly as before
	}
	v := url.Values{"list-type": {"2"}, "max-keys": {strconv.Itoa(size)}}
	if p.upPrefix != "" {
		v.Set("prefix", p.upPrefix)
	}
	if p.delimiter != "" {
		v.Set("delimiter", p.delimiter)
	}
	if p.encoding != "" {
		v.Set("encoding-type", p.encoding)
	}
	if p.fetchOwner {
		v.Set("fetch-owner", "true")
	}
	if p.startAfter != "" {
		v.Set("start-after", p.startAfter)
	}
	if c.Token != "" {
		v.Set("continuation-token", c.Token)
	}
	return signing.EncodeQuery(v), size
}

// fetch requests the page at c and returns the response and the cursor
// actually used (with its page size).
func (p *listParams) fetch(ctx context.Context, up Upstream, c cursor) (*http.Response, cursor, error) {
	q, size := p.query(c)
	c.PageSize = size
	resp, err := up.Bucket(ctx, BucketRequest{Bucket: p.bucket, Method: http.MethodGet, RawQuery: q, Header: p.header.Clone()})
	if err != nil {
		return nil, c, fmt.Errorf("compat: list %s: %w", p.bucket, err)
	}
	return resp, c, nil
}

// listOutcome is what a listing returned.
type listOutcome struct {
	count     int
	truncated bool
	next      cursor
	// Keys (decoded and as sent) of the last entry and the last Contents
	// entry returned, for the V1 last-key marker cache.
	last, lastRaw, lastObj, lastObjRaw string
}

// errUpstreamStatus is an upstream error status met after the response was
// committed.
var errUpstreamStatus = errors.New("compat: upstream listing failed mid-response")

// run streams entries from the page already fetched at cur (resp, status
// 200) and the following ones until p.maxKeys entries matching p.filter were
// emitted, upstream is exhausted, or p.maxPages pages were read (then the
// outcome is truncated at the next upstream page). It closes every response
// it reads.
func (p *listParams) run(ctx context.Context, up Upstream, resp *http.Response, cur cursor, emit func(*listEntry) error) (listOutcome, error) {
	var out listOutcome
	for pages := 1; ; pages++ {
		sc := newPageScanner(resp.Body, p.encodingURL)
		lastIdx, more, err := p.scanPage(sc, cur.Skip, &out, emit)
		resp.Body.Close()
		if err != nil {
			return out, err
		}
		if more {
			out.truncated, out.next = true, cursor{Token: cur.Token, Skip: lastIdx + 1, PageSize: cur.PageSize}
			return out, nil
		}
		if !sc.truncated || sc.next == "" {
			return out, nil
		}
		if sc.next == cur.Token {
			return out, fmt.Errorf("compat: list %s: upstream repeated continuation token", p.bucket)
		}
		next := cursor{Token: sc.next}
		if out.count >= p.maxKeys || pages >= p.maxPages {
			next.PageSize = p.pageSize
			out.truncated, out.next = true, next
			return out, nil
		}
		if resp, cur, err = p.fetch(ctx, up, next); err != nil {
			return out, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return out, fmt.Errorf("%w: status %d", errUpstreamStatus, resp.StatusCode)
		}
	}
}

// scanPage emits the matching entries of one page after the first skip,
// up to p.maxKeys in all. It returns the index of the last entry emitted
// and whether a further matching entry remains in the page.
func (p *listParams) scanPage(sc *pageScanner, skip int, out *listOutcome, emit func(*listEntry) error) (int, bool, error) {
	lastIdx, more := -1, false
	for i := 0; ; i++ {
		e, err := sc.entry()
		if err != nil {
			return 0, false, err
		}
		if e == nil {
			return lastIdx, more, nil
		}
		if i < skip || more || !strings.HasPrefix(e.key, p.filter) {
			continue
		}
		if out.count >= p.maxKeys {
			more = true
			continue
		}
		if err := emit(e); err != nil {
			return 0, false, err
		}
		out.count++
		lastIdx = i
		out.last, out.lastRaw = e.key, e.raw
		if !e.isPrefix {
			out.lastObj, out.lastObjRaw = e.key, e.raw
		}
	}
}
