package main

import (
	"crypto/rand"

	"github.com/rs/zerolog"

	"github.com/s3xproxy/s3xproxy/config"
)

// sessionKeys returns the keys that seal local S3 Express sessions:
// configured, the configured ones; else one random key made the first
// time it is needed and kept for the life of the process, so a reload
// keeps the sessions issued before it. Once such a key exists it stays
// last in the list (it opens, never seals) when a reload brings configured
// keys, so the sessions it sealed live until they expire: SDKs do not
// recreate a session on InvalidAccessKeyId. Without configured keys a
// warning says what that costs; the deprecated auth.local_session_ttl is
// warned about too.
func (a *app) sessionKeys(cfg *config.Config, configured [][]byte, log zerolog.Logger) [][]byte {
	if cfg.Auth.LocalSessionTTL != 0 {
		log.Warn().Msg("auth.local_session_ttl is deprecated: write auth.local_sessions.ttl")
	}
	if len(configured) > 0 {
		if a.ephemeralKey != nil {
			return append(configured[:len(configured):len(configured)], a.ephemeralKey)
		}
		return configured
	}
	a.ephemeralKeyOnce.Do(func() {
		a.ephemeralKey = make([]byte, config.MinSessionKeyLen)
		rand.Read(a.ephemeralKey) // never fails (crypto/rand, Go 1.24+)
	})
	log.Warn().Msg("auth.local_sessions.keys is not set: local S3 Express sessions are sealed with a random key made at start, " +
		"so they are valid only on this replica and end with this process (SDKs keep using a session until it expires). " +
		"Give every replica the same keys (openssl rand -base64 32), see docs/compat.md")
	return [][]byte{a.ephemeralKey}
}
