package proxy

import (
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
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

// forwardingHeaders are dropped by ReverseProxy before Rewrite, and again
// here because x.req.Header replaces the header ReverseProxy cleaned:
// client-controlled forwarding claims mean nothing to S3.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// inboundAuthParams are query parameters of SigV4 presigned URLs and SigV2
// query auth, compared case-insensitively.
var inboundAuthParams = map[string]bool{
	"x-amz-algorithm": true, "x-amz-credential": true, "x-amz-signature": true,
	"x-amz-signedheaders": true, "x-amz-date": true, "x-amz-expires": true,
	"x-amz-security-token": true, "x-amz-s3session-token": true,
	"awsaccesskeyid": true, "signature": true, "expires": true,
}

// outbound fills x.req's upstream header, query and body from the inbound
// request and the verification result: list parameters S3 reads alike
// empty or absent dropped (normalizeListQuery), inbound auth removed, the
// copy source as checkCopySource resolved it, the payload headers from
// res (signing.Result.SetUpstreamHeaders).
func (p *Proxy) outbound(x *exchange, r *http.Request, query url.Values, res *signing.Result) {
	normalizeListQuery(x.req.Op.Name, query)
	h := outboundHeader(r.Header)
	if _, ok := h["X-Amz-Copy-Source"]; ok && x.copySource != "" {
		h.Set("X-Amz-Copy-Source", x.copySource)
	}
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
	res.SetUpstreamHeaders(h)
	// The header itself is set last, in rewrite, from this field a shim
	// may change.
	x.req.ContentSHA256 = res.UpstreamContentSHA256
	if x.req.ContentSHA256 == "" {
		x.req.ContentSHA256 = signing.UnsignedPayload
	}
}

// droppedHeaders is forwardingHeaders and inboundAuthHeaders as a set.
var droppedHeaders = func() map[string]bool {
	m := make(map[string]bool, len(forwardingHeaders)+len(inboundAuthHeaders))
	for _, k := range forwardingHeaders {
		m[k] = true
	}
	for _, k := range inboundAuthHeaders {
		m[k] = true
	}
	return m
}()

// outboundHeader returns a copy of in without the hop-by-hop headers
// (signing.IsHopHeader), droppedHeaders and the headers in's Connection
// header names (RFC 9110 §7.6.1), as Clone and a
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
	drop := func(k string) bool { return signing.IsHopHeader(k) || droppedHeaders[k] || slices.Contains(conn, k) }
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

// upstreamURL builds scheme://host/<EncodePath(key)>?<EncodeQuery(q)>.
// Path holds the decoded key and RawPath its S3 encoding, so what goes on
// the wire is exactly what was signed.
func upstreamURL(scheme, host, key string, q url.Values) url.URL {
	p := "/" + key
	return url.URL{Scheme: scheme, Host: host, Path: p, RawPath: signing.EncodePath(p), RawQuery: signing.EncodeQuery(q)}
}

// emptyAsAbsent lists, per listing operation, the query parameters that S3
// treats alike whether they are absent or present with an empty value, and
// that the proxy therefore drops when empty. Clients send them empty:
// minio-go's recursive listing sends "delimiter=" and "prefix=", the AWS
// SDK for Go v1 "marker=". Directory buckets refuse a
// delimiter other than "/", the empty one included ("Delimiter must be "/"
// for directory buckets"), and do not support start-after, so forwarding them
// would fail listings that mean "no delimiter" and "from the start".
//
// The list is kept to parameters whose empty value can mean nothing else
// (S3's ListObjectsV2 and ListObjects API references: an empty prefix
// matches every key, an empty delimiter groups nothing, an empty marker or
// start-after starts at the beginning). encoding-type, max-keys,
// continuation-token and fetch-owner are forwarded as sent: S3 validates
// them, and an empty continuation-token is an error rather than "first
// page" (docs/compat.md).
var emptyAsAbsent = map[string][]string{
	"ListObjects":          {"delimiter", "prefix", "marker"},
	"ListObjectsV2":        {"delimiter", "prefix", "start-after"},
	"ListMultipartUploads": {"delimiter", "prefix"},
}

// normalizeListQuery removes from q, the parsed inbound query of operation
// op, the parameters of emptyAsAbsent whose every value is empty. It runs
// after the signature was checked over the query as sent.
func normalizeListQuery(op string, q url.Values) {
	for _, name := range emptyAsAbsent[op] {
		vs, ok := q[name]
		if !ok {
			continue
		}
		empty := true
		for _, v := range vs {
			empty = empty && v == ""
		}
		if empty {
			delete(q, name)
		}
	}
}
