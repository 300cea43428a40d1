package proxy

import (
	"net/http"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// S3's documented request limits, enforced before anything else so an
// oversize request never costs a signature check or an upstream call.
const (
	// MaxHeaderSection is S3's limit on a request's header section (8 KB).
	MaxHeaderSection = 8 << 10
	// MaxUserMetadata is S3's limit on x-amz-meta-* names and values (2 KB).
	MaxUserMetadata = 2 << 10
)

var (
	errHeaderTooLarge = s3err.New(http.StatusBadRequest, "RequestHeaderSectionTooLarge",
		"Your request header section exceeds the maximum allowed size.")
	errMetadataTooLarge = s3err.New(http.StatusBadRequest, "MetadataTooLarge",
		"Your metadata headers exceed the maximum allowed metadata size.")
)

// checkHeaders applies the header limits (checkHeaderLimits) and refuses a
// repeated security-relevant header (checkSingleHeaders).
func checkHeaders(r *http.Request) error {
	if err := checkHeaderLimits(r.Header); err != nil {
		return err
	}
	return checkSingleHeaders(r)
}

// checkHeaderLimits refuses a header section over MaxHeaderSection bytes
// (counted as "Name: value\r\n" lines) or user metadata over
// MaxUserMetadata bytes (names without the x-amz-meta- prefix, plus values).
func checkHeaderLimits(h http.Header) error {
	var all, meta int
	for k, vs := range h {
		isMeta := len(k) > len("X-Amz-Meta-") && strings.EqualFold(k[:len("X-Amz-Meta-")], "X-Amz-Meta-")
		for _, v := range vs {
			all += len(k) + len(v) + 4
			if isMeta {
				meta += len(k) - len("X-Amz-Meta-") + len(v)
			}
		}
	}
	if all > MaxHeaderSection {
		return errHeaderTooLarge
	}
	if meta > MaxUserMetadata {
		return errMetadataTooLarge
	}
	return nil
}

// singleHeaders are the request headers that decide authentication,
// authorization or what is signed upstream. Each may appear at most once:
// with two values, one check could read the first (Header.Get) while the
// signature, the upstream or S3 read the other or both. net/http folds
// names to canonical case, so "x-amz-date" and "X-AMZ-DATE" count as the
// same header. (net/http already refuses a second Host line itself, with a
// plain-text 400, before any handler runs; Host is listed for HTTP/2,
// where a Host field can arrive beside :authority.)
var singleHeaders = []string{
	"Authorization",
	"Content-Md5",
	"Content-Type",
	"Date",
	"Host",
	"X-Amz-Content-Sha256",
	"X-Amz-Copy-Source",
	"X-Amz-Copy-Source-Range",
	"X-Amz-Create-Session-Mode",
	"X-Amz-Date",
	"X-Amz-Decoded-Content-Length",
	"X-Amz-S3session-Token",
	"X-Amz-Security-Token",
	"X-Amz-Trailer",
	"X-Amz-Write-Offset-Bytes",
}

// checkSingleHeaders refuses a request that repeats one of singleHeaders,
// or (HTTP/2) carries a Host field naming another host than :authority
// (r.Host, which addressing and signature checks use; RFC 9113 section
// 8.3.1), with 400 InvalidArgument naming the header (never its values,
// which may be signatures or tokens).
func checkSingleHeaders(r *http.Request) error {
	h := r.Header
	for _, k := range singleHeaders {
		if len(h[k]) > 1 {
			return argumentError(errDuplicateHeader, k)
		}
	}
	if v := h["Host"]; len(v) == 1 && !strings.EqualFold(v[0], r.Host) {
		return argumentError(errHostMismatch, "Host")
	}
	return nil
}

func argumentError(e *s3err.Error, name string) error {
	c := *e
	c.Extra = []s3err.Elem{{Name: "ArgumentName", Value: name}}
	return &c
}

var (
	errDuplicateHeader = s3err.New(http.StatusBadRequest, "InvalidArgument",
		"A header that must be given once was repeated.")
	errHostMismatch = s3err.New(http.StatusBadRequest, "InvalidArgument",
		"The Host header does not match the request's authority.")
)
