// Package localsession issues and verifies the proxy's own S3 Express
// session credentials, statelessly.
//
// A modern SDK pointed at the proxy with a "--x-s3" bucket calls
// CreateSession (GET /<bucket>?session or GET /?session) on the proxy. The
// proxy answers it itself (Issuer.ServeCreateSession): credentials bound to
// the caller's local credential, the bucket and the session mode, expiring
// after a TTL (default 5 minutes, like S3). Anonymous callers get none.
//
// Nothing is stored per session: the credentials carry it, sealed under
// keys every replica shares (Options.Keys: the first seals, all open), so a
// session works on every replica and across reloads and restarts, and SDKs,
// which keep a session until its expiry, never see it vanish. The wire:
//
//   - AccessKeyId: AccessKeyPrefix + base32(key id byte, 5 random bytes,
//     4-byte MAC): names the sealing key; garbage is InvalidAccessKeyId.
//   - SessionToken: base64url(version 1, 12-byte nonce, AES-256-GCM of
//     {expiry, mode, binding, issuing access key id, bucket}), with the
//     version and AccessKeyId as additional data. The binding is an HMAC of
//     the issuing credential's id and secret.
//   - SecretAccessKey: HMAC-SHA256 of the token under a derived key,
//     recomputed on every request, never stored.
//
// Every part of a key is an HMAC-SHA256 of it over a fixed label, so the
// cipher, MAC, secret and binding keys are independent. The Issuer is a
// signing.TokenKeyLookup: the Verifier gives it the access key id and the
// token presented, it opens the token, re-checks the issuing credential
// against the current Options.Identities (gone, or its secret changed:
// the session is dead) and returns the derived secret, the expiry (the
// Verifier answers ExpiredToken past it) and a *Session Principal, whose
// issuing identity the proxy narrows to the session's bucket and mode.
//
// Local session credentials are independent of the upstream sessions the
// proxy holds with S3: upstream credentials never leave the proxy, and a
// local session grants nothing beyond what its credential may do now.
//
// This package must not import config, perform I/O other than writing the
// CreateSession response, store anything per session, or log secrets.
package localsession
