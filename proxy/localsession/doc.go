// Package localsession issues and remembers the proxy's own S3 Express
// session credentials.
//
// A modern SDK pointed at the proxy with a "--x-s3" bucket calls
// CreateSession (GET /<bucket>?session or GET /?session) on the proxy. The
// proxy answers it itself from a Store: fresh random credentials bound to the
// caller's local identity, the bucket and the session mode, expiring after a
// TTL (default 5 minutes, like S3). The Store is a signing.KeyLookup, so the
// same Verifier that checks local IAM-style keys also verifies requests
// signed with these session keys and their x-amz-s3session-token.
//
// Local session credentials are independent of the upstream sessions the
// proxy holds with S3: upstream credentials never leave the proxy, and a
// local session grants nothing by itself beyond what Check allows.
//
// This package must not import config, perform I/O other than writing the
// CreateSession response, or log secrets.
package localsession
