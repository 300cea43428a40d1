package proxy

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

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
