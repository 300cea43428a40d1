package proxy

import (
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/s3xproxy/s3xproxy/signing"
)

// inboundAuthHeaders are removed from every outbound request: the proxy
// signs with its own credentials, and nothing a client signed with may leak
// upstream (DESIGN.md step 7).
var inboundAuthHeaders = []string{
	"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-S3session-Token",
	"X-Amz-Content-Sha256", "X-Amz-Decoded-Content-Length", "X-Amz-Trailer",
	"Content-Length", "Host",
}

// hopHeaders are the hop-by-hop headers of RFC 9110 §7.6.1 (the list
// net/http/httputil uses) and the forwarding headers, removed here because
// x.req.Header replaces the header ReverseProxy already cleaned.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	// Dropped by ReverseProxy before Rewrite too: client-controlled
	// forwarding claims mean nothing to S3.
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
}

// inboundAuthParams are query parameters of SigV4 presigned URLs and SigV2
// query auth, compared case-insensitively.
var inboundAuthParams = map[string]bool{
	"x-amz-algorithm": true, "x-amz-credential": true, "x-amz-signature": true,
	"x-amz-signedheaders": true, "x-amz-date": true, "x-amz-expires": true,
	"x-amz-security-token": true, "x-amz-s3session-token": true,
	"awsaccesskeyid": true, "signature": true, "expires": true,
}

// outbound fills x.req's upstream header, query and body from the inbound
// request and the verification result.
func (p *Proxy) outbound(x *exchange, r *http.Request, query url.Values, res *signing.Result) {
	h := outboundHeader(r.Header)
	for k := range query {
		if inboundAuthParams[strings.ToLower(k)] {
			delete(query, k)
		}
	}
	x.req.Header, x.req.Query = h, query
	x.req.Body, x.req.ContentLength = res.Body, res.ContentLength
	if res.Body == nil {
		x.req.ContentLength = 0
	}
	x.req.ContentSHA256 = res.UpstreamContentSHA256
	if x.req.ContentSHA256 == "" {
		x.req.ContentSHA256 = signing.UnsignedPayload
	}
	if res.DecodedContentLength >= 0 && res.Body != nil && isStreaming(x.req.ContentSHA256) {
		h.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(res.DecodedContentLength, 10))
	}
	if res.Trailer != "" {
		h.Set("X-Amz-Trailer", res.Trailer)
	}
	fixContentEncoding(h, isStreaming(x.req.ContentSHA256))
}

// droppedHeaders is hopHeaders and inboundAuthHeaders as a set.
var droppedHeaders = func() map[string]bool {
	m := make(map[string]bool, len(hopHeaders)+len(inboundAuthHeaders))
	for _, k := range hopHeaders {
		m[k] = true
	}
	for _, k := range inboundAuthHeaders {
		m[k] = true
	}
	return m
}()

// outboundHeader returns a copy of in without droppedHeaders and the
// headers in's Connection header names (RFC 9110 §7.6.1), as Clone and a
// Del per name would, but in one pass and with only the kept values copied
// (into one backing array, as Header.Clone does). A nil value slice stays
// nil, as in Clone.
func outboundHeader(in http.Header) http.Header {
	var conn []string // canonical names listed in Connection
	for _, c := range in["Connection"] {
		for _, f := range strings.Split(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				conn = append(conn, http.CanonicalHeaderKey(f))
			}
		}
	}
	drop := func(k string) bool { return droppedHeaders[k] || slices.Contains(conn, k) }
	keys, values := 0, 0
	for k, vs := range in {
		if !drop(k) {
			keys++
			values += len(vs)
		}
	}
	h := make(http.Header, keys)
	sv := make([]string, values)
	for k, vs := range in {
		switch {
		case drop(k):
		case vs == nil:
			h[k] = nil
		default:
			n := copy(sv, vs)
			h[k] = sv[:n:n]
			sv = sv[n:]
		}
	}
	return h
}

func isStreaming(sha string) bool { return strings.HasPrefix(sha, "STREAMING-") }

// fixContentEncoding keeps "aws-chunked" in Content-Encoding exactly when
// the upstream body is aws-chunked.
func fixContentEncoding(h http.Header, chunked bool) {
	var out []string
	for _, v := range h.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if e != "" && !strings.EqualFold(e, "aws-chunked") {
				out = append(out, e)
			}
		}
	}
	if chunked {
		out = append([]string{"aws-chunked"}, out...)
	}
	if len(out) == 0 {
		h.Del("Content-Encoding")
		return
	}
	h.Set("Content-Encoding", strings.Join(out, ","))
}

// rewrite is the ReverseProxy Rewrite hook: it points the outbound request
// at the routed host, with the encoded key as RawPath and the canonical
// query, and replaces the header and body with x.req's. x.req.Header,
// complete here, is saved as the call's unsigned header (a retry re-signs
// from it); the outbound request gets a map of its own, the one signing
// writes to. Signing happens later, in the transport.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	out := pr.Out
	// out.URL and out.Header are ReverseProxy's fresh copies of the inbound
	// URL and header, which are never sent: they are reused rather than a
	// new URL and map allocated per request.
	*out.URL = upstreamURL(x.call.target.URL.Scheme, x.call.target.Host, x.req.Key, x.req.Query)
	out.Host = out.URL.Host
	h := x.req.Header
	// Both values from one allocation, capacity-limited; the names are
	// canonical, so this is what Header.Set does.
	v := []string{x.req.ContentSHA256, ""}
	h[signing.HeaderContentSHA256] = v[0:1:1]
	if _, ok := h["User-Agent"]; !ok {
		// What ReverseProxy does after this hook (no Go default
		// User-Agent), done here so the saved header has it too.
		h["User-Agent"] = v[1:2:2]
	}
	x.call.header = h
	clear(out.Header)
	maps.Copy(out.Header, h) // value slices shared: see signingTransport.RoundTrip
	out.Body, out.ContentLength = x.req.Body, x.req.ContentLength
	if out.Body == nil || out.ContentLength == 0 {
		out.Body, out.ContentLength = nil, 0
	}
	out.GetBody = nil
	out.TransferEncoding = nil
	out.Close = false
}

// upstreamURL builds scheme://host/<EncodePath(key)>?<canonical query>.
// Path holds the decoded key and RawPath its S3 encoding, so what goes on
// the wire is exactly what was signed.
func upstreamURL(scheme, host, key string, q url.Values) url.URL {
	p := "/" + key
	return url.URL{Scheme: scheme, Host: host, Path: p, RawPath: signing.EncodePath(p), RawQuery: canonicalQuery(q)}
}

// canonicalQuery encodes q sorted by name then value, names and values
// escaped as in SigV4 (RFC 3986 unreserved kept, %XX upper-case); an empty
// value is written as the bare name ("?uploads").
func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escapeQuery(k))
			if v != "" {
				b.WriteByte('=')
				b.WriteString(escapeQuery(v))
			}
		}
	}
	return b.String()
}

// escapeQuery percent-encodes every byte but the RFC 3986 unreserved ones.
func escapeQuery(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
