package proxy

import (
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/signing"
)

// This file applies the ETag contract (on unless Options.PassthroughETags, docs/compat.md
// "ETags") to forwarded requests and their answers: marked ETags in the
// client's conditions are mapped back before signing, and every ETag of an
// answer reaches the client either as the MD5 of the payload the proxy
// streamed (PutObject, UploadPart) or marked (compat.MarkETag).

// etagBodyOps are the forwarded operations whose XML answers carry ETag
// elements. ListObjectsV2 and ListObjects are normally answered by
// handlers (markingHandler), whose upstream calls do not pass here;
// ListObjectsV2 is forwarded when Options.Handlers removes its handler.
var etagBodyOps = map[string]bool{
	"ListObjectsV2":           true,
	"ListParts":               true,
	"CopyObject":              true,
	"UploadPartCopy":          true,
	"CompleteMultipartUpload": true,
	"GetObjectAttributes":     true,
	"ListObjectVersions":      true,
}

// shimUnmarkETags maps marked ETags in If-Match, If-None-Match and the
// copy-source conditions back to S3's (compat.UnmarkConditions), so a
// conditional request is judged by S3 as if the client had S3's ETag.
func shimUnmarkETags(req *Request) error {
	compat.UnmarkConditions(req.Header)
	return nil
}

// markETags rewrites the ETags of an upstream answer under the ETag contract:
// a successful PutObject or UploadPart whose whole payload was hashed
// answers its MD5; any other ETag header is marked, and the ETag elements
// of the XML answers in etagBodyOps are marked as the body streams (its
// Content-Length dropped, since marks lengthen it).
func (p *Proxy) markETags(x *exchange, resp *http.Response) {
	if p.opts.PassthroughETags {
		return
	}
	if x.etag != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if etag, ok := x.etag.ETag(); ok {
			resp.Header.Set("Etag", etag)
			return
		}
	}
	if vv := resp.Header["Etag"]; len(vv) > 0 {
		for i, v := range vv {
			vv[i] = compat.MarkETag(v)
		}
	}
	if etagBodyOps[x.req.Op.Name] && x.req.In.Method != http.MethodHead &&
		resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = compat.MarkETagsReader(resp.Body)
		resp.ContentLength = -1
		resp.Header.Del("Content-Length")
	}
}

// markingHandler wraps a listing handler so that, under the ETag contract,
// the ETag elements of what it writes are marked.
func (p *Proxy) markingHandler(h Handler) Handler {
	if p.opts.PassthroughETags {
		return h
	}
	return func(w http.ResponseWriter, req *Request) error {
		mw := compat.NewMarkingWriter(w)
		err := h(mw, req)
		if cerr := mw.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

// hashPayloadMD5 arranges, under the ETag contract, for the decoded payload
// of a PutObject or UploadPart to be hashed with MD5 as it streams
// upstream (a passthrough reader below any aws-chunked re-encoding, see
// signing.Result.WrapPayload), for modifyResponse to answer as the ETag.
// It runs after verifyContentMD5 (checkPayload); a payload with a Content-MD5 is not hashed
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
