package signing

import (
	"net/http"
	"strconv"
	"strings"
)

// IsHopHeader reports whether the canonical header name k is hop-by-hop
// (RFC 9110 §7.6.1; the list net/http/httputil uses): such a header
// describes one connection, so a proxy drops it in both directions rather
// than forward it, and it is never part of what is signed upstream. Headers
// a Connection header names are hop-by-hop too; the caller handles those.
func IsHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// SetUpstreamHeaders rewrites the payload headers of an outbound request h
// to describe res.Body: x-amz-decoded-content-length and x-amz-trailer (set
// for aws-chunked bodies, removed otherwise), and the aws-chunked
// content-coding (removed from Content-Encoding when Body is the decoded
// payload, kept when it is aws-chunked). x-amz-content-sha256
// (res.UpstreamContentSHA256) and Content-Length (res.ContentLength) are
// the caller's to set: a proxy sets them last, after any edit of the body.
func (res *Result) SetUpstreamHeaders(h http.Header) {
	chunked := res.UpstreamContentSHA256 == StreamingUnsignedTrailer
	if chunked && res.DecodedContentLength >= 0 {
		h.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(res.DecodedContentLength, 10))
	} else {
		h.Del("X-Amz-Decoded-Content-Length")
	}
	if chunked && res.Trailer != "" {
		h.Set("X-Amz-Trailer", res.Trailer)
	} else {
		h.Del("X-Amz-Trailer")
	}
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "aws-chunked") {
				codings = append(codings, c)
			}
		}
	}
	if chunked {
		codings = append([]string{"aws-chunked"}, codings...)
	}
	if len(codings) == 0 {
		h.Del("Content-Encoding")
	} else {
		h.Set("Content-Encoding", strings.Join(codings, ","))
	}
}
