package proxy

// What a SigV2 signature may authorize. SigV2 (RESTAuthentication) signs the
// method, Content-MD5, Content-Type, the date, the x-amz-* headers and the
// CanonicalizedResource: the bucket, the path and only the query parameters
// on its sub-resource list (signing.SignedByV2). Anything else in the query
// can be added to a captured SigV2 request, or to a presigned SigV2 URL,
// without breaking its signature. So an operation that a query parameter
// outside that list selects (CreateSession by ?session, ListObjectsV2 by
// list-type, GetObjectAttributes by ?attributes, RenameObject by
// ?renameObject, ...) is refused to SigV2 callers; they must use SigV4.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// sigV2Bucket is signing.VerifierOptions.VirtualHostBucket: the bucket of a
// virtual-hosted-style request as the addressing reads it from the Host
// (the name the client used there, an alias or a real bucket name, lower
// case), "" for path-style. SigV2 puts it at the head of the
// CanonicalizedResource, so a virtual-host signature is bound to its
// bucket.
func (p *Proxy) sigV2Bucket(r *http.Request) string {
	bucket, _ := virtualHostBucket(r.Host, p.domains)
	return bucket
}

// checkSigV2Scope refuses a SigV2-authenticated request whose query holds
// a parameter of the operation table (selectsOperation) that SigV2 does not
// sign, whichever operation the table picked: the parameter is unsigned, so
// whoever holds the request could have added it. CreateSession is refused
// to SigV2 whatever its query: local session credentials are only issued
// to SigV4 callers. Other auth types pass.
func checkSigV2Scope(t signing.AuthType, o Operation, q url.Values) error {
	if t != signing.AuthSigV2Header && t != signing.AuthSigV2Query {
		return nil
	}
	var unsigned []string
	for name := range q {
		if selectsOperation(name) && !signing.SignedByV2(name) {
			unsigned = append(unsigned, name)
		}
	}
	if len(unsigned) == 0 && o.Name != "CreateSession" {
		return nil
	}
	msg := "Signature Version 4 is required for this operation."
	if len(unsigned) > 0 {
		slices.Sort(unsigned)
		msg = fmt.Sprintf("Signature Version 4 is required for this operation: Signature Version 2 does not sign the query parameter %q that selects it.", unsigned[0])
	}
	return s3err.New(http.StatusForbidden, "AccessDenied", msg)
}
