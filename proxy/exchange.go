package proxy

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// exchange is the per-request state shared by the pipeline stages, the
// Rewrite hook, the signing transport and the error and response hooks.
type exchange struct {
	start time.Time
	// w is held by value: one allocation per request fewer than a pointer.
	w    responseWriter
	rec  Record
	req  Request
	call call
	// etag hashes the payload of a PutObject or UploadPart under
	// the ETag contract (nil otherwise); modifyResponse reads it.
	etag *compat.PayloadMD5
	// closed: the client closed its connection before the upstream
	// answered; the record says 499 whatever was written (errorHandler).
	closed bool
	// copySource is the x-amz-copy-source to send upstream, its bucket
	// routed (checkCopySource); "" without one.
	copySource string
	// pending is the verification result of a request whose signature is
	// checked at the end of its streamed body (settleSignature), nil
	// otherwise; modifyResponse relays nothing while it is pending.
	pending *signing.Result
	// idle is the inbound body's idle timeout (unset without a body).
	idle idleBody
}

// call is one logical upstream call (possibly two attempts), handed to the
// signing transport through the request context.
type call struct {
	target route.Target
	auth   UpstreamAuth
	mode   session.Mode
	// client names the local identity for CreateSession admission (see
	// admissionClient).
	client string
	// header is the unsigned outbound header a retry re-signs from, set by
	// the Rewrite hook (see signingTransport.RoundTrip); nil: RoundTrip
	// copies the request's before signing it.
	header http.Header
	// Results, written by the transport.
	session   session.Status
	retried   bool
	errorCode string // S3 error code of the last upstream answer, if peeked
	// clockSkew: the upstream refused the proxy's clock (clockskew.go).
	clockSkew bool
	// signErr is the signing step's failure (credentials, session cache,
	// CreateSession), the proxy's own refusal; classify maps it with
	// s3err.From rather than as a transport failure.
	signErr  error
	upstream time.Duration
	bytesIn  atomic.Int64
	bodyErr  atomic.Pointer[error] // first error reading the inbound body
}

func (c *call) setBodyErr(err error) { c.bodyErr.CompareAndSwap(nil, &err) }

func (c *call) bodyError() error {
	if p := c.bodyErr.Load(); p != nil {
		return *p
	}
	return nil
}

type callKey struct{}

func withCall(ctx context.Context, c *call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// callFrom returns the call of an outbound request: the one Proxy.Upstream
// attached, else the forwarded request's own (exchange.call). Finding the
// latter through the exchange saves a context value and a request copy per
// forwarded request.
func callFrom(ctx context.Context) *call {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		return c
	}
	if x := exchangeFrom(ctx); x != nil {
		return &x.call
	}
	return nil
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// newRequestID returns an S3-style request id (16 upper-case hex digits)
// and extended id (base64 of 24 bytes), from a fast non-cryptographic
// source (math/rand/v2's runtime generator: no syscall, no lock): they are
// correlation ids, not secrets. Both are encoded into one buffer and cut
// from one string, so the pair costs a single allocation.
func newRequestID() (id, id2 string) {
	const upperHex = "0123456789ABCDEF"
	var raw [24]byte
	for i := 0; i < len(raw); i += 8 {
		binary.BigEndian.PutUint64(raw[i:], rand.Uint64())
	}
	var buf [16 + 32]byte // base64.StdEncoding.EncodedLen(24) == 32
	v := rand.Uint64()
	for i := 15; i >= 0; i-- {
		buf[i] = upperHex[v&15]
		v >>= 4
	}
	base64.StdEncoding.Encode(buf[16:], raw[:])
	s := string(buf[:])
	return s[:16], s[16:]
}

// responseWriter records the status and the bytes written.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (w *responseWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrote reports whether the response has started.
func (w *responseWriter) wrote() bool { return w.status != 0 }
