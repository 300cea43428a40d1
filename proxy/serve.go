package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path"

	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
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

// prepare runs addressing, authentication, routing, classification and
// authorization, arranges the Content-MD5 check of the payload (and, under
// the ETag contract, its MD5 for the ETag), and fills
// x.req with the outbound header, query and body.
func (p *Proxy) prepare(x *exchange, r *http.Request) error {
	if err := checkHeaderLimits(r.Header); err != nil {
		return err
	}
	if err := checkSingleHeaders(r); err != nil {
		return err
	}
	addr, err := parseAddress(r, p.domains)
	if err != nil {
		return err
	}
	x.req.Bucket, x.req.Key = addr.Bucket, addr.Key
	query, err := url.ParseQuery(addr.RawQuery)
	if err != nil {
		return s3err.Wrap(err, errInvalidURI.Status, errInvalidURI.Code, errInvalidURI.Message)
	}
	res, cred, err := p.authenticate(x, r)
	if err != nil {
		return err
	}
	x.req.Op = Classify(r.Method, addr.Bucket, addr.Key, query, r.Header)
	x.rec.Operation = x.req.Op.Name
	if err := checkSigV2Scope(res.Type, x.req.Op, query); err != nil {
		return err
	}
	if err := settleSignature(x, res); err != nil {
		return err
	}
	normalizeListQuery(x.req.Op.Name, query)
	if addr.Bucket == "" {
		return p.authorizeService(x, cred)
	}
	if x.req.Target, err = p.router.Resolve(addr.Bucket); err != nil {
		return err
	}
	x.rec.Bucket = x.req.Target.Bucket
	if err := p.authorize(x, cred); err != nil {
		return err
	}
	if err := verifyContentMD5(x, r, res); err != nil {
		return err
	}
	if err := p.hashPayloadMD5(x, res); err != nil {
		return err
	}
	p.outbound(x, r, query, res)
	return p.rewriteCopySource(x, cred)
}

// authenticate verifies r's signature and returns the result and the local
// credential it belongs to (nil for anonymous requests).
func (p *Proxy) authenticate(x *exchange, r *http.Request) (*signing.Result, *Credential, error) {
	// Checked against the request's arrival time: one clock read fewer.
	res, err := p.verifier.Verify(r, x.start)
	if err != nil {
		return nil, nil, err
	}
	x.rec.AuthType = res.Type.String()
	x.rec.Identity, x.req.Identity = "anonymous", "anonymous"
	if res.Type == signing.AuthAnonymous {
		return res, nil, nil
	}
	x.rec.Identity, x.req.Identity = res.AccessKeyID, res.AccessKeyID
	var cred *Credential
	switch pr := res.Principal.(type) {
	case *Credential:
		cred = pr
	case *localsession.Session:
		cred = sessionCredential(pr)
	}
	if cred == nil {
		// A KeyLookup that does not hand back a *Credential grants nothing.
		return nil, nil, s3err.ErrAccessDenied
	}
	x.req.Credential = cred
	return res, cred, nil
}

// authorizeService allows service-level requests (ListBuckets) to any
// authenticated identity; the handler filters what it shows.
func (p *Proxy) authorizeService(x *exchange, cred *Credential) error {
	if cred == nil && p.opts.Anonymous == AccessNone {
		return s3err.ErrAccessDenied
	}
	x.req.Access = AccessRead
	if cred != nil {
		x.req.Access = cred.Access
	}
	return nil
}

// authorize decides whether the identity may perform x.req.Op on the
// bucket, and picks the session mode and upstream auth.
func (p *Proxy) authorize(x *exchange, cred *Credential) error {
	t := x.req.Target
	access := p.access(cred, x.req.Bucket, t)
	if access == AccessNone || (x.req.Op.Write && access < AccessReadWrite) {
		e := *s3err.ErrAccessDenied
		e.Resource = x.req.In.URL.Path
		return &e
	}
	x.req.Access = access
	x.call.target = t
	x.call.auth = x.req.Op.Auth
	if p.opts.SessionMode == SessionModeIAM {
		x.call.auth = SignIAM
	}
	x.call.mode = p.sessionMode(access)
	x.call.client = admissionClient(cred)
	return nil
}

// access is what cred (nil: anonymous) may do on the bucket the client
// called name, routed to t.
func (p *Proxy) access(cred *Credential, name string, t route.Target) Access {
	if cred == nil {
		if t.Alias != nil && t.Alias.Anonymous >= 0 {
			return Access(t.Alias.Anonymous)
		}
		return p.opts.Anonymous
	}
	if bucketAllowed(cred.Buckets, name, t.Bucket) {
		return cred.narrow(cred.Access, t.Bucket)
	}
	return AccessNone
}

// bucketAllowed reports whether one of globs (path.Match syntax) matches
// the name the client used or the real bucket name.
func bucketAllowed(globs []string, name, real string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
		if ok, _ := path.Match(g, real); ok {
			return true
		}
	}
	return false
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
