package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3xproxy/s3xproxy/proxy/route"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
)

// maxErrorPeek bounds how much of an upstream error body is read to find
// its S3 error code.
const maxErrorPeek = 16 << 10

// signingTransport signs every outbound request last, after all header
// edits, and retries it once (DESIGN.md step 10) when the session it was
// signed with turns out to be expired or invalid, or when the dial failed,
// provided the body can be replayed.
type signingTransport struct {
	p      *Proxy
	base   http.RoundTripper
	lastID atomic.Pointer[[2]string] // last upstream key id and its identityHash
}

var _ http.RoundTripper = (*signingTransport)(nil)

// RoundTrip implements http.RoundTripper. The request's context must carry
// a *call (the route target, upstream auth and session mode).
//
// Unlike a general RoundTripper, it modifies req: the first attempt signs
// req itself, which is always a request of the proxy's own making
// (ReverseProxy's outbound copy, or the one Proxy.Upstream was handed), so
// no per-request copy of the request, its URL and its header is needed. A
// retry signs a fresh copy of req whose header is a copy of c.header, the
// unsigned header saved before the first attempt (the Rewrite hook sets it;
// when it is nil, RoundTrip copies req.Header first). The signer only ever
// replaces a header's value slice, never writes into one, so c.header may
// share value slices with req.Header.
func (t *signingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := callFrom(req.Context())
	if c == nil {
		return nil, errors.New("proxy: outbound request without a call")
	}
	start := t.p.now()
	defer func() { c.upstream = t.p.now().Sub(start) }()

	saved := c.header
	if saved == nil {
		saved = req.Header.Clone()
	}
	body := newReplayBody(req.Body, req.ContentLength, c, t.p.replay)
	if body != nil {
		req.Body = body
	}
	// Every path returns the replay buffer and its budget here, once (a
	// retry's buffered bytes have normally been sent when its answer is
	// back; an early answer leaves them to the garbage collector).
	defer body.release()
	resp, used, err := t.attempt(req, c)
	if !t.shouldRetry(c, resp, err) {
		return resp, err
	}
	replay, ok := body.detach()
	if !ok {
		return resp, err
	}
	if resp != nil { // the peeked error is discarded: we answer with the retry
		resp.Body.Close()
		if c.auth == SignSession {
			t.p.cache.Invalidate(used.key, used.creds)
		}
	}
	c.retried = true
	// A copy, not req: the first attempt's transport may still read req.
	retry := req.Clone(req.Context())
	retry.Header = saved.Clone()
	retry.Body = replay
	resp, _, err = t.attempt(retry, c)
	return resp, err
}

// usedSession is the session an attempt was signed with.
type usedSession struct {
	key   session.Key
	creds session.Credentials
}

// attempt signs req with the credentials its call needs and sends it. The
// S3 error code of an error response is peeked (see peekErrorCode).
func (t *signingTransport) attempt(req *http.Request, c *call) (*http.Response, usedSession, error) {
	used, err := t.sign(req, c)
	if err != nil { // SlowDown, CreateSession refusals, ...: classify maps them
		c.signErr = err
		c.clockSkew = isUpstreamClockSkew(err)
		return nil, used, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, used, err
	}
	c.errorCode = ""
	if resp.StatusCode >= 400 && req.Method != http.MethodHead {
		c.errorCode = peekErrorCode(resp)
		c.clockSkew = c.clockSkew || resp.StatusCode == http.StatusForbidden && c.errorCode == codeClockSkew
	}
	return resp, used, nil
}

// sign signs req for c: with a cached session, or with the IAM credentials.
func (t *signingTransport) sign(req *http.Request, c *call) (usedSession, error) {
	var used usedSession
	iam, err := t.p.creds.Retrieve(req.Context())
	if err != nil {
		return used, fmt.Errorf("proxy: upstream credentials: %w", err)
	}
	if c.auth == SignIAM {
		return used, t.p.signer.SignIAM(req, iam, signing.ServiceS3Express, c.target.Region, t.p.now())
	}
	used.key = session.Key{Identity: t.identity(iam.AccessKeyID), Bucket: c.target.Bucket, Mode: c.mode}
	sc, status, err := t.p.cache.GetFor(req.Context(), used.key, c.client)
	if c.session == "" || status != session.Hit {
		c.session = status
	}
	if err != nil {
		return used, err
	}
	used.creds = sc
	ac := aws.Credentials{AccessKeyID: sc.AccessKeyID, SecretAccessKey: sc.SecretAccessKey, SessionToken: sc.SessionToken}
	return used, t.p.signer.SignSession(req, ac, c.target.Region, t.p.now())
}

// admissionClient names cred's local identity (nil: anonymous) for the
// session cache's per-client CreateSession budget. A local session's
// credential is a narrowed copy of its owner's, with the owner's access
// key id, so the sessions an identity mints share its budget; every
// anonymous request shares one ("").
func admissionClient(cred *Credential) string {
	if cred == nil {
		return ""
	}
	return cred.AccessKeyID
}

