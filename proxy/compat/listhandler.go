package compat

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// ListObjectsV1 answers GET /<bucket>?[prefix][&delimiter][&marker]
// [&max-keys][&encoding-type] (see IsListObjectsV1) with ListObjectsV2 calls
// upstream, in the V1 ListBucketResult shape: Name, Prefix, Marker, MaxKeys,
// Delimiter, EncodingType, Contents (with Owner), CommonPrefixes, then
// IsTruncated and, whenever truncated, NextMarker. Every NextMarker is an
// opaque resume point (MarkerPrefix form); the last key of a truncated
// page is also accepted as the next marker (bounded cache). Any other
// marker is 400 InvalidArgument: directory buckets list unordered, so a
// key-order start position cannot be honoured. A prefix not ending in "/"
// with delimiter "/" is emulated (NeedsPrefixFilter). A query that is not
// a V1 listing (a bucket subresource such as ?policy, see IsListObjectsV1)
// is 501 NotImplemented, so the proxy may route every bucket GET it
// classifies as ListObjects here.
//
// bucket is echoed in Name and handed to Upstream.Bucket: pass the name
// the client used (an alias stays an alias). A non-nil error means nothing
// was written; the caller renders it with s3err.Write. An upstream error on
// the first page is copied to the client unchanged (nil returned). A failure after the 200 was sent aborts the
// response (panic http.ErrAbortHandler, as httputil.ReverseProxy does).
func (l *Lister) ListObjectsV1(w http.ResponseWriter, r *http.Request, up Upstream, bucket string, q url.Values) error {
	if !IsListObjectsV1(http.MethodGet, "", q) {
		return s3err.New(http.StatusNotImplemented, "NotImplemented",
			"This bucket subresource is not supported by directory buckets.")
	}
	p, err := newListParams(r, bucket, q, true, l.opts)
	if err != nil {
		return err
	}
	start, err := l.resolveMarker(p)
	if err != nil {
		return err
	}
	out, err := p.serve(w, r, up, start)
	if err != nil || !out.truncated {
		return err
	}
	for _, k := range []string{out.last, out.lastRaw, out.lastObj, out.lastObjRaw} {
		if k != "" {
			l.markers.put(markerKey(bucket, p.reqPrefix, p.delimiter, k), out.next)
		}
	}
	return nil
}

