// Package session owns upstream S3 Express session credentials: the
// CreateSession client (HTTPCreator) and the cache in front of it (Cache).
//
// The cache is keyed by (upstream identity, bucket, mode). It runs at most one
// CreateSession per key at a time (singleflight), refreshes keys in use in
// the background ahead of expiry on a detached context with its own timeout,
// stops handing out a session a few seconds before it expires, ages out
// idle keys, is bounded (LRU), passes every CreateSession through a token
// bucket per client and then a global one (golang.org/x/time/rate,
// admission.go), remembers answers that say a bucket cannot be used in a
// bounded negative cache (negative.go) and caches other failures briefly.
// The client is an opaque name the caller passes to GetFor; it is never
// part of the key, so sessions are shared across clients.
//
// It must not know about inbound clients, routing or configuration files: it
// talks to S3 through the one-method Creator interface, so tests can use a
// fake or the emulator. Time comes from Options.Now (HTTPCreator.Now). It
// never logs, and its errors never carry secrets or session tokens.
package session
