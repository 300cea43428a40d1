package signing

// This file holds the package's exported API, the contract proxy and
// session are written against; the implementations are in the files named
// for what they do (sigv4.go, sigv2.go, sign.go, body.go, chunked.go).

import (
	"io"
	"net/http"
	"time"
)

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

// TokenKeyLookup finds the Key for an access key id given the session token
// presented with it (x-amz-s3session-token header or X-Amz-S3session-Token
// query; "" when none): stateless session credentials whose secret is
// derived from the token, so the access key id alone cannot find it. When
// the KeyLookup given to NewVerifier also implements TokenKeyLookup, the
// Verifier calls LookupTokenKey instead of LookupKey. The returned Key goes
// through the same checks (its SessionToken must equal the one presented,
// Expires against the request time). An error must wrap
// ErrInvalidAccessKeyID or ErrInvalidToken; it is returned as is, before
// the signature is checked. Safe for concurrent use.
type TokenKeyLookup interface {
	LookupTokenKey(accessKeyID, token string) (Key, error)
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
	// VirtualHostBucket, when set, returns the bucket named by the Host of
	// a virtual-hosted-style request, as the client wrote it there (an
	// alias or a real name), or "" for path-style. SigV2 signs
	// "/bucket" + path for those (RESTAuthentication, CanonicalizedResource),
	// and only the proxy's addressing knows which hosts are virtual hosts.
	// Nil: every request is path-style, so a virtual-host SigV2 request
	// verifies only if its signature leaves the bucket out, which binds it
	// to no bucket at all: the proxy must set it whenever it serves
	// virtual hosts.
	VirtualHostBucket func(r *http.Request) string
}

// Verifier authenticates inbound requests. Safe for concurrent use.
type Verifier struct {
	keys   KeyLookup
	tokens TokenKeyLookup // keys, when it implements TokenKeyLookup
	opts   VerifierOptions
	dk     *keyCache
}

// NewVerifier returns a Verifier over keys with the options applied to a
// copy of the defaults; a zero or negative MaxSkew or MaxChunkSize means the
// default.
func NewVerifier(keys KeyLookup, optFns ...func(*VerifierOptions)) *Verifier {
	o := VerifierOptions{MaxSkew: 15 * time.Minute, MaxChunkSize: 16 << 20}
	for _, fn := range optFns {
		fn(&o)
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 15 * time.Minute
	}
	if o.MaxChunkSize <= 0 {
		o.MaxChunkSize = 16 << 20
	}
	v := &Verifier{keys: keys, opts: o, dk: newKeyCache(0)}
	v.tokens, _ = keys.(TokenKeyLookup)
	return v
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

	// state is what WrapPayload and SignaturePending need of an
	// aws-chunked Body or of one that checks a deferred signature, nil
	// otherwise. One pointer keeps the Result of a request without a body
	// in its allocation size class.
	state *bodyState
}

// bodyState is the state of a Result's Body beyond the Body itself: for
// aws-chunked bodies (WrapPayload) or a deferred signature check.
type bodyState struct {
	// deferred, when set, is the signature check a SigV4 Body without
	// x-amz-content-sha256 runs at its end (SignaturePending); Body is the
	// payload itself, and the fields below are unused.
	deferred *deferredV4
	// enc, when set, is Body: it re-encodes a decoded payload. When nil,
	// Body is a client's unsigned aws-chunked stream, passed through as is.
	enc *unsignedChunkEncoder
	// maxChunk is VerifierOptions.MaxChunkSize, to decode that stream.
	maxChunk int
}
