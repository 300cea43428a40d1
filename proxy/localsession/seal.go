package localsession

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// This file holds the wire form of a local session: the access key id, the
// sealed session token and the derived secret (see doc.go for the layout and
// why it is shaped this way).

// MinKeyLen is the shortest sealing key accepted, in bytes.
const MinKeyLen = 32

// Lengths of the wire forms.
const (
	tokenVersion  = 1
	nonceLen      = 12 // AES-GCM standard nonce
	tagLen        = 16
	bindLen       = 16 // truncated HMAC of the issuing credential
	akidRandLen   = 5
	akidMACLen    = 4
	akidRawLen    = 1 + akidRandLen + akidMACLen // key id, random, MAC: 16 base32 chars
	secretRawLen  = 30                           // 40 base64 characters, like an AWS secret
	maxTokenChars = 1024                         // longer than any token Issue makes
	maxNameLen    = 255                          // one length byte
)

// akidEncoding writes access key ids in upper-case base32, as AWS ids look.
var akidEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// tokenEncoding is strict so that one token has exactly one spelling.
var tokenEncoding = base64.RawURLEncoding.Strict()

// Errors of opening a session, wrapped by Issuer.LookupTokenKey in the
// signing sentinels the proxy maps to S3 codes.
var (
	// ErrUnknownKey: the access key id is not one this proxy's keys made.
	ErrUnknownKey = errors.New("localsession: unknown session access key id")
	// ErrBadToken: the session token is missing, malformed, tampered with,
	// sealed under an unknown key or issued with another access key id.
	ErrBadToken = errors.New("localsession: invalid session token")
	// ErrRevoked: the credential the session was issued to is no longer
	// configured, or its secret changed.
	ErrRevoked = errors.New("localsession: issuing credential revoked or changed")
)

// sealKey is what one configured key is expanded into, each part an
// HMAC-SHA256 of the key over a fixed label (a key-derivation step in the
// style of HKDF-Expand, RFC 5869), so that no two uses share a key.
type sealKey struct {
	id     byte        // first byte of every access key id it issues
	aead   cipher.AEAD // AES-256-GCM over the token
	akid   []byte      // MAC key of the access key id
	secret []byte      // derives the session secret from the token
	bind   []byte      // MACs the issuing credential's id and secret
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("s3xproxy localsession v1 " + label))
	return m.Sum(nil)
}

func newSealKey(key []byte) (*sealKey, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("localsession: key of %d bytes, want at least %d", len(key), MinKeyLen)
	}
	block, err := aes.NewCipher(derive(key, "seal"))
	if err != nil {
		return nil, fmt.Errorf("localsession: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("localsession: %w", err)
	}
	return &sealKey{
		id: derive(key, "id")[0], aead: aead,
		akid: derive(key, "access key id"), secret: derive(key, "secret"), bind: derive(key, "binding"),
	}, nil
}

// sealed is the plaintext of a token.
type sealed struct {
	expires time.Time // whole seconds
	mode    Mode
	bind    [bindLen]byte
	issuer  string // the local access key id the session was issued to
	bucket  string // the real bucket name
}

// binding MACs a credential's id and secret, so that a session dies when
// its credential is removed or its secret rotated.
func (k *sealKey) binding(accessKeyID, secret string) [bindLen]byte {
	m := hmac.New(sha256.New, k.bind)
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(accessKeyID)))
	m.Write(n[:])
	m.Write([]byte(accessKeyID))
	m.Write([]byte(secret))
	var out [bindLen]byte
	copy(out[:], m.Sum(nil))
	return out
}