// ListObjectsV2 answers a ListObjectsV2 request. When NeedsPrefixFilter(q)
// it emulates the listing (see ListObjectsV1 and docs/compat.md): the
// continuation tokens it returns and accepts are opaque (MarkerPrefix
// form), and a token it did not issue is 400 InvalidArgument. Any other V2
// listing is sent upstream as is (q minus query-auth parameters, the
// listing headers of r) and its response streamed back unchanged, so the
// proxy may route every ListObjectsV2 here. Error and abort behaviour as
// ListObjectsV1.
func (l *Lister) ListObjectsV2(w http.ResponseWriter, r *http.Request, up Upstream, bucket string, q url.Values) error {
	if !NeedsPrefixFilter(q) {
		return forward(w, r, up, bucket, q)
	}
	p, err := newListParams(r, bucket, q, false, l.opts)
	if err != nil {
		return err
	}
	var start cursor
	if p.reqMarker != "" {
		if start, err = decodeCursor(p.reqMarker); err != nil {
			return s3err.Wrap(err, http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
	}
	_, err = p.serve(w, r, up, start)
	return err
}

// forward sends a bucket-level GET upstream unchanged and streams the
// response back.
func forward(w http.ResponseWriter, r *http.Request, up Upstream, bucket string, q url.Values) error {
	v := url.Values{}
	for k, vv := range q {
		if !authParam(k) {
			v[k] = vv
		}
	}
	h := http.Header{}
	for _, k := range forwardedHeaders {
		if vv := r.Header.Values(k); len(vv) > 0 {
			h[k] = vv
		}
	}
	resp, err := up.Bucket(r.Context(), BucketRequest{Bucket: bucket, Method: http.MethodGet, RawQuery: signing.EncodeQuery(v), Header: h})
	if err != nil {
		return fmt.Errorf("compat: list %s: %w", bucket, err)
	}
	defer resp.Body.Close()
	copyResponse(w, resp)
	return nil
}

// resolveMarker turns a V1 marker into a cursor.
func (l *Lister) resolveMarker(p *listParams) (cursor, error) {
	m := p.reqMarker
	if m == "" {
		return cursor{}, nil
	}
	if isMarker(m) {
		c, err := decodeCursor(m)
		if err != nil {
			return cursor{}, s3err.Wrap(err, http.StatusBadRequest, "InvalidArgument", "Invalid marker.")
		}
		return c, nil
	}
	if c, ok := l.markers.get(markerKey(p.bucket, p.reqPrefix, p.delimiter, m)); ok {
		return c, nil
	}
	return cursor{}, s3err.New(http.StatusBadRequest, "InvalidArgument",
		"Invalid marker: directory buckets list keys unordered, so a marker must be a NextMarker "+
			"or the last key of a page returned by this proxy (see docs/compat.md).")
}

// serve fetches the first page, then writes the whole response.
func (p *listParams) serve(w http.ResponseWriter, r *http.Request, up Upstream, start cursor) (listOutcome, error) {
	if p.maxKeys == 0 {
		if err := p.begin(w).end(p, listOutcome{}); err != nil {
			abort()
		}
		return listOutcome{}, nil
	}
	resp, cur, err := p.fetch(r.Context(), up, start)
	if err != nil {
		return listOutcome{}, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		copyResponse(w, resp)
		return listOutcome{}, nil
	}
	lw := p.begin(w)
	out, err := p.run(r.Context(), up, resp, cur, lw.entry)
	if err == nil {
		err = lw.end(p, out)
	}
	if err != nil {
		abort()
	}
	return out, nil
}

// listWriter writes a ListBucketResult token by token.
type listWriter struct {
	enc *xml.Encoder
	err error
}

// begin sends the status and the elements known before any entry.
func (p *listParams) begin(w http.ResponseWriter) *listWriter {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	lw := &listWriter{enc: xml.NewEncoder(w)}
	_, lw.err = w.Write([]byte(xml.Header))
	lw.tok(xml.StartElement{Name: xml.Name{Local: "ListBucketResult"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: s3NS}}})
	lw.elem("Name", p.bucket)
	lw.elem("Prefix", p.enc(p.reqPrefix))
	if p.v1 {
		lw.elem("Marker", p.enc(p.reqMarker))
	} else {
		if p.reqMarker != "" {
			lw.elem("ContinuationToken", p.reqMarker)
		}
		if p.startAfter != "" {
			lw.elem("StartAfter", p.enc(p.startAfter))
		}
	}
	lw.elem("MaxKeys", strconv.Itoa(p.maxKeys))
	if p.delimiter != "" {
		lw.elem("Delimiter", p.enc(p.delimiter))
	}
	if p.encoding != "" {
		lw.elem("EncodingType", p.encoding)
	}
	return lw
}

// end writes the elements known only after the entries, and closes.
func (lw *listWriter) end(p *listParams, out listOutcome) error {
	if !p.v1 {
		lw.elem("KeyCount", strconv.Itoa(out.count))
	}
	lw.elem("IsTruncated", strconv.FormatBool(out.truncated))
	if out.truncated {
		name := "NextContinuationToken"
		if p.v1 {
			name = "NextMarker"
		}
		lw.elem(name, out.next.encode())
	}
	lw.tok(xml.EndElement{Name: xml.Name{Local: "ListBucketResult"}})
	if lw.err == nil {
		lw.err = lw.enc.Flush()
	}
	return lw.err
}

func (lw *listWriter) entry(e *listEntry) error {
	for _, t := range e.toks {
		lw.tok(t)
	}
	return lw.err
}

func (lw *listWriter) tok(t xml.Token) {
	if lw.err == nil {
		lw.err = lw.enc.EncodeToken(t)
	}
}

func (lw *listWriter) elem(name, value string) {
	if lw.err == nil {
		lw.err = lw.enc.EncodeElement(value, xml.StartElement{Name: xml.Name{Local: name}})
	}
}

// enc applies encoding-type=url to an echoed value, as S3 does for Prefix,
// Delimiter, Marker and StartAfter.
func (p *listParams) enc(s string) string {
	if !p.encodingURL {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}
