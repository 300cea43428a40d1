package proxy

import (
	"fmt"

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
