// Package gateway owns s3xproxy's network edge: the plain HTTP and HTTPS
// listeners (TLS from files, self-signed, or ACME through certmagic with an
// on-demand decision supplied by the caller), the admin listener (/healthz,
// /readyz, /metrics, POST /-/reload, optional /debug/pprof), the atomic
// swap of the request handler on reload, and graceful shutdown.
//
// It must not import config, parse YAML, or decide which buckets exist: cmd
// maps the configuration onto Options and passes the on-demand decision and
// the readiness check as functions. It never exits the process.
//
// It lives under proxy/ because it is the proxy's network edge and the
// repository's top level is fixed (DESIGN.md "Layout"), yet it imports
// nothing of the request pipeline: it serves any http.Handler, so the
// pipeline and the listeners can change and be tested apart. Its one import
// from proxy is proxy/s3err, so that its own refusals (503 SlowDown over the
// connection and in-flight caps) are the S3 XML every client parses
// (test/layout checks both).
package gateway
