package localsession

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// Mode is the session mode, shared with the upstream session cache.
type Mode = session.Mode

// Session modes.
const (
	ReadOnly  = session.ReadOnly
	ReadWrite = session.ReadWrite
)

// Defaults for Options.
const (
	DefaultTTL = 5 * time.Minute
	// AccessKeyPrefix starts every access key id the Issuer makes, so that
	// local session keys are recognisable in logs (the id is not a secret).
	AccessKeyPrefix = "S3XL"
)

// Options configures an Issuer. Zero values mean the documented defaults.
type Options struct {
	// Keys seal and open sessions: Keys[0] seals new ones, every key opens
	// them, so a key is rotated by putting the new one first and dropping
	// the old one after a TTL. Each at least MinKeyLen bytes. Every replica must have the same keys.
	// Default: one random key made by New, so sessions are only valid on
	// this Issuer.
	Keys [][]byte
	// TTL is the lifetime of an issued session. Default DefaultTTL (5m, as
	// S3 CreateSession).
	TTL time.Duration
	// Rand is the randomness source. Default crypto/rand.Reader.
	Rand io.Reader
	// Identities are the local credentials sessions are issued to
	// (required). It is consulted when a session is issued and again on
	// every request signed with one: the issuing access key id must still
	// be there with the same secret, else the session is dead. Its Key's
	// Principal becomes Session.Principal.
	Identities signing.KeyLookup
}

// Credentials are one issued local session, as returned to the client.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Session is the signing.Key Principal of a request signed with a local
// session: who it was issued to, for which bucket and mode. The proxy must
// narrow the issuing identity's rights to Bucket and Mode (see Check).
type Session struct {
	// Principal is the issuing identity's current Principal, from
	// Options.Identities.
	Principal any
	// AccessKeyID is the local key id the session was issued to (not the
	// session's own id).
	AccessKeyID string
	// Bucket is the only (real) bucket the session may touch.
	Bucket  string
	Mode    Mode
	Expires time.Time
}

// Errors returned by Issue, Check and ModeFor. Check and ModeFor wrap them
// in *s3err.Error values.
var (
	ErrNoSession   = errors.New("localsession: request not signed with a local session")
	ErrWrongBucket = errors.New("localsession: session is bound to another bucket")
	ErrReadOnly    = errors.New("localsession: read-only session used for a write")
	ErrInvalidMode = errors.New("localsession: invalid session mode")
	ErrModeDenied  = errors.New("localsession: session mode not allowed for this identity")
	// ErrNoIdentity: a session was asked for an access key id that is not
	// a local credential (an anonymous caller, a session key).
	ErrNoIdentity = errors.New("localsession: no local credential to issue a session to")
)

// Issuer issues local sessions and opens them again. Nothing is stored per
// session: the credentials carry everything, sealed. It implements
// signing.TokenKeyLookup. Immutable after New, so safe for concurrent use.
type Issuer struct {
	opts Options
	keys []*sealKey // keys[0] seals
}

var (
	_ signing.KeyLookup      = (*Issuer)(nil)
	_ signing.TokenKeyLookup = (*Issuer)(nil)
)