// newAccessKeyID makes AccessKeyPrefix + base32(id, 5 random bytes, MAC).
func (k *sealKey) newAccessKeyID(rnd io.Reader) (string, error) {
	var raw [akidRawLen]byte
	raw[0] = k.id
	if _, err := io.ReadFull(rnd, raw[1:1+akidRandLen]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	k.akidMAC(raw[:1+akidRandLen], raw[1+akidRandLen:])
	return AccessKeyPrefix + akidEncoding.EncodeToString(raw[:]), nil
}

func (k *sealKey) akidMAC(msg, out []byte) {
	m := hmac.New(sha256.New, k.akid)
	m.Write(msg)
	copy(out, m.Sum(nil))
}

// decodeAccessKeyID returns the raw bytes of a well-formed session access
// key id (16 base32 characters carry exactly 10 bytes: one spelling each;
// the length check also refuses the CR and LF the decoder would skip).
func decodeAccessKeyID(akid string) ([akidRawLen]byte, bool) {
	var raw [akidRawLen]byte
	rest, ok := strings.CutPrefix(akid, AccessKeyPrefix)
	if !ok || len(rest) != akidEncoding.EncodedLen(akidRawLen) {
		return raw, false
	}
	n, err := akidEncoding.Decode(raw[:], []byte(rest))
	return raw, err == nil && n == akidRawLen
}

// checkAccessKeyID reports whether k made akid (raw its decoded form).
func (k *sealKey) checkAccessKeyID(raw [akidRawLen]byte) bool {
	if raw[0] != k.id {
		return false
	}
	var mac [akidMACLen]byte
	k.akidMAC(raw[:1+akidRandLen], mac[:])
	return subtle.ConstantTimeCompare(mac[:], raw[1+akidRandLen:]) == 1
}

// seal makes the token for s, bound to akid (authenticated data).
func (k *sealKey) seal(akid string, s *sealed, rnd io.Reader) (string, error) {
	if len(s.issuer) > maxNameLen || len(s.bucket) > maxNameLen {
		return "", errors.New("access key id or bucket longer than 255 bytes")
	}
	pt := s.appendPlaintext(make([]byte, 0, 8+1+bindLen+2+len(s.issuer)+len(s.bucket)))
	out := make([]byte, 1+nonceLen, 1+nonceLen+len(pt)+tagLen)
	out[0] = tokenVersion
	if _, err := io.ReadFull(rnd, out[1:1+nonceLen]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	out = k.aead.Seal(out, out[1:1+nonceLen], pt, additionalData(out[0], akid))
	return tokenEncoding.EncodeToString(out), nil
}

// appendPlaintext appends the token plaintext of s (parseSealed reads it):
// expiry (unix seconds, 8 bytes big-endian), mode ('R' or 'W'), binding,
// then the issuing access key id and the bucket, each after a length byte.
func (s *sealed) appendPlaintext(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(s.expires.Unix()))
	b = append(b, modeByte(s.mode))
	b = append(b, s.bind[:]...)
	b = append(b, byte(len(s.issuer)))
	b = append(b, s.issuer...)
	b = append(b, byte(len(s.bucket)))
	return append(b, s.bucket...)
}

// additionalData binds a token to its version and access key id.
func additionalData(version byte, akid string) []byte {
	return append([]byte{version}, akid...)
}

// open authenticates and decodes token, sealed by k for akid. Every
// failure is ErrBadToken.
func (k *sealKey) open(akid, token string) (*sealed, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", ErrBadToken)
	}
	if len(token) > maxTokenChars {
		return nil, fmt.Errorf("%w: %d characters", ErrBadToken, len(token))
	}
	raw, err := tokenEncoding.DecodeString(token)
	if err != nil || !isBase64URL(token) { // the decoder skips CR and LF
		return nil, fmt.Errorf("%w: not base64url", ErrBadToken)
	}
	if len(raw) < 1+nonceLen+tagLen || raw[0] != tokenVersion {
		return nil, fmt.Errorf("%w: unknown format", ErrBadToken)
	}
	pt, err := k.aead.Open(nil, raw[1:1+nonceLen], raw[1+nonceLen:], additionalData(raw[0], akid))
	if err != nil {
		return nil, fmt.Errorf("%w: does not open", ErrBadToken)
	}
	s, ok := parseSealed(pt)
	if !ok { // authentic but unparsable: only a bug in seal could do this
		return nil, fmt.Errorf("%w: bad plaintext", ErrBadToken)
	}
	return s, nil
}

// parseSealed decodes the plaintext seal wrote, strictly.
func parseSealed(pt []byte) (*sealed, bool) {
	var s sealed
	if len(pt) < 8+1+bindLen+2 {
		return nil, false
	}
	exp := binary.BigEndian.Uint64(pt)
	if exp > 1<<40 { // year 36812: no token of ours
		return nil, false
	}
	s.expires = time.Unix(int64(exp), 0).UTC()
	switch pt[8] {
	case 'R':
		s.mode = ReadOnly
	case 'W':
		s.mode = ReadWrite
	default:
		return nil, false
	}
	copy(s.bind[:], pt[9:9+bindLen])
	rest := pt[9+bindLen:]
	var ok bool
	if s.issuer, rest, ok = cutName(rest); !ok || s.issuer == "" {
		return nil, false
	}
	if s.bucket, rest, ok = cutName(rest); !ok || s.bucket == "" || len(rest) != 0 {
		return nil, false
	}
	return &s, true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func cutName(b []byte) (string, []byte, bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

func modeByte(m Mode) byte {
	if m == ReadWrite {
		return 'W'
	}
	return 'R'
}

// sessionSecret derives the session's secret access key from its token:
// HMAC-SHA256 under the key's secret part, the first 30 bytes in base64
// (40 characters, like an AWS secret). It is never stored.
func (k *sealKey) sessionSecret(token string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(token))
	return base64.StdEncoding.EncodeToString(m.Sum(nil)[:secretRawLen])
}
