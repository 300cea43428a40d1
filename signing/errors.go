package signing

import "errors"

// Sentinel errors returned (possibly wrapped) by verification and by the
// body readers. The proxy maps each to one S3 error code with errors.Is.
var (
	// ErrMissingAuth: the request carries credentials in no recognised form
	// where some were required (e.g. a session token header alone).
	ErrMissingAuth = errors.New("signing: missing authentication")
	// ErrMalformedAuth: an Authorization header or presign query that cannot
	// be parsed (S3: AuthorizationHeaderMalformed / AuthorizationQueryParametersError).
	ErrMalformedAuth = errors.New("signing: malformed authorization")
	// ErrUnsupportedAuth: an auth scheme that is recognised but disabled or
	// not supported (SigV2 with sigv2 off, an unknown algorithm).
	ErrUnsupportedAuth = errors.New("signing: unsupported authorization")
	// ErrInvalidAccessKeyID: the access key is not known.
	ErrInvalidAccessKeyID = errors.New("signing: invalid access key id")
	// ErrSignatureDoesNotMatch: the signature is wrong. Returned wrapped in a
	// *MismatchError that carries what the proxy computed.
	ErrSignatureDoesNotMatch = errors.New("signing: signature does not match")
	// ErrRequestTimeTooSkewed: the request time is outside the allowed skew.
	ErrRequestTimeTooSkewed = errors.New("signing: request time too skewed")
	// ErrRequestExpired: a presigned request past its expiry.
	ErrRequestExpired = errors.New("signing: request has expired")
	// ErrContentSHA256Mismatch: the body does not hash to x-amz-content-sha256.
	ErrContentSHA256Mismatch = errors.New("signing: x-amz-content-sha256 mismatch")
	// ErrBadDigest: the body does not match Content-MD5.
	ErrBadDigest = errors.New("signing: content-md5 mismatch")
	// ErrInvalidDigest: Content-MD5 is not a base64 MD5.
	ErrInvalidDigest = errors.New("signing: invalid content-md5")
	// ErrIncompleteBody: the body ended before its declared length or the
	// aws-chunked stream was truncated or malformed.
	ErrIncompleteBody = errors.New("signing: incomplete body")
	// ErrInvalidToken: a session token that does not belong to the key.
	ErrInvalidToken = errors.New("signing: invalid session token")
	// ErrContentSHA256Required: a SigV4 request with a body and no
	// x-amz-content-sha256 whose signature covers an empty payload, not its
	// body (curl --aws-sigv4 -T before 8.x): the body is not signed, so it
	// cannot be verified (S3: 400 InvalidRequest, "Missing required header
	// for this request: x-amz-content-sha256").
	ErrContentSHA256Required = errors.New("signing: x-amz-content-sha256 required")
	// ErrExpiredToken: a session token past its expiry.
	ErrExpiredToken = errors.New("signing: expired session token")
)

// ErrHeadersNotSigned: the request carries x-amz-* headers that its
// signature does not cover (S3: 403 AccessDenied, "There were headers present
// in the request which were not signed"). Those headers would otherwise be
// forwarded upstream unauthenticated.
var ErrHeadersNotSigned = errors.New("signing: headers present in the request were not signed")

// MismatchError is a signature mismatch. It carries what the proxy computed,
// which S3 returns in its SignatureDoesNotMatch error body so that a client
// can find its mistake; it never carries a secret. It wraps
// ErrSignatureDoesNotMatch.
type MismatchError struct {
	// AccessKeyID is the access key the request claimed.
	AccessKeyID string
	// StringToSign is the string the proxy signed.
	StringToSign string
	// CanonicalRequest is the canonical request the proxy built (empty for
	// chunk, trailer and SigV2 signatures, which have none).
	CanonicalRequest string
	// SignatureProvided is the signature the request carried.
	SignatureProvided string
}

func (e *MismatchError) Error() string { return ErrSignatureDoesNotMatch.Error() }

func (e *MismatchError) Unwrap() error { return ErrSignatureDoesNotMatch }