// identity returns identityHash(accessKeyID), remembering the last one:
// the upstream key changes only on rotation.
func (t *signingTransport) identity(accessKeyID string) string {
	if last := t.lastID.Load(); last != nil && last[0] == accessKeyID {
		return last[1]
	}
	h := identityHash(accessKeyID)
	t.lastID.Store(&[2]string{accessKeyID, h})
	return h
}

// identityHash names an upstream IAM identity in session keys without
// keeping the key id itself.
func identityHash(accessKeyID string) string {
	sum := sha256.Sum256([]byte(accessKeyID))
	return hex.EncodeToString(sum[:8])
}

// shouldRetry reports whether the outcome of the first attempt is one the
// proxy retries: a dial failure, or a session-signed request answered
// ExpiredToken / InvalidToken. A HEAD answer has no body to name its code,
// so a session-signed HEAD answered a bare 400 (S3's status for both) is
// retried too: it costs at most one CreateSession per session, shared by
// concurrent failures (Cache.Invalidate compares the credentials).
func (t *signingTransport) shouldRetry(c *call, resp *http.Response, err error) bool {
	if err != nil {
		var op *net.OpError
		return errors.As(err, &op) && op.Op == "dial"
	}
	if c.auth != SignSession {
		return false
	}
	code := c.errorCode
	switch resp.StatusCode {
	case http.StatusBadRequest:
		if resp.Request != nil && resp.Request.Method == http.MethodHead {
			return code == ""
		}
		return code == "ExpiredToken" || code == "InvalidToken"
	case http.StatusForbidden:
		return code == "InvalidToken"
	}
	return false
}

// peekErrorCode reads the start of an error body, returns its <Code> and
// puts the bytes back in front of the rest of the body, so the client still
// gets the body unchanged.
func peekErrorCode(resp *http.Response) string {
	buf := make([]byte, maxErrorPeek)
	n, _ := io.ReadFull(resp.Body, buf)
	buf = buf[:n]
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	return xmlCode(buf)
}

// xmlCode extracts the text of the first <Code> element.
func xmlCode(b []byte) string {
	i := bytes.Index(b, []byte("<Code>"))
	if i < 0 {
		return ""
	}
	rest := b[i+len("<Code>"):]
	j := bytes.Index(rest, []byte("</Code>"))
	if j < 0 || j > 128 {
		return ""
	}
	return string(bytes.TrimSpace(rest[:j]))
}

// UpstreamTarget is where and how Proxy.Upstream sends a request.
type UpstreamTarget struct {
	// Target is a Target from Router().Resolve, or Router().Control(region)
	// for the control endpoint.
	Target route.Target
	// Auth signs the request; SignIAM whatever its value for the control
	// endpoint or under SessionModeIAM.
	Auth UpstreamAuth
	// Mode is the session mode for SignSession.
	Mode session.Mode
}

// Upstream sends req, built by a Handler or shim, to to.Target, signed
// with to.Auth and, for session auth, a session of to.Mode. It goes
// through the same signing transport as forwarded requests, so it is signed
// last and retried once under the same rules. req.URL.Path is the decoded
// path on that host ("/<key>" on a Zonal host, "/<bucket>..." on the
// control endpoint) and req.URL.RawQuery its query; scheme, host, RawPath
// and the query encoding are set here, so only routed hosts are dialled.
// req is modified. The caller closes the response body. Called with the
// context of Request.In, the call's latency, session status and retry go
// into that request's access-log record.
func (p *Proxy) Upstream(ctx context.Context, req *http.Request, to UpstreamTarget) (*http.Response, error) {
	target := to.Target
	c := &call{target: target, auth: to.Auth, mode: to.Mode}
	x := exchangeFrom(ctx)
	if x != nil {
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
	if x != nil { // a handler's call: into its record
		x.call.upstream += c.upstream
		x.call.retried = x.call.retried || c.retried
		x.call.clockSkew = x.call.clockSkew || c.clockSkew
		if x.call.session == "" || c.session == session.Miss {
			x.call.session = c.session
		}
		if c.errorCode != "" {
			x.rec.ErrorCode = c.errorCode
		}
	}
	if err == nil {
		if skew := clockSkewAnswer(c, resp); skew != nil {
			resp.Body.Close()
			return nil, skew
		}
	}
	return resp, err
}

// Router returns the proxy's router (for handlers that resolve buckets).
func (p *Proxy) Router() *route.Router { return p.router }

// sessionMode is the session mode for an identity with access a, under
// Options.SessionMode.
func (p *Proxy) sessionMode(a Access) session.Mode {
	if a == AccessRead && p.opts.SessionMode == SessionModeAuto {
		return session.ReadOnly
	}
	return session.ReadWrite
}

// sessionEndpoint resolves a real bucket name for CreateSession.
func (p *Proxy) sessionEndpoint(bucket string) (session.Endpoint, error) {
	t, err := p.router.Resolve(bucket)
	if err != nil {
		return session.Endpoint{}, err
	}
	return session.Endpoint{URL: t.URL, Region: t.Region}, nil
}
