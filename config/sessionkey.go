package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MinSessionKeyLen is the shortest auth.local_sessions.keys entry, in
// decoded bytes (an AES-256 key's worth).
const MinSessionKeyLen = 32

// ParseSessionKey decodes one auth.local_sessions.keys entry: hex when
// the whole string is hex digits, else base64 (standard or URL alphabet,
// padded or not), at least MinSessionKeyLen bytes. Surrounding spaces are
// ignored. Errors never contain the key.
func ParseSessionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if isHexString(s) { // a string of hex digits is hex, never base64
		b, err := hex.DecodeString(s)
		switch {
		case err != nil:
			return nil, errors.New("odd number of hex digits")
		case len(b) < MinSessionKeyLen:
			return nil, fmt.Errorf("decodes to %d bytes, want at least %d (openssl rand -base64 32)", len(b), MinSessionKeyLen)
		}
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < MinSessionKeyLen {
				return nil, fmt.Errorf("decodes to %d bytes, want at least %d (openssl rand -base64 32)", len(b), MinSessionKeyLen)
			}
			return b, nil
		}
	}
	return nil, errors.New("must be base64 or hex of at least 32 random bytes (openssl rand -base64 32)")
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// SessionKeys decodes auth.local_sessions.keys (validated by Parse).
func (l LocalSessions) SessionKeys() ([][]byte, error) {
	out := make([][]byte, 0, len(l.Keys))
	for i, k := range l.Keys {
		b, err := ParseSessionKey(k)
		if err != nil {
			return nil, fmt.Errorf("auth.local_sessions.keys[%d]: %w", i, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// localSessions validates auth.local_sessions and its deprecated
// auth.local_session_ttl: every key decodes, no key twice, a positive TTL
// written one way only.
func (v *validator) localSessions(a *Auth) {
	seen := map[string]int{}
	for i, k := range a.LocalSessions.Keys {
		p := fmt.Sprintf("auth.local_sessions.keys[%d]", i)
		b, err := ParseSessionKey(k)
		if err != nil {
			v.errorf(p, "%v", err)
			continue
		}
		if j, dup := seen[string(b)]; dup {
			v.errorf(p, "the same key as auth.local_sessions.keys[%d]", j)
			continue
		}
		seen[string(b)] = i
	}
	old := v.d.set["auth.local_session_ttl"]
	switch {
	case old && v.d.set["auth.local_sessions.ttl"]:
		v.errorf("auth.local_session_ttl", "deprecated spelling of auth.local_sessions.ttl, which is set too: keep only auth.local_sessions.ttl")
	case old:
		v.positive("auth.local_session_ttl", a.LocalSessions.TTL)
	default:
		v.positive("auth.local_sessions.ttl", a.LocalSessions.TTL)
	}
}
