package proxy

import (
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/compat"
	"github.com/s3xproxy/s3xproxy/signing"
)

// Content-MD5. Directory buckets answer 501 to a Content-MD5 header, so the
// proxy checks it itself and sends none, in one of two ways:
//
//   - every operation but DeleteObjects has its payload checked as it
//     streams (verifyContentMD5), and the header dropped (shimContentMD5);
//   - DeleteObjects, whose small body S3 requires an integrity checksum
//     for, has its body buffered and checked, and the header replaced by
//     x-amz-checksum-crc32 (compat.DeleteObjectsChecksum).

// checkedWhole reports whether op's Content-MD5 is checked over its whole,
// buffered body rather than as it streams.
func checkedWhole(op string) bool { return op == "DeleteObjects" }

// checkPayload arranges the checks of the payload of res: its Content-MD5,
// then, under the ETag contract, its MD5 for the ETag (hashPayloadMD5, which
// must come second so its hasher sees EOF only once the Content-MD5 check
// has passed). It runs before outbound takes res.Body.
func (p *Proxy) checkPayload(x *exchange, r *http.Request, res *signing.Result) error {
	if err := verifyContentMD5(x, r, res); err != nil {
		return err
	}
	return p.hashPayloadMD5(x, res)
}

// verifyContentMD5 has the payload of res checked against the inbound
// Content-MD5 as it streams (compat.VerifyContentMD5): below any aws-chunked
// re-encoding, so an aws-chunked upload is checked against the object bytes,
// not its wire form.
func verifyContentMD5(x *exchange, r *http.Request, res *signing.Result) error {
	if checkedWhole(x.req.Op.Name) {
		return nil
	}
	return compat.VerifyContentMD5(r.Header, res)
}

// shimContentMD5 drops Content-MD5 once verifyContentMD5 has arranged its
// check, or, for DeleteObjects, replaces it with x-amz-checksum-crc32 over
// the buffered body (bounded, see compat.DeleteObjectsChecksum).
func shimContentMD5(req *Request) error {
	if !checkedWhole(req.Op.Name) {
		req.Header.Del(compat.HeaderContentMD5)
		return nil
	}
	body, n, err := compat.DeleteObjectsChecksum(req.Header, req.Body, req.ContentLength, 0)
	if err != nil {
		return err
	}
	req.Body, req.ContentLength = body, n
	return nil
}
