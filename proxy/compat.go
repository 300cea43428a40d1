package proxy

import (
	"context"
	"net/http"
	"net/url"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// This file wires the legacy-compatibility layer (proxy/compat) and the
// proxy's own S3 Express sessions (proxy/localsession) into the pipeline's
// seams: default shims run before the caller's Options.Shims, default
// handlers fill the operations the caller's Options.Handlers leaves empty
// (local sessions: localsessions.go).

// defaultShims are the request shims every forwarded request passes,
// ahead of Options.Shims.
func (p *Proxy) defaultShims() []RequestShim {
	shims := []RequestShim{shimACL, shimStorageClass, shimContentMD5, shimDeleteObjects}
	if !p.opts.PassthroughETags {
		shims = append(shims, shimUnmarkETags, p.shimCompleteMD5ETags)
	}
	return shims
}

// hashPayloadMD5 arranges, under the ETag contract, for the decoded payload
// of a PutObject or UploadPart to be hashed with MD5 as it streams
// upstream (a passthrough reader below any aws-chunked re-encoding, see
// signing.Result.WrapPayload), for modifyResponse to answer as the ETag.
// It runs after verifyContentMD5, so the hasher sees EOF only once the
// Content-MD5 check has passed; a payload with a Content-MD5 is not hashed
// again (compat.KnownPayloadMD5).
func (p *Proxy) hashPayloadMD5(x *exchange, res *signing.Result) error {
	if p.opts.PassthroughETags || res == nil {
		return nil
	}
	if op := x.req.Op.Name; op != "PutObject" && op != "UploadPart" {
		return nil
	}
	if x.req.In.Header.Get("X-Amz-Write-Offset-Bytes") != "" {
		// An append: S3's ETag is that of the whole object, not of this
		// payload, so it is marked like any other (markETags).
		return nil
	}
	if m, ok := compat.KnownPayloadMD5(x.req.In.Header.Get(compat.HeaderContentMD5)); ok {
		// verifyContentMD5 already hashes the payload with MD5: a 2xx
		// answer proves the client's digest, so it is not computed twice.
		x.etag = m
		return nil
	}
	if !p.opts.AlwaysMD5ETags {
		return nil // S3's ETag, marked (markETags)
	}
	m := compat.NewPayloadMD5(payloadLength(res))
	if err := res.WrapPayload(m.Wrap); err != nil {
		return err
	}
	x.etag = m
	return nil
}

// payloadLength is the length of res's decoded payload, -1 if unknown.
func payloadLength(res *signing.Result) int64 {
	switch {
	case res.Body == nil:
		return 0
	case res.DecodedContentLength >= 0:
		return res.DecodedContentLength
	case isStreaming(res.UpstreamContentSHA256):
		return -1
	}
	return res.ContentLength
}

// shimCompleteMD5ETags translates, under the ETag contract, the MD5 part
// ETags of a CompleteMultipartUpload body back to the upload's real ones
// (compat.CompleteMultipartETags: one ListParts call per 1000 parts,
// session-signed like the request). An aws-chunked body is forwarded
// unchanged: no client sends one for this call.
func (p *Proxy) shimCompleteMD5ETags(req *Request) error {
	if req.Op.Name != "CompleteMultipartUpload" || isStreaming(req.ContentSHA256) {
		return nil
	}
	body, n, err := compat.CompleteMultipartETags(req.In.Context(), p.upstreamFor(req), compat.CompleteInput{
		Bucket:        req.Target.Bucket,
		Key:           req.Key,
		UploadID:      req.Query.Get("uploadId"),
		Header:        req.Header,
		Body:          req.Body,
		ContentLength: req.ContentLength,
	})
	if err != nil {
		return err
	}
	req.Body, req.ContentLength = body, n
	return nil
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

// verifyContentMD5 has the payload of res checked against the inbound
// Content-MD5 as it streams (compat.VerifyContentMD5): below any aws-chunked
// re-encoding, so an aws-chunked upload is checked against the object bytes,
// not its wire form. It runs before outbound takes res.Body. DeleteObjects
// is left to shimDeleteObjects, which buffers and checks its small body.
func verifyContentMD5(x *exchange, r *http.Request, res *signing.Result) error {
	if x.req.Op.Name == "DeleteObjects" {
		return nil
	}
	return compat.VerifyContentMD5(r.Header, res)
}

// shimContentMD5 drops Content-MD5, which directory buckets answer 501 to,
// once verifyContentMD5 has arranged its check. DeleteObjects keeps it for
// shimDeleteObjects.
func shimContentMD5(req *Request) error {
	if req.Op.Name != "DeleteObjects" {
		req.Header.Del(compat.HeaderContentMD5)
	}
	return nil
}

// shimDeleteObjects replaces DeleteObjects' Content-MD5 with
// x-amz-checksum-crc32 (bounded body buffer, see compat.DeleteObjectsChecksum).
func shimDeleteObjects(req *Request) error {
	if req.Op.Name != "DeleteObjects" {
		return nil
	}
	body, n, err := compat.DeleteObjectsChecksum(req.Header, req.Body, req.ContentLength, 0)
	if err != nil {
		return err
	}
	req.Body, req.ContentLength = body, n
	return nil
}

// defaultHandlers answers the operations directory buckets refuse or that
// the proxy serves itself.
func (p *Proxy) defaultHandlers(issuer *localsession.Issuer) map[string]Handler {
	lister := compat.NewLister(p.opts.Lister)
	return map[string]Handler{
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

func (u *requestUpstream) Bucket(ctx context.Context, _ string, method, key, rawQuery string, h http.Header) (*http.Response, error) {
	return u.p.Upstream(ctx, u.target, newUpstreamRequest(ctx, method, "/"+key, rawQuery, h), SignSession, u.mode)
}

func (u *requestUpstream) Control(ctx context.Context, region, method, path, rawQuery string) (*http.Response, error) {
	t := u.p.router.Control(region)
	return u.p.Upstream(ctx, t, newUpstreamRequest(ctx, method, path, rawQuery, nil), SignIAM, session.ReadWrite)
}

func newUpstreamRequest(ctx context.Context, method, path, rawQuery string, h http.Header) *http.Request {
	if h == nil {
		h = make(http.Header)
	}
	return (&http.Request{
		Method: method,
		URL:    &url.URL{Path: path, RawQuery: rawQuery},
		Header: h,
		Host:   "",
	}).WithContext(ctx)
}

// sessionMode is the session mode for an identity with access a, under
// Options.SessionMode.
func (p *Proxy) sessionMode(a Access) session.Mode {
	if a == AccessRead && p.opts.SessionMode == SessionModeAuto {
		return session.ReadOnly
	}
	return session.ReadWrite
}
