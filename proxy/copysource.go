package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

var errInvalidCopySource = s3err.New(http.StatusBadRequest, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")

// rewriteCopySource resolves the source bucket of CopyObject and
// UploadPartCopy (x-amz-copy-source: [/]bucket/key[?versionId=]) through
// the router, so an alias names its real bucket upstream, and checks that
// the identity may read it. The encoded key is passed on unchanged.
func (p *Proxy) rewriteCopySource(x *exchange, cred *Credential) error {
	vs := x.req.Header["X-Amz-Copy-Source"]
	if len(vs) == 0 {
		return nil
	}
	// checkSingleHeaders let at most one value through; an empty one must
	// not pass as "no copy source" while the header is still forwarded.
	src := vs[0]
	if src == "" {
		return errInvalidCopySource
	}
	rest := strings.TrimPrefix(src, "/")
	rawBucket, rawKey, ok := strings.Cut(rest, "/")
	if !ok || rawBucket == "" || rawKey == "" {
		return errInvalidCopySource
	}
	bucket, err := url.PathUnescape(rawBucket)
	if err != nil {
		return errInvalidCopySource
	}
	t, err := p.router.Resolve(bucket)
	if err != nil {
		return err
	}
	if p.access(cred, bucket, t) == AccessNone {
		e := *s3err.ErrAccessDenied
		e.Resource = "/" + bucket
		return &e
	}
	x.req.Header.Set("X-Amz-Copy-Source", "/"+t.Bucket+"/"+rawKey)
	return nil
}
