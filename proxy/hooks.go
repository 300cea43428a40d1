package proxy

import (
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/session"
)

// Upstream request ids are kept, renamed, so the proxy's own
// x-amz-request-id stays the one id of the response.
const (
	HeaderUpstreamRequestID = "X-S3xproxy-Upstream-Request-Id"
	HeaderUpstreamID2       = "X-S3xproxy-Upstream-Id-2"
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

// errorHandler is the one ReverseProxy ErrorHandler. It answers S3 XML:
// the proxy's own refusals as classified (SlowDown, AccessDenied from
// CreateSession, a failed payload check), anything else that kept the
// upstream from answering as 503 ServiceUnavailable.
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
	// Before the client-gone case below: the idle deadline cancels the
	// request context too.
	if x.idle.timedOut() {
		x.rec.ErrorCode = errRequestTimeout.Code
		if x.w.wrote() {
			panic(http.ErrAbortHandler)
		}
		p.fail(x, x.req.In, errRequestTimeout)
		return
	}
	e := p.classify(x, err)
	if x.w.wrote() {
		x.rec.ErrorCode = e.Code
		panic(http.ErrAbortHandler)
	}
	switch {
	case r.Context().Err() != nil && x.call.bodyError() == nil:
		// The upstream call was cancelled with the whole body read (or none
		// needed): it may or may not have taken effect, so the answer is a
		// retryable 5xx, never a success.
		x.closed = true
		e = s3err.Wrap(err, errClientClosed.Status, errClientClosed.Code, errClientClosed.Message)
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

// classify maps a transport error to the S3 error the client sees; a
// request whose signature is still pending learns no more than whether
// the failure is worth retrying (unverifiedError).
func (p *Proxy) classify(x *exchange, err error) *s3err.Error {
	e := p.classifyTransport(x, err)
	if x.pending.SignaturePending() {
		if berr := x.call.bodyError(); berr == nil || errors.Is(berr, errDetached) {
			return unverifiedError(e)
		}
	}
	return e
}

// classifyTransport is classify for a verified request.
func (p *Proxy) classifyTransport(x *exchange, err error) *s3err.Error {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e
	}
	if berr := x.call.bodyError(); berr != nil && !errors.Is(berr, errDetached) {
		e = s3err.From(berr)
		if e.Code == s3err.ErrInternal.Code {
			e = s3err.Wrap(berr, 400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
		}
		return e
	}
	if errors.Is(err, session.ErrThrottled) {
		return s3err.From(err)
	}
	return s3err.FromTransport(err)
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

// finish completes the record, writes the access-log line and hands the
// record to the Observer.
func (p *Proxy) finish(x *exchange) {
	rec := &x.rec
	rec.Status = x.w.status
	if rec.Aborted && rec.ErrorCode == "" {
		rec.ErrorCode = "ResponseAborted"
	}
	if x.closed {
		rec.Status, rec.ErrorCode = statusClientClosed, "ClientClosedRequest"
	}
	rec.BytesIn = x.call.bytesIn.Load()
	rec.BytesOut = x.w.bytes
	rec.Total = p.now().Sub(x.start)
	rec.Upstream = x.call.upstream
	rec.Session = x.call.session
	rec.Retried = x.call.retried
	rec.UpstreamClockSkew = x.call.clockSkew
	if rec.UpstreamClockSkew && p.skew.due(x.start) {
		p.log.Warn().Str("request_id", rec.RequestID).Str("bucket", rec.Bucket).
			Msg("the upstream refuses this host's clock (RequestTimeTooSkewed, more than 15 minutes off): fix its time sync; clients get 503 until then")
	}
	if p.opts.AccessLog {
		logRecord(p.log, rec)
	}
	if p.opts.Observer != nil {
		p.opts.Observer.ObserveRequest(rec)
	}
}

// finishOrAbort is ServeHTTP's deferred finish. A handler unwinding with
// http.ErrAbortHandler cut a response that had started (ReverseProxy does
// when the upstream body fails mid-copy; errorHandler when an upstream
// fails after the headers): the record says so, then the panic goes on
// for net/http to drop the connection, so the client can never take the
// response for complete.
func (p *Proxy) finishOrAbort(x *exchange) {
	v := recover()
	x.rec.Aborted = v == http.ErrAbortHandler
	p.finish(x)
	if v != nil {
		panic(v)
	}
}

// logRecord writes one access-log line. Only these fields are logged:
// never headers, query strings, signatures, keys or tokens.
func logRecord(l zerolog.Logger, rec *Record) {
	ev := l.Info()
	if rec.Status >= 500 && rec.Status != statusClientClosed {
		ev = l.Warn()
	}
	ev.Str("request_id", rec.RequestID).
		Str("identity", rec.Identity).
		Str("auth", rec.AuthType).
		Str("bucket", rec.Bucket).
		Str("operation", rec.Operation).
		Int("status", rec.Status).
		Str("error_code", rec.ErrorCode).
		Int64("bytes_in", rec.BytesIn).
		Int64("bytes_out", rec.BytesOut).
		Float64("total_ms", ms(rec.Total)).
		Float64("upstream_ms", ms(rec.Upstream)).
		Str("session", string(rec.Session)).
		Bool("retried", rec.Retried).
		Bool("aborted", rec.Aborted).
		Msg("access")
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newStdLogger adapts the zerolog logger for ReverseProxy.ErrorLog (body
// copy errors), at warn level.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(stdWriter{l}, "", 0)
}

type stdWriter struct{ l zerolog.Logger }

func (w stdWriter) Write(b []byte) (int, error) {
	w.l.Warn().Msg(string(trimNewline(b)))
	return len(b), nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}
