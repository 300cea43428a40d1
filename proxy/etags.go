package proxy

import (
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
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
