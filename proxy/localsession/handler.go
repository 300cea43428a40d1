package localsession

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// HeaderSessionMode is the CreateSession mode request header.
const HeaderSessionMode = "X-Amz-Create-Session-Mode"

// Check authorizes a request authenticated with a local session key: sess
// is the signing.Result Principal (a *Session), bucket the real bucket the
// request addresses, write whether the operation writes (anything but
// GetObject, HeadObject, ListObjectsV2, GetObjectAttributes, ListParts,
// ListMultipartUploads, which S3 allows a ReadOnly session). It returns nil
// or a 403 AccessDenied *s3err.Error (wrapping ErrNoSession, ErrWrongBucket
// or ErrReadOnly), exactly as S3 rejects a session used out of scope.
func Check(sess *Session, bucket string, write bool) error {
	switch {
	case sess == nil:
		return denied(ErrNoSession)
	case sess.Bucket != bucket:
		return denied(fmt.Errorf("%w: session for %q used on %q", ErrWrongBucket, sess.Bucket, bucket))
	case write && sess.Mode != ReadWrite:
		return denied(ErrReadOnly)
	}
	return nil
}

func denied(err error) error {
	return s3err.Wrap(err, http.StatusForbidden, "AccessDenied", "Access Denied")
}

// ModeFor picks the mode of a new session from the request's
// x-amz-create-session-mode value and whether the identity may write. As S3
// does, an absent mode means the most the identity is allowed (ReadWrite,
// else ReadOnly). Asking ReadWrite without write access is 403 AccessDenied;
// an unknown value is 400 InvalidArgument.
func ModeFor(requested string, canWrite bool) (Mode, error) {
	switch Mode(requested) {
	case "":
		if canWrite {
			return ReadWrite, nil
		}
		return ReadOnly, nil
	case ReadOnly:
		return ReadOnly, nil
	case ReadWrite:
		if !canWrite {
			return "", denied(ErrModeDenied)
		}
		return ReadWrite, nil
	}
	return "", s3err.Wrap(fmt.Errorf("%w: %q", ErrInvalidMode, requested), http.StatusBadRequest,
		"InvalidArgument", "Invalid session mode: must be ReadOnly or ReadWrite.")
}

// Request is an authenticated, authorized CreateSession addressed to the proxy.
type Request struct {
	// AccessKeyID is the local credential the request was signed with; ""
	// for an anonymous request, which gets 403 AccessDenied: a session is
	// always issued to a credential (docs/compat.md).
	AccessKeyID string
	// FromSession says the request was signed with a local session key.
	FromSession bool
	// Bucket is the real bucket name the session is bound to; the proxy
	// must compare it with the real bucket name of later requests.
	Bucket string
	// CanWrite says whether the identity has read-write access to Bucket.
	CanWrite bool
	// Now is the issue time.
	Now time.Time
}

// errAnonymous is the answer to an unsigned CreateSession.
var errAnonymous = s3err.New(http.StatusForbidden, "AccessDenied", "CreateSession requires a signed request.")

// ServeCreateSession answers a CreateSession request itself: mode from the
// x-amz-create-session-mode header (ModeFor), a new session from s, the
// CreateSessionResult XML. A request signed with a local session key
// (req.FromSession) or carrying x-amz-s3session-token is refused with 400
// InvalidRequest, as S3 refuses a CreateSession that carries
// x-amz-s3session-token; an anonymous one (no req.AccessKeyID) with 403
// AccessDenied. A non-nil error means nothing was written; the caller
// renders it with s3err.Write.
func (s *Issuer) ServeCreateSession(w http.ResponseWriter, r *http.Request, req Request) error {
	if req.FromSession || r.Header.Get("X-Amz-S3session-Token") != "" {
		return s3err.New(http.StatusBadRequest, "InvalidRequest",
			`CreateSession request should not include "x-amz-s3session-token"`)
	}
	if req.AccessKeyID == "" {
		return errAnonymous
	}
	mode, err := ModeFor(r.Header.Get(HeaderSessionMode), req.CanWrite)
	if err != nil {
		return err
	}
	creds, err := s.Issue(req.AccessKeyID, req.Bucket, mode, req.Now)
	if errors.Is(err, ErrNoIdentity) {
		return s3err.Wrap(err, errAnonymous.Status, errAnonymous.Code, errAnonymous.Message)
	}
	if err != nil {
		return s3err.Wrap(err, s3err.ErrInternal.Status, s3err.ErrInternal.Code, s3err.ErrInternal.Message)
	}
	WriteCreateSessionResult(w, creds)
	return nil
}

type createSessionResult struct {
	XMLName     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CreateSessionResult"`
	Credentials struct {
		SessionToken    string
		SecretAccessKey string
		AccessKeyId     string //nolint:revive // S3 element name
		Expiration      string
	}
}

// WriteCreateSessionResult writes a 200 CreateSessionResult document for c,
// in S3's element order (SessionToken, SecretAccessKey, AccessKeyId,
// Expiration as RFC 3339 UTC with second precision), with Content-Type and
// Content-Length. Response headers set earlier (request ids) are kept.
func WriteCreateSessionResult(w http.ResponseWriter, c Credentials) {
	var v createSessionResult
	v.Credentials.SessionToken = c.SessionToken
	v.Credentials.SecretAccessKey = c.SecretAccessKey
	v.Credentials.AccessKeyId = c.AccessKeyID
	v.Credentials.Expiration = c.Expiration.UTC().Format(time.RFC3339)
	out, err := xml.Marshal(v)
	if err != nil { // cannot happen: plain strings
		panic(fmt.Sprintf("localsession: marshal: %v", err))
	}
	body := append([]byte(xml.Header), out...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
