package signing

// This file fixes the package's exported API so that proxy and session can be
// written against it. Bodies marked "stub" are replaced by the real
// implementation; the signatures may gain options but should not change.

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

var errNotImplemented = errors.New("signing: not implemented")

// Payload hash values for x-amz-content-sha256.
const (
	UnsignedPayload          = "UNSIGNED-PAYLOAD"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	StreamingSignedPayload   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	HeaderContentSHA256      = "X-Amz-Content-Sha256"
	HeaderS3SessionToken     = "X-Amz-S3session-Token"
	HeaderSecurityToken      = "X-Amz-Security-Token"
	ServiceS3Express         = "s3express"
	ServiceS3                = "s3"
)

// EncodePath returns the S3 canonical encoding of a decoded path: every byte
// re-encoded, RFC 3986 unreserved characters and '/' kept, everything else
// %XX with uppercase hex. It is both the canonical URI for SigV4 and the
// RawPath sent upstream.
func EncodePath(decoded string) string { return decoded } // stub

// SignerOptions configures a Signer.
type SignerOptions struct{}

// Signer signs outbound requests. Safe for concurrent use.
type Signer struct{ opts SignerOptions }

// NewSigner returns a Signer with the options applied to a copy of the defaults.
func NewSigner(optFns ...func(*SignerOptions)) *Signer {
	var o SignerOptions
	for _, fn := range optFns {
		fn(&o)
	}
	return &Signer{opts: o}
}

// SignSession signs req for S3 Express session auth at time now: it sets the
// x-amz-s3session-token header (signed), removes X-Amz-Security-Token and any
// previous Authorization/X-Amz-Date, and signs with service s3express. The
// payload hash is req's x-amz-content-sha256 header (UNSIGNED-PAYLOAD is set
// when absent). req.URL.RawPath must already hold EncodePath(req.URL.Path);
// the path is signed exactly as sent. req is modified in place.
func (s *Signer) SignSession(req *http.Request, creds aws.Credentials, region string, now time.Time) error {
	return errNotImplemented // stub
}

// SignIAM signs req with IAM credentials for service (s3express or s3) at time
// now, adding X-Amz-Security-Token when creds.SessionToken is set and removing
// x-amz-s3session-token. Same path and payload rules as SignSession.
func (s *Signer) SignIAM(req *http.Request, creds aws.Credentials, service, region string, now time.Time) error {
	return errNotImplemented // stub
}

// Key is what a KeyLookup returns for an access key id.
type Key struct {
	// SecretAccessKey is the secret the signature is verified with.
	SecretAccessKey string
	// SessionToken, when non-empty, must be presented by the request
	// (x-amz-s3session-token header or X-Amz-S3session-Token query), compared
	// in constant time; a missing or different token is ErrInvalidToken.
	SessionToken string
	// Expires, when non-zero, is when the key stops being valid (ErrExpiredToken).
	Expires time.Time
	// Principal is opaque to signing and handed back in Result.
	Principal any
}

// KeyLookup finds the Key for an access key id. It must be safe for
// concurrent use.
type KeyLookup interface {
	LookupKey(accessKeyID string) (Key, bool)
}

// AuthType says how a request was authenticated.
type AuthType int

const (
	AuthAnonymous AuthType = iota
	AuthSigV4Header
	AuthSigV4Query
	AuthSigV2Header
	AuthSigV2Query
)

func (t AuthType) String() string {
	switch t {
	case AuthSigV4Header:
		return "sigv4"
	case AuthSigV4Query:
		return "sigv4-query"
	case AuthSigV2Header:
		return "sigv2"
	case AuthSigV2Query:
		return "sigv2-query"
	}
	return "anonymous"
}

// VerifierOptions configures a Verifier. Zero values mean the documented defaults.
type VerifierOptions struct {
	// MaxSkew is the allowed clock skew for header auth. Default 15m.
	MaxSkew time.Duration
	// SigV2 enables SigV2 header and query auth. Default false.
	SigV2 bool
	// MaxChunkSize bounds one aws-chunked chunk. Default 16 MiB.
	MaxChunkSize int
}

// Verifier authenticates inbound requests. Safe for concurrent use.
type Verifier struct {
	keys KeyLookup
	opts VerifierOptions
}

// NewVerifier returns a Verifier over keys.
func NewVerifier(keys KeyLookup, optFns ...func(*VerifierOptions)) *Verifier {
	o := VerifierOptions{MaxSkew: 15 * time.Minute, MaxChunkSize: 16 << 20}
	for _, fn := range optFns {
		fn(&o)
	}
	return &Verifier{keys: keys, opts: o}
}

// Result is a verified request.
type Result struct {
	Type        AuthType
	AccessKeyID string
	Principal   any
	// Body replaces r.Body: it verifies the payload while it is read (hash,
	// chunk signatures, trailer signature) and fails the Read that reaches a
	// mismatch. For signed aws-chunked uploads it yields the upstream wire
	// form described by the fields below. Nil when the request has no body.
	Body io.ReadCloser
	// ContentLength is the length of Body as it must be sent upstream, -1 if unknown.
	ContentLength int64
	// UpstreamContentSHA256 is the x-amz-content-sha256 to send upstream:
	// UNSIGNED-PAYLOAD, or STREAMING-UNSIGNED-PAYLOAD-TRAILER when a checksum
	// trailer is forwarded in unsigned aws-chunked form.
	UpstreamContentSHA256 string
	// DecodedContentLength is the object size for aws-chunked bodies (the
	// upstream x-amz-decoded-content-length), -1 otherwise.
	DecodedContentLength int64
	// Trailer is the upstream x-amz-trailer value, if any.
	Trailer string
}

// Verify authenticates r at time now from its raw request URI, headers and
// (lazily, through Result.Body) its body. A request with no auth at all gives
// Result{Type: AuthAnonymous} and no error; the caller decides whether that
// is allowed. r is not modified.
func (v *Verifier) Verify(r *http.Request, now time.Time) (*Result, error) {
	return nil, errNotImplemented // stub
}

// NewMD5Reader wraps body so that reaching EOF checks the bytes against the
// base64 Content-MD5 value; a mismatch fails that Read with ErrBadDigest. A
// malformed value is reported at construction as ErrInvalidDigest.
func NewMD5Reader(body io.ReadCloser, contentMD5 string) (io.ReadCloser, error) {
	return nil, errNotImplemented // stub
}
