package proxy

import (
	"context"
	"net/http"
	"net/url"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
)

// This file wires the legacy-compatibility layer (proxy/compat) and the
// proxy's own S3 Express sessions (proxy/localsession) into the pipeline's
// seams: default shims run before the caller's Options.Shims, default
// handlers fill the operations the caller's Options.Handlers leaves empty
// (local sessions: createSession).

// defaultShims are the request shims every forwarded request passes,
// ahead of Options.Shims.
func (p *Proxy) defaultShims() []RequestShim {
	shims := []RequestShim{shimACL, shimStorageClass, shimContentMD5}
	if !p.opts.PassthroughETags {
		shims = append(shims, shimUnmarkETags, p.shimCompleteMD5ETags)
	}
	return shims
}

// shimStorageClass drops x-amz-storage-class: STANDARD (the legacy way to
// say "default"; directory buckets refuse it).
func shimStorageClass(req *Request) error {
	compat.StorageClass(req.Header)
	return nil
}

// shimACL drops x-amz-acl: private / bucket-owner-full-control and refuses
// other ACLs and grants with 501 (directory buckets support no ACLs).
func shimACL(req *Request) error { return compat.ACL(req.Header) }

// defaultHandlers answers the operations directory buckets refuse or that
// the proxy serves itself.
func (p *Proxy) defaultHandlers(issuer *localsession.Issuer) map[string]Handler {
	lister := compat.NewLister(p.opts.Lister)
	h := map[string]Handler{
		"ListObjects": p.markingHandler(func(w http.ResponseWriter, req *Request) error {
			return lister.ListObjectsV1(w, req.In, p.upstreamFor(req), req.Bucket, req.Query)
		}),
		"ListObjectsV2": p.markingHandler(func(w http.ResponseWriter, req *Request) error {
			return lister.ListObjectsV2(w, req.In, p.upstreamFor(req), req.Bucket, req.Query)
		}),
		"ListBuckets": p.listBuckets,
		"GetBucketLocation": func(w http.ResponseWriter, req *Request) error {
			compat.GetBucketLocation(w, req.In, req.Target.Region)
			return nil
		},
		"CreateSession": func(w http.ResponseWriter, req *Request) error {
			return p.createSession(w, req, issuer)
		},
	}
	if p.opts.DefaultZone != "" { // bucket lifecycle (buckets.go)
		h["CreateBucket"], h["DeleteBucket"] = p.createBucket, p.deleteBucket
	}
	return h
}

// listBuckets answers ListBuckets from ListDirectoryBuckets in the default
// region and the regions of configured zones, merged with the aliases the
// identity may see.
func (p *Proxy) listBuckets(w http.ResponseWriter, req *Request) error {
	cred := req.Credential
	in := compat.ListBucketsInput{Regions: p.regions(), ClientName: p.router.ClientName}
	for _, a := range p.opts.Aliases {
		in.Aliases = append(in.Aliases, compat.AliasBucket{Name: a.Name, Target: a.Target})
	}
	in.Visible = func(name string) bool {
		t, err := p.router.Resolve(name)
		if err != nil {
			return false
		}
		return p.access(cred, name, t) != AccessNone
	}
	return compat.ListBuckets(w, req.In, p.upstreamFor(req), in)
}

// regions is the default region followed by every region named in the
// zone table.
func (p *Proxy) regions() []string {
	out := []string{p.opts.Region}
	for _, r := range p.opts.Zones {
		out = append(out, r)
	}
	return out
}

// upstreamFor adapts Proxy.Upstream to compat.Upstream for one request:
// bucket calls go to the request's routed target with its session mode,
// control calls to the region's control endpoint, IAM-signed.
func (p *Proxy) upstreamFor(req *Request) compat.Upstream {
	return &requestUpstream{p: p, target: req.Target, mode: p.sessionMode(req.Access)}
}

type requestUpstream struct {
	p      *Proxy
	target route.Target
	mode   session.Mode
}

// Bucket ignores in.Bucket: the request was routed to u.target already.
func (u *requestUpstream) Bucket(ctx context.Context, in compat.BucketRequest) (*http.Response, error) {
	req := newUpstreamRequest(ctx, in.Method, &url.URL{Path: "/" + in.Key, RawQuery: in.RawQuery}, in.Header)
	return u.p.Upstream(ctx, req, UpstreamTarget{Target: u.target, Auth: SignSession, Mode: u.mode})
}

func (u *requestUpstream) Control(ctx context.Context, in compat.ControlRequest) (*http.Response, error) {
	req := newUpstreamRequest(ctx, in.Method, &url.URL{Path: in.Path, RawQuery: in.RawQuery}, nil)
	return u.p.Upstream(ctx, req, UpstreamTarget{Target: u.p.router.Control(in.Region), Auth: SignIAM, Mode: session.ReadWrite})
}

func newUpstreamRequest(ctx context.Context, method string, u *url.URL, h http.Header) *http.Request {
	if h == nil {
		h = make(http.Header)
	}
	return (&http.Request{Method: method, URL: u, Header: h}).WithContext(ctx)
}

// newIssuer returns the local session issuer over ids, the local
// credentials (never the sessions themselves: a session is not an identity
// a session can be issued to).
func newIssuer(opts *Options, ids *keyring) (*localsession.Issuer, error) {
	return localsession.New(localsession.Options{
		Keys:       opts.LocalSessionKeys,
		TTL:        opts.LocalSessionTTL,
		Identities: ids,
	})
}

// createSession answers CreateSession (the default handler): a session
// for the credential that signed the request, on the routed bucket. An
// anonymous caller has no credential and gets 403 AccessDenied, whatever
// access key ids are configured: the caller is recognised by its type, not
// by a name.
func (p *Proxy) createSession(w http.ResponseWriter, req *Request, issuer *localsession.Issuer) error {
	in := localsession.Request{
		Bucket:   req.Target.Bucket,
		CanWrite: req.Access == AccessReadWrite,
		Now:      p.now(),
	}
	if c := req.Credential; c != nil {
		in.AccessKeyID = c.AccessKeyID
		in.FromSession = c.session != nil
	}
	return issuer.ServeCreateSession(w, req.In, in)
}
