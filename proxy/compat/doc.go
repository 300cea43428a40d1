// Package compat is s3xproxy's legacy-client compatibility layer: small,
// named shims that make requests from clients that know only general-purpose
// S3 acceptable to directory buckets, and handlers that answer operations
// directory buckets do not have (ListObjects V1, ListBuckets, listings with a
// prefix that does not end in "/") by translating them to ones they do.
//
// Header and body shims (VerifyContentMD5, ContentMD5, ACL,
// DeleteObjectsChecksum) are pure functions over the inbound headers and
// body (for VerifyContentMD5, the verified signing.Result); they never
// buffer a body except DeleteObjectsChecksum and CompleteMultipartETags,
// whose buffers are explicitly bounded. The ETag contract (on by default)
// is PayloadMD5 (hash an upload as it streams), MarkETag / ETagMarker (mark
// every other ETag, in headers and streamed XML), UnmarkConditions (map
// marked ETags back in conditional headers) and CompleteMultipartETags
// (map part ETags back, MD5s through ListParts). Handlers
// (Lister, ListBuckets) talk to S3 only through the Upstream interface, which
// the proxy core implements (routing and signing are not done here), and
// transform XML token by token. Errors the proxy itself answers are
// *s3err.Error values; upstream errors are copied to the client unchanged.
//
// The exact semantics offered to legacy clients (markers, continuation
// tokens, prefix filtering) are documented in docs/compat.md.
//
// This package must not import config, dial anything itself, sign requests,
// or log secrets.
package compat
