package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// keyring is the proxy's signing.KeyLookup: the static local credentials
// first, then the extra lookups in order, then (as a TokenKeyLookup) the
// local sessions. Immutable after newKeyring, so safe for concurrent use.
type keyring struct {
	static   map[string]signing.Key
	extra    []signing.KeyLookup
	sessions signing.TokenKeyLookup // nil: none
}

var (
	_ signing.KeyLookup      = (*keyring)(nil)
	_ signing.TokenKeyLookup = (*keyring)(nil)
)

// withSessions returns a copy of k that also finds the keys of sessions.
func (k *keyring) withSessions(sessions signing.TokenKeyLookup) *keyring {
	return &keyring{static: k.static, extra: k.extra, sessions: sessions}
}

// LookupTokenKey implements signing.TokenKeyLookup: a static or extra key
// (the Verifier then refuses any token with it), else a local session.
func (k *keyring) LookupTokenKey(id, token string) (signing.Key, error) {
	if key, ok := k.LookupKey(id); ok {
		return key, nil
	}
	if k.sessions != nil {
		return k.sessions.LookupTokenKey(id, token)
	}
	return signing.Key{}, fmt.Errorf("%w: %q", signing.ErrInvalidAccessKeyID, id)
}

func newKeyring(creds []Credential, extra []signing.KeyLookup) (*keyring, error) {
	k := &keyring{static: make(map[string]signing.Key, len(creds)), extra: extra}
	for i := range creds {
		c := creds[i] // copy: the Principal must not alias the caller's slice
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, fmt.Errorf("proxy: credential %d: access key id and secret are required", i)
		}
		if _, dup := k.static[c.AccessKeyID]; dup {
			return nil, fmt.Errorf("proxy: credential %q defined twice", c.AccessKeyID)
		}
		k.static[c.AccessKeyID] = signing.Key{SecretAccessKey: c.SecretAccessKey, Principal: &c}
	}
	return k, nil
}

// LookupKey implements signing.KeyLookup.
func (k *keyring) LookupKey(id string) (signing.Key, bool) {
	if key, ok := k.static[id]; ok {
		return key, true
	}
	for _, l := range k.extra {
		if key, ok := l.LookupKey(id); ok {
			return key, true
		}
	}
	return signing.Key{}, false
}

// admit decides who sends the request and whether they may: it verifies
// the signature (authenticate), classifies the operation, applies what a
// SigV2 signature may authorize and what a pending signature needs
// (settleSignature), routes the bucket and authorizes the identity on it,
// and on the copy source (checkCopySource). It returns the verification
// result, whose Body the later stages wrap.
func (p *Proxy) admit(x *exchange, r *http.Request, query url.Values) (*signing.Result, error) {
	res, cred, err := p.authenticate(x, r)
	if err != nil {
		return nil, err
	}
	x.req.Op = Classify(ClassifyInput{Method: r.Method, Bucket: x.req.Bucket, Key: x.req.Key, Query: query, Header: r.Header})
	x.rec.Operation = x.req.Op.Name
	if err := checkSigV2Scope(res.Type, x.req.Op, query); err != nil {
		return nil, err
	}
	if err := settleSignature(x, res); err != nil {
		return nil, err
	}
	if x.req.Bucket == "" {
		return res, p.authorizeService(x, cred)
	}
	if x.req.Target, err = p.router.Resolve(x.req.Bucket); err != nil {
		return nil, err
	}
	x.rec.Bucket = x.req.Target.Bucket
	if err := p.authorize(x, cred); err != nil {
		return nil, err
	}
	if x.copySource, err = p.checkCopySource(r, cred); err != nil {
		return nil, err
	}
	return res, nil
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

// Local sessions bring the proxy's own S3 Express sessions
// (proxy/localsession) into the pipeline: the Issuer answers CreateSession
// and is the keyring's token lookup; a request signed with a session acts
// as the issuing credential, as it is configured now, narrowed to the
// session's bucket and mode.
//
// sessionCredential is the credential a request signed with s acts as: a
// copy of the issuing credential (looked up in the current configuration
// when the session was opened) carrying s, which access narrows to s's
// bucket and mode. Nil when the issuer is not a *Credential.
func sessionCredential(s *localsession.Session) *Credential {
	c, _ := s.Principal.(*Credential)
	if c == nil {
		return nil
	}
	scoped := *c
	scoped.session = s
	return &scoped
}

// narrow is what access a of a credential's bucket globs is left on the
// real bucket under the credential's local session, if any: nothing on
// another bucket, at most read for a ReadOnly session.
func (c *Credential) narrow(a Access, bucket string) Access {
	s := c.session
	switch {
	case s == nil:
		return a
	case s.Bucket != bucket:
		return AccessNone
	case s.Mode != session.ReadWrite && a > AccessRead:
		return AccessRead
	}
	return a
}

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

// What a SigV2 signature may authorize. SigV2 (RESTAuthentication) signs the
// method, Content-MD5, Content-Type, the date, the x-amz-* headers and the
// CanonicalizedResource: the bucket, the path and only the query parameters
// on its sub-resource list (signing.SignedByV2). Anything else in the query
// can be added to a captured SigV2 request, or to a presigned SigV2 URL,
// without breaking its signature. So an operation that a query parameter
// outside that list selects (CreateSession by ?session, ListObjectsV2 by
// list-type, GetObjectAttributes by ?attributes, RenameObject by
// ?renameObject, ...) is refused to SigV2 callers; they must use SigV4.
//
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

var errInvalidCopySource = s3err.New(http.StatusBadRequest, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")

// checkCopySource resolves the source bucket of CopyObject and
// UploadPartCopy (x-amz-copy-source: [/]bucket/key[?versionId=]) through
// the router, checks that the identity may read it, and returns the header
// to send upstream, where an alias names its real bucket (outbound sets
// it); "" without a copy source. The encoded key is passed on unchanged.
func (p *Proxy) checkCopySource(r *http.Request, cred *Credential) (string, error) {
	vs := r.Header["X-Amz-Copy-Source"]
	if len(vs) == 0 {
		return "", nil
	}
	// checkSingleHeaders let at most one value through; an empty one must
	// not pass as "no copy source" while the header is still forwarded.
	src := vs[0]
	if src == "" {
		return "", errInvalidCopySource
	}
	rest := strings.TrimPrefix(src, "/")
	rawBucket, rawKey, ok := strings.Cut(rest, "/")
	if !ok || rawBucket == "" || rawKey == "" {
		return "", errInvalidCopySource
	}
	bucket, err := url.PathUnescape(rawBucket)
	if err != nil {
		return "", errInvalidCopySource
	}
	t, err := p.router.Resolve(bucket)
	if err != nil {
		return "", err
	}
	if p.access(cred, bucket, t) == AccessNone {
		e := *s3err.ErrAccessDenied
		e.Resource = "/" + bucket
		return "", &e
	}
	return "/" + t.Bucket + "/" + rawKey, nil
}
