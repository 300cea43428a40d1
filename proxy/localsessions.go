package proxy

import (
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/localsession"
	"github.com/s3xproxy/s3xproxy/session"
)

// This file wires the proxy's own S3 Express sessions (proxy/localsession)
// into the pipeline: the Issuer answers CreateSession and is the keyring's
// token lookup; a request signed with a session acts as the issuing
// credential, as it is configured now, narrowed to the session's bucket and
// mode.

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
