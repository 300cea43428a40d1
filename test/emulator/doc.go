// Package emulator is a strict, in-process emulator of an Amazon S3 Express
// One Zone endpoint: Zonal hosts (<bucket>.s3express-<zone>.<region>.amazonaws.com,
// virtual-hosted only), the regional control host
// (s3express-control.<region>.amazonaws.com, path-style only) and plain
// general-purpose S3 hosts (s3.<region>.amazonaws.com, <bucket>.s3.<region>.amazonaws.com).
//
// It owns: request routing by Host, an independent SigV4 verifier (header and
// presigned query, aws-chunked signed and unsigned payloads, trailers), the
// CreateSession / session-token rules, object, multipart and listing
// operations over memory, disk or discard storage, checksum verification, an
// admin API (stats, session expiry, fault injection) and a TLS CA that issues
// a certificate for any SNI name.
//
// It must not import this repository's signing, session or proxy packages:
// it is the oracle those packages are tested against, so every signature is
// rebuilt here from the bytes received. It is strict where S3 is strict and
// answers every error as S3 XML with x-amz-request-id and x-amz-id-2.
// docs/emulator.md lists what it emulates and its known gaps.
package emulator