// New returns an Issuer with opts' defaults applied. It fails on a key
// shorter than MinKeyLen or without Identities.
func New(opts Options) (*Issuer, error) {
	if opts.Identities == nil {
		return nil, errors.New("localsession: Options.Identities is required")
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if len(opts.Keys) == 0 {
		k := make([]byte, MinKeyLen)
		if _, err := io.ReadFull(opts.Rand, k); err != nil {
			return nil, fmt.Errorf("localsession: random key: %w", err)
		}
		opts.Keys = [][]byte{k}
	}
	s := &Issuer{opts: opts}
	for i, k := range opts.Keys {
		sk, err := newSealKey(k)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		s.keys = append(s.keys, sk)
	}
	return s, nil
}

// Issue creates a session for the local credential accessKeyID on bucket
// (the real name) with mode, valid from now for the TTL (Expiration whole
// seconds). It fails with ErrNoIdentity when Identities does not know
// accessKeyID.
func (s *Issuer) Issue(accessKeyID, bucket string, mode Mode, now time.Time) (Credentials, error) {
	if mode != ReadOnly && mode != ReadWrite {
		return Credentials{}, fmt.Errorf("localsession: issue %q: %w", mode, ErrInvalidMode)
	}
	if bucket == "" {
		return Credentials{}, errors.New("localsession: issue: empty bucket")
	}
	id, ok := s.identity(accessKeyID)
	if !ok {
		return Credentials{}, fmt.Errorf("localsession: issue to %q: %w", accessKeyID, ErrNoIdentity)
	}
	k := s.keys[0]
	akid, err := k.newAccessKeyID(s.opts.Rand)
	if err != nil {
		return Credentials{}, fmt.Errorf("localsession: issue: %w", err)
	}
	exp := now.Add(s.opts.TTL).UTC().Truncate(time.Second)
	token, err := k.seal(akid, &sealed{expires: exp, mode: mode, bind: k.binding(accessKeyID, id.SecretAccessKey),
		issuer: accessKeyID, bucket: bucket}, s.opts.Rand)
	if err != nil {
		return Credentials{}, fmt.Errorf("localsession: issue: %w", err)
	}
	return Credentials{AccessKeyID: akid, SecretAccessKey: k.sessionSecret(token), SessionToken: token, Expiration: exp}, nil
}

// identity is the current local credential accessKeyID, if it is one that
// sessions may be issued to (a plain key: a secret and no token of its own).
func (s *Issuer) identity(accessKeyID string) (signing.Key, bool) {
	if accessKeyID == "" {
		return signing.Key{}, false
	}
	k, ok := s.opts.Identities.LookupKey(accessKeyID)
	if !ok || k.SecretAccessKey == "" || k.SessionToken != "" {
		return signing.Key{}, false
	}
	return k, true
}

// Open authenticates a session access key id and token and checks them
// against the current Identities. It returns the session and its derived
// secret, or an error wrapping ErrUnknownKey (no key of ours made
// accessKeyID), ErrBadToken (token missing, malformed, tampered with or not
// issued with accessKeyID) or ErrRevoked. Expiry is not checked: the
// caller compares Session.Expires with its clock.
func (s *Issuer) Open(accessKeyID, token string) (*Session, string, error) {
	raw, ok := decodeAccessKeyID(accessKeyID)
	if !ok {
		return nil, "", ErrUnknownKey
	}
	var (
		key    *sealKey
		sealed *sealed
		err    = error(ErrUnknownKey)
	)
	// Keys share an id byte only by chance (1 in 256): try each that
	// vouches for the access key id.
	for _, k := range s.keys {
		if !k.checkAccessKeyID(raw) {
			continue
		}
		if sealed, err = k.open(accessKeyID, token); err == nil {
			key = k
			break
		}
	}
	if key == nil {
		return nil, "", err
	}
	id, ok := s.identity(sealed.issuer)
	if !ok {
		return nil, "", fmt.Errorf("%w: %q is not configured", ErrRevoked, sealed.issuer)
	}
	if want := key.binding(sealed.issuer, id.SecretAccessKey); subtle.ConstantTimeCompare(want[:], sealed.bind[:]) != 1 {
		return nil, "", fmt.Errorf("%w: the secret of %q changed", ErrRevoked, sealed.issuer)
	}
	sess := &Session{Principal: id.Principal, AccessKeyID: sealed.issuer, Bucket: sealed.bucket, Mode: sealed.mode, Expires: sealed.expires}
	return sess, key.sessionSecret(token), nil
}

// LookupTokenKey implements signing.TokenKeyLookup: the Key of a session
// access key id presented with token, its secret derived from the token,
// its Principal a *Session, its Expires the session's (the Verifier
// answers ExpiredToken past it). Errors wrap signing.ErrInvalidAccessKeyID
// (not a session of ours, or revoked) or signing.ErrInvalidToken.
func (s *Issuer) LookupTokenKey(accessKeyID, token string) (signing.Key, error) {
	sess, secret, err := s.Open(accessKeyID, token)
	switch {
	case errors.Is(err, ErrBadToken):
		return signing.Key{}, fmt.Errorf("%w: %w", signing.ErrInvalidToken, err)
	case err != nil:
		return signing.Key{}, fmt.Errorf("%w: %w", signing.ErrInvalidAccessKeyID, err)
	}
	return signing.Key{SecretAccessKey: secret, SessionToken: token, Expires: sess.Expires, Principal: sess}, nil
}

// LookupKey implements signing.KeyLookup so that an Issuer can be handed
// to signing.NewVerifier on its own: a session's key cannot be found
// without its token, so it finds nothing (the Verifier calls
// LookupTokenKey instead).
func (s *Issuer) LookupKey(string) (signing.Key, bool) { return signing.Key{}, false }
