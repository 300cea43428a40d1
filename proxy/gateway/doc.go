// Package gateway owns s3xproxy's network edge: the plain HTTP and HTTPS
// listeners (TLS from files, self-signed, or ACME through certmagic with an
// on-demand decision supplied by the caller), the admin listener (/healthz,
// /readyz, /metrics, POST /-/reload, optional /debug/pprof), the atomic
// swap of the request handler on reload, and graceful shutdown.
//
// It must not import config, parse YAML, or decide which buckets exist: cmd
// maps the configuration onto Options and passes the on-demand decision and
// the readiness check as functions. It never exits the process.
package gateway
