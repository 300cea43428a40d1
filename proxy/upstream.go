package proxy

import (
	"context"
	"net/http"

	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
)

// Upstream sends req, built by a Handler or shim, to target (a Target from
// Router().Resolve, or Router().Control(region) for the control endpoint),
// signed with auth and, for session auth, a session of mode. It goes
// through the same signing transport as forwarded requests, so it is signed
// last and retried once under the same rules. req.URL.Path is the decoded
// path on that host ("/<key>" on a Zonal host, "/<bucket>..." on the
// control endpoint) and req.URL.RawQuery its query; scheme, host, RawPath
// and the query encoding are set here, so only routed hosts are dialled.
// req is modified. The caller closes the response body. Called with the
// context of Request.In, the call's latency, session status and retry go
// into that request's access-log record.
func (p *Proxy) Upstream(ctx context.Context, target route.Target, req *http.Request, auth UpstreamAuth, mode session.Mode) (*http.Response, error) {
	c := &call{target: target, auth: auth, mode: mode}
	if x := exchangeFrom(ctx); x != nil {
		c.client = x.call.client
	}
	if p.opts.SessionMode == SessionModeIAM || target.Bucket == "" {
		c.auth = SignIAM
	}
	key := req.URL.Path
	if len(key) > 0 && key[0] == '/' {
		key = key[1:]
	}
	u := upstreamURL(target.URL.Scheme, target.Host, key, req.URL.Query())
	req.URL, req.Host = &u, u.Host
	req.Header.Del("Authorization")
	if req.Header.Get("X-Amz-Content-Sha256") == "" {
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	}
	resp, err := p.transport.RoundTrip(req.WithContext(withCall(ctx, c)))
	if x := exchangeFrom(ctx); x != nil { // a handler's call: into its record
		x.call.upstream += c.upstream
		x.call.retried = x.call.retried || c.retried
		if x.call.session == "" || c.session == session.Miss {
			x.call.session = c.session
		}
		if c.errorCode != "" {
			x.rec.ErrorCode = c.errorCode
		}
	}
	return resp, err
}

// Router returns the proxy's router (for handlers that resolve buckets).
func (p *Proxy) Router() *route.Router { return p.router }
