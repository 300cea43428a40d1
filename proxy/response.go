package proxy

import (
	"errors"
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// statusClientClosed is recorded (never sent) for a client that went away.
const statusClientClosed = 499

// modifyResponse is the one ReverseProxy ModifyResponse hook: it records
// the upstream error code, renames the upstream request ids and applies
// the ETag contract (markETags: the MD5 of a PutObject or UploadPart
// payload, every other ETag marked). The status, the other headers and the
// body pass through unchanged, except that nothing is relayed for a
// request whose signature is still pending (guardPending).
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if x := exchangeFrom(resp.Request.Context()); x != nil {
		if err := guardPending(x, resp); err != nil {
			return err
		}
		x.rec.ErrorCode = x.call.errorCode
		if err := clockSkewAnswer(&x.call, resp); err != nil {
			return err
		}
		p.markETags(x, resp)
	}
	h := resp.Header
	if v := h.Values("X-Amz-Request-Id"); len(v) > 0 {
		h[HeaderUpstreamRequestID] = v
		h.Del("X-Amz-Request-Id")
	}
	if v := h.Values("X-Amz-Id-2"); len(v) > 0 {
		h[HeaderUpstreamID2] = v
		h.Del("X-Amz-Id-2")
	}
	return nil
}

// errorHandler is the one ReverseProxy ErrorHandler. It answers S3 XML,
// the error as classify maps it.
//
// A 2xx reaches a client only when the upstream answered 2xx, so this hook
// never returns without a response: net/http would turn that into an
// implicit 200. A client whose connection closed (net/http cancels the
// request context when the read side ends, which a half-close does too)
// still gets the error written, because a half-closed client can still
// read it; for a client that is really gone the write fails harmlessly.
// Such a request is recorded as 499 ClientClosedRequest and logged at debug
// level. Once the response has started, the only honest signal left is to
// cut it: the handler panics with http.ErrAbortHandler.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	if x == nil { // cannot happen: every proxied request carries its exchange
		s3err.Write(w, r, err, "")
		return
	}
	e, closed := p.classify(x, r, err)
	if x.w.wrote() {
		x.rec.ErrorCode = e.Code
		panic(http.ErrAbortHandler)
	}
	switch {
	case closed:
		x.closed = true
		p.log.Debug().Str("request_id", x.rec.RequestID).Msg("client went away")
	case e.Code == s3err.ErrUnavailable.Code || e.Code == s3err.ErrUpstreamCertificate.Code:
		p.log.Warn().Str("request_id", x.rec.RequestID).Str("bucket", x.rec.Bucket).Str("upstream_host", x.call.target.Host).
			Str("error", causeString(e)).Msg("upstream unreachable")
	}
	p.fail(x, x.req.In, e)
}

// errClientClosed answers a request whose upstream call was cancelled
// because the client closed its side of the connection first.
var errClientClosed = s3err.New(http.StatusServiceUnavailable, "ServiceUnavailable",
	"The request was cancelled because the client closed its connection before the upstream answered; "+
		"it may or may not have taken effect. Please try again.")

// classify is the one place a failed upstream call of a forwarded request
// becomes the S3 error its client sees (s3err.From holds the table of
// sentinels it uses). In order:
//
//   - the body idle timeout, which cancels the request context too: 400
//     RequestTimeout;
//   - an *s3err.Error is answered as it is; the signing step's own
//     refusals (SlowDown, CreateSession's answer) as s3err.From maps them;
//   - the inbound body's failure (a mismatch, a short body) as s3err.From
//     maps it, IncompleteBody for one it does not know;
//   - anything else kept the upstream from answering: 503
//     ServiceUnavailable;
//   - a request whose signature is still pending learns no more than
//     whether the failure is worth retrying (unverifiedError);
//   - unless the response has started, a client that went away with its
//     whole body read (or none needed) gets a retryable 503 instead, never
//     a success, since the call may or may not have taken effect; closed
//     is true.
func (p *Proxy) classify(x *exchange, r *http.Request, err error) (e *s3err.Error, closed bool) {
	if x.idle.timedOut() {
		return errRequestTimeout, false
	}
	e = classifyCall(&x.call, err)
	if x.pending.SignaturePending() {
		if berr := x.call.bodyError(); berr == nil || errors.Is(berr, errDetached) {
			e = unverifiedError(e)
		}
	}
	if !x.w.wrote() && r.Context().Err() != nil && x.call.bodyError() == nil {
		return s3err.Wrap(err, errClientClosed.Status, errClientClosed.Code, errClientClosed.Message), true
	}
	return e, false
}

// classifyCall is classify for a verified request whose client is still
// there.
func classifyCall(c *call, err error) *s3err.Error {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e
	}
	if c.signErr != nil && errors.Is(err, c.signErr) {
		return s3err.From(err)
	}
	if berr := c.bodyError(); berr != nil && !errors.Is(berr, errDetached) {
		return bodyFailure(berr)
	}
	return s3err.FromTransport(err)
}

// bodyFailure is the S3 error for a failure reading the client's body: a
// check's own error (a payload or signature mismatch, a timeout), or for
// anything else (a short body, a reset) IncompleteBody, which is the
// client's doing and no internal error.
func bodyFailure(err error) *s3err.Error {
	e := s3err.From(err)
	if e.Code == s3err.ErrInternal.Code {
		e = s3err.Wrap(err, 400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	return e
}

// causeString is the log form of an error's cause. Causes come from
// transports and sessions, never from signature checks (whose details are
// not logged), so they hold no secrets.
func causeString(e *s3err.Error) string {
	if e.Err == nil {
		return e.Message
	}
	return e.Err.Error()
}

// errNoResponse stands in for a stage that returned without writing
// anything, which net/http would otherwise turn into an implicit 200.
var errNoResponse = s3err.Wrap(errors.New("proxy: handler returned without a response"),
	s3err.ErrInternal.Status, s3err.ErrInternal.Code, s3err.ErrInternal.Message)

// answered makes sure the client never reads a success the pipeline did
// not produce: err (from a Handler) is rendered if nothing was written, a
// stage that wrote nothing gets 500 InternalError instead of net/http's
// implicit 200, and an error after the response started cuts the
// connection (http.ErrAbortHandler), so the client sees a truncated
// response rather than a complete-looking one.
func (p *Proxy) answered(x *exchange, r *http.Request, err error) {
	switch {
	case !x.w.wrote() && err == nil:
		p.fail(x, r, errNoResponse)
	case !x.w.wrote() && r.Context().Err() != nil && errors.Is(err, r.Context().Err()):
		// A handler's upstream call cancelled by the client leaving.
		x.closed = true
		p.fail(x, r, s3err.Wrap(err, errClientClosed.Status, errClientClosed.Code, errClientClosed.Message))
	case !x.w.wrote():
		p.fail(x, r, err)
	case err != nil:
		x.rec.ErrorCode = s3err.From(err).Code
		panic(http.ErrAbortHandler)
	}
}

// fail answers err as S3 XML and records it.
func (p *Proxy) fail(x *exchange, r *http.Request, err error) {
	e := s3err.From(err)
	if e.Resource == "" && r.URL != nil {
		c := *e
		c.Resource = r.URL.Path
		e = &c
	}
	s3err.Write(&x.w, r, e, x.rec.RequestID)
	x.rec.ErrorCode = e.Code
	if e.Status >= 500 && e.Code == s3err.ErrInternal.Code {
		p.log.Error().Str("request_id", x.rec.RequestID).Str("error", causeString(e)).Msg("internal error")
	}
}
