package proxy

import (
	"fmt"

	"github.com/s3xproxy/s3xproxy/signing"
)

// keyring is the proxy's signing.KeyLookup: the static local credentials
// first, then the extra lookups (local sessions) in order. Immutable after
// newKeyring, so safe for concurrent use.
type keyring struct {
	static map[string]signing.Key
	extra  []signing.KeyLookup
}

var _ signing.KeyLookup = (*keyring)(nil)

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
