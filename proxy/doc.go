// Package proxy is s3xproxy's inbound side: addressing (path-style and
// virtual-host), authentication and authorization of clients, routing by
// bucket to Zonal endpoints, the legacy-client compatibility shims, and the
// httputil.ReverseProxy whose RoundTripper signs last and retries once on an
// expired session. It produces S3 XML errors (through proxy/s3err) and one
// access-log record per request.
//
// Its seams for the compatibility layer and local sessions are
// Options.Shims (edit a forwarded request), Options.Handlers (answer an
// operation, by Classify's name), Options.KeyLookups (extra keys for the
// verifier) and Proxy.Upstream (send a signed request to a routed host).
//
// It must not import config: cmd maps the configuration onto Options. It
// must never dial a host that routing did not build, and never buffer a
// body beyond the bounded replay buffer.
package proxy
