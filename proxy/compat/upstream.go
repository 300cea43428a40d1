package compat

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/s3xproxy/s3xproxy/signing"
)

// Upstream sends signed requests on the caller's behalf. It is implemented
// by the proxy core; implementations must be safe for concurrent use.
type Upstream interface {
	// Bucket sends req to the bucket's Zonal endpoint, session-signed, and
	// returns the response whatever its status (the caller closes the
	// body).
	Bucket(ctx context.Context, req BucketRequest) (*http.Response, error)
	// Control sends req to s3express-control.<region>, IAM-signed, and
	// returns the response whatever its status (the caller closes the
	// body).
	Control(ctx context.Context, req ControlRequest) (*http.Response, error)
}

// BucketRequest is a request to a bucket's Zonal endpoint: Method
// /<Key>?RawQuery.
type BucketRequest struct {
	// Bucket is the name the handler was given; an implementation may
	// instead route by a target it already resolved for the request.
	Bucket string
	Method string
	// Key is the decoded object key, "" for bucket-level requests.
	Key string
	// RawQuery is canonically encoded (signing.EncodeQuery).
	RawQuery string
	// Header holds extra headers; nil for none.
	Header http.Header
}

// ControlRequest is a request to a region's control endpoint: Method
// Path?RawQuery.
type ControlRequest struct {
	Region, Method, Path string
	// RawQuery is canonically encoded (signing.EncodeQuery).
	RawQuery string
}

// copyResponse sends an upstream response (typically an S3 error) to the
// client unchanged: status, end-to-end headers and the body, streamed.
// Headers already set on w (request ids) are overwritten by upstream's. A
// body that cannot be copied to the end aborts the response, so a client
// never reads a truncated body as complete (an upstream answer without a
// Content-Length would otherwise end cleanly).
func copyResponse(w http.ResponseWriter, resp *http.Response) {
	h := w.Header()
	for k, vv := range resp.Header {
		// Content-Length is set below, from the body actually copied.
		if signing.IsHopHeader(k) || k == "Content-Length" {
			continue
		}
		h[k] = append([]string(nil), vv...)
	}
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		abort()
	}
}

// abort ends a response whose status was already sent: the connection is
// closed (HTTP/1.1) or the stream reset (HTTP/2) so the client sees a
// truncated response rather than a well-formed but incomplete listing. This
// is how net/http/httputil.ReverseProxy aborts too.
func abort() {
	panic(http.ErrAbortHandler)
}
