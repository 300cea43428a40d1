package proxy

import (
	"context"
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// ServeHTTP implements http.Handler. It reads as the request flow of
// DESIGN.md: request ids, addressing, authentication, routing,
// classification, authorization, shims, then the reverse proxy (whose
// transport signs last and retries once). Every stage that refuses the
// request answers S3 XML; one access-log record is written at the end.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := p.begin(w, r)
	defer p.finishOrAbort(x)
	p.watchBody(x, w, r)

	if err := p.prepare(x, r); err != nil {
		p.fail(x, r, err)
		return
	}
	// One context value serves the hooks, handlers and the transport, which
	// finds the forwarded request's call through it (callFrom).
	r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
	x.req.In = r
	if h, ok := p.opts.Handlers[x.req.Op.Name]; ok {
		p.answered(x, r, h(&x.w, &x.req))
		return
	}
	if err := unsupported(x); err != nil {
		p.fail(x, r, err)
		return
	}
	for _, shim := range p.opts.Shims {
		if err := shim(&x.req); err != nil {
			p.fail(x, r, err)
			return
		}
	}
	p.rp.ServeHTTP(&x.w, r)
	p.answered(x, r, nil)
}

// begin starts the record and sets the request id headers that every
// response carries.
func (p *Proxy) begin(w http.ResponseWriter, r *http.Request) *exchange {
	x := &exchange{start: p.now(), w: responseWriter{ResponseWriter: w}}
	id, id2 := newRequestID()
	x.rec.RequestID = id
	x.req.ID = id
	x.req.In = r
	// Both values from one allocation, capacity-limited so an append to
	// one cannot reach the other; the names are canonical, so this is
	// what Header.Set does.
	v := []string{id, id2}
	h := w.Header()
	h["X-Amz-Request-Id"] = v[0:1:1]
	h["X-Amz-Id-2"] = v[1:2:2]
	return x
}

// prepare runs the stages that decide whether and how the request is
// forwarded, each in its own file, in order: the header checks
// (limits.go), addressing (address.go), authentication, classification,
// routing and authorization (auth.go), the payload checks (payload.go) and
// the outbound rewrite that fills x.req with the upstream header, query
// and body (outbound.go). A service-level request (no bucket) stops after
// authorization: only a handler answers it.
func (p *Proxy) prepare(x *exchange, r *http.Request) error {
	if err := checkHeaders(r); err != nil {
		return err
	}
	addr, err := parseAddress(r, p.domains)
	if err != nil {
		return err
	}
	x.req.Bucket, x.req.Key = addr.Bucket, addr.Key
	res, err := p.admit(x, r, addr.Query)
	if err != nil || addr.Bucket == "" {
		return err
	}
	if err := p.checkPayload(x, r, res); err != nil {
		return err
	}
	p.outbound(x, r, addr.Query, res)
	return nil
}

// errMethodNotAllowed is S3's answer to an operation on the wrong resource.
var errMethodNotAllowed = s3err.New(http.StatusMethodNotAllowed, "MethodNotAllowed",
	"The specified method is not allowed against this resource.")

// unsupported refuses operations that need a handler the proxy was built
// without (Options.Handlers removed the default), control-plane calls,
// which are not forwarded, and anything else addressed to the service
// rather than a bucket.
func unsupported(x *exchange) error {
	op := x.req.Op
	switch op.Name {
	case "ListBuckets", "ListObjects", "CreateSession":
		return s3err.New(http.StatusNotImplemented, "NotImplemented",
			op.Name+" is not supported by this proxy yet.")
	}
	if op.Control {
		return s3err.New(http.StatusNotImplemented, "NotImplemented",
			op.Name+" is a control-plane operation; this proxy only forwards Zonal operations.")
	}
	if x.req.Target.URL == nil {
		return errMethodNotAllowed
	}
	return nil
}
