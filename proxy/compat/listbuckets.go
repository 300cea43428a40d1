package compat

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"

	"github.com/s3xproxy/s3xproxy/signing"
)

// AliasBucket is a configured alias listed by ListBuckets next to the real
// directory buckets.
type AliasBucket struct {
	Name   string // what clients call it
	Target string // the real directory bucket
}

// ListBucketsInput is what ListBuckets needs from the proxy.
type ListBucketsInput struct {
	// Regions whose s3express-control endpoint is asked, in order
	// (duplicates ignored).
	Regions []string
	// Aliases are listed after the real buckets, with their target's
	// CreationDate when the target was listed (else the Unix epoch).
	Aliases []AliasBucket
	// Visible says whether the identity may see a bucket (real name or
	// alias); nil shows everything.
	Visible func(name string) bool
	// OwnerID and OwnerDisplayName fill the Owner element. Default "s3xproxy".
	OwnerID, OwnerDisplayName string
	// ClientName maps a real bucket name to the name listed (and handed to
	// Visible): the short name of a bucket in the default zone. Default:
	// the real name.
	ClientName func(real string) string
}

// epoch is the CreationDate of an alias whose target was not listed.
const epoch = "1970-01-01T00:00:00.000Z"

// ListBuckets answers ListBuckets (GET / without a bucket) with
// ListDirectoryBuckets (GET /?max-directory-buckets=1000, following
// ContinuationToken) on each region's control endpoint, streamed as a
// ListAllMyBucketsResult (Owner, Buckets/Bucket with Name and CreationDate)
// holding the visible real buckets, then the visible aliases. Memory is
// bounded by the aliases (their targets' dates are kept), not by the
// number of buckets.
//
// A non-nil error means nothing was written (caller renders it with
// s3err.Write). An upstream error answer on the first page is copied to the
// client unchanged; a failure after the 200 was sent aborts the response.
func ListBuckets(w http.ResponseWriter, r *http.Request, up Upstream, in ListBucketsInput) error {
	var regions []string // in.Regions in order, without duplicates
	for _, r := range in.Regions {
		if !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	if in.Visible == nil {
		in.Visible = func(string) bool { return true }
	}
	if in.ClientName == nil {
		in.ClientName = func(real string) string { return real }
	}
	dates := make(map[string]string, len(in.Aliases)) // alias target → CreationDate
	for _, a := range in.Aliases {
		dates[a.Target] = ""
	}
	l := &bucketLister{w: w, r: r, up: up, in: in, dates: dates}
	for _, region := range regions {
		if done, err := l.region(region); done || err != nil {
			return err
		}
	}
	bw := l.bw
	if bw == nil {
		bw = beginBuckets(w, in)
	}
	for _, a := range in.Aliases {
		if !in.Visible(a.Name) {
			continue
		}
		d := dates[a.Target]
		if d == "" {
			d = epoch
		}
		bw.bucket(a.Name, d)
	}
	if bw.end() != nil {
		abort()
	}
	return nil
}

// bucketLister is one ListBuckets answer in progress, region by region.
type bucketLister struct {
	w     http.ResponseWriter
	r     *http.Request
	up    Upstream
	in    ListBucketsInput
	dates map[string]string // alias target → CreationDate, filled as listed
	bw    *bucketsWriter    // nil until the response started
}

// region streams one region's buckets, starting the response on the first
// successful page (l.bw). It returns done when it answered the request
// with an upstream error response, or an error when nothing was written
// yet; a failure after the response was started aborts it.
func (l *bucketLister) region(region string) (done bool, err error) {
	w, r, up, in, dates, bw := l.w, l.r, l.up, l.in, l.dates, &l.bw
	token := ""
	for {
		resp, err := listDirectoryBuckets(r.Context(), up, region, token)
		if err != nil && *bw == nil {
			return false, err
		}
		if err != nil {
			abort()
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			if *bw != nil {
				abort()
			}
			copyResponse(w, resp)
			return true, nil
		}
		if *bw == nil {
			*bw = beginBuckets(w, in)
		}
		next, err := (*bw).page(resp.Body, in, dates)
		resp.Body.Close()
		if err != nil {
			abort()
		}
		if next == "" || next == token {
			return false, nil
		}
		token = next
	}
}

func listDirectoryBuckets(ctx context.Context, up Upstream, region, token string) (*http.Response, error) {
	v := url.Values{"max-directory-buckets": {"1000"}}
	if token != "" {
		v.Set("continuation-token", token)
	}
	resp, err := up.Control(ctx, ControlRequest{Region: region, Method: http.MethodGet, Path: "/", RawQuery: signing.EncodeQuery(v)})
	if err != nil {
		return nil, fmt.Errorf("compat: list directory buckets in %s: %w", region, err)
	}
	return resp, nil
}

type bucketsWriter struct {
	enc *xml.Encoder
	err error
}

func beginBuckets(w http.ResponseWriter, in ListBucketsInput) *bucketsWriter {
	id, name := in.OwnerID, in.OwnerDisplayName
	if id == "" {
		id = "s3xproxy"
	}
	if name == "" {
		name = "s3xproxy"
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	bw := &bucketsWriter{enc: xml.NewEncoder(w)}
	_, bw.err = w.Write([]byte(xml.Header))
	bw.tok(xml.StartElement{Name: xml.Name{Local: "ListAllMyBucketsResult"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: s3NS}}})
	bw.tok(xml.StartElement{Name: xml.Name{Local: "Owner"}})
	bw.elem("ID", id)
	bw.elem("DisplayName", name)
	bw.tok(xml.EndElement{Name: xml.Name{Local: "Owner"}})
	bw.tok(xml.StartElement{Name: xml.Name{Local: "Buckets"}})
	return bw
}

// dirBucket is one ListAllMyDirectoryBucketsResult Buckets/Bucket.
type dirBucket struct {
	Name         string
	CreationDate string
}

// page streams one ListAllMyDirectoryBucketsResult: each visible bucket is
// written as it is decoded; alias targets' dates are recorded. It returns
// the ContinuationToken ("" on the last page).
func (bw *bucketsWriter) page(body io.Reader, in ListBucketsInput, dates map[string]string) (string, error) {
	d := xml.NewDecoder(body)
	var next string
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return next, bw.err
		}
		if err != nil {
			return "", fmt.Errorf("compat: list directory buckets: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 3 && t.Name.Local == "Bucket":
				var b dirBucket
				if err := d.DecodeElement(&b, &t); err != nil {
					return "", fmt.Errorf("compat: list directory buckets: %w", err)
				}
				depth--
				if _, ok := dates[b.Name]; ok {
					dates[b.Name] = b.CreationDate
				}
				if name := in.ClientName(b.Name); in.Visible(name) {
					bw.bucket(name, b.CreationDate)
				}
			case depth == 2 && t.Name.Local == "ContinuationToken":
				if err := d.DecodeElement(&next, &t); err != nil {
					return "", fmt.Errorf("compat: list directory buckets: %w", err)
				}
				depth--
			}
		case xml.EndElement:
			depth--
		}
	}
}

func (bw *bucketsWriter) bucket(name, created string) {
	bw.tok(xml.StartElement{Name: xml.Name{Local: "Bucket"}})
	bw.elem("Name", name)
	bw.elem("CreationDate", created)
	bw.tok(xml.EndElement{Name: xml.Name{Local: "Bucket"}})
}

func (bw *bucketsWriter) end() error {
	bw.tok(xml.EndElement{Name: xml.Name{Local: "Buckets"}})
	bw.tok(xml.EndElement{Name: xml.Name{Local: "ListAllMyBucketsResult"}})
	if bw.err == nil {
		bw.err = bw.enc.Flush()
	}
	return bw.err
}

func (bw *bucketsWriter) tok(t xml.Token) {
	if bw.err == nil {
		bw.err = bw.enc.EncodeToken(t)
	}
}

func (bw *bucketsWriter) elem(name, value string) {
	if bw.err == nil {
		bw.err = bw.enc.EncodeElement(value, xml.StartElement{Name: xml.Name{Local: name}})
	}
}
