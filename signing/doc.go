// Package signing owns AWS request signatures in both directions.
//
// Outbound, it signs requests for S3 Express with session credentials (SigV4,
// service s3express, signed x-amz-s3session-token, never X-Amz-Security-Token)
// or with IAM credentials (CopyObject, UploadPartCopy, HeadBucket,
// CreateSession, control-plane calls), on top of aws-sdk-go-v2's aws/signer/v4.
//
// Inbound, it verifies what legacy and modern clients send: SigV4 header and
// presigned-query auth, SigV2 header and query auth, aws-chunked streaming
// payloads (signed chunks, signed and unsigned trailers), the declared
// x-amz-content-sha256 and Content-MD5. Bodies are wrapped, never buffered: a
// mismatch found at EOF fails the Read, so an upstream request that streams
// the body is aborted and nothing is committed. A large body's hash runs on
// a goroutine of its own, from a bounded copy of the bytes read, so that it
// overlaps with the reader's I/O (hashpipe.go).
//
// It must not know about buckets, routing, sessions caches, configuration or
// HTTP error rendering: it imports only the standard library and the SDK's
// signer and credential types. Errors are the sentinels in errors.go, which
// the proxy maps to S3 error codes.
//
// Time is always a parameter: nothing here calls time.Now.
//
// A proxy request goes: SplitRequestURI (the raw path and query both the
// proxy's addressing and Verify read), Verify (inbound auth, Result with the
// wrapped body and its upstream length), Result.SetUpstreamHeaders on the
// outbound headers (hop-by-hop headers, IsHopHeader, dropped), EncodeQuery
// for the outbound query, then SignSession or SignIAM last. The outbound signer builds the
// canonical request itself in pooled buffers with a derived-key cache; it
// produces the same signatures as the SDK's SignHTTP (held to it by a
// property test; SignerOptions.UseSDK switches to the SDK).
//
// Files: sign.go (outbound), sigv4.go (shared SigV4 primitives), encode.go
// (the request-URI split, path and query canonicalization, the outbound
// query), verify.go (dispatch, SigV4 header auth),
// presign.go, sigv2.go, chunked.go and chunkenc.go (aws-chunked decode and
// unsigned re-encode), body.go (hash and MD5 readers), hashpipe.go (hashing
// off the reading goroutine), upstream.go (the outbound payload and
// hop-by-hop headers).
package signing
