package signing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ErrNoSessionToken is returned by SignSession for credentials without a
// session token: S3 Express session auth cannot work without one.
var ErrNoSessionToken = errors.New("signing: session credentials have no session token")

// SignerOptions configures a Signer. The zero value is the default.
type SignerOptions struct {
	// UseSDK signs with aws-sdk-go-v2's v4.Signer.SignHTTP instead of the
	// built-in allocation-light signer. Both produce the same signature (a
	// property test holds them to it); the SDK is slower, and its
	// derived-key cache (keyed by region and service, checked by access key
	// id only) must not see one access key id with two secrets. Default false.
	UseSDK bool
	// KeyCacheSize bounds the derived signing-key cache of the built-in
	// signer. Default 4096 entries.
	KeyCacheSize int
}

// Signer signs outbound requests. Safe for concurrent use.
type Signer struct {
	opts SignerOptions
	keys *keyCache
	sdk  *v4.Signer
	// lastDate is the X-Amz-Date value last signed with: requests signed in
	// the same second share it instead of allocating one string each.
	lastDate atomic.Pointer[string]
}

// NewSigner returns a Signer with the options applied to a copy of the defaults.
func NewSigner(optFns ...func(*SignerOptions)) *Signer {
	var o SignerOptions
	for _, fn := range optFns {
		fn(&o)
	}
	return &Signer{
		opts: o,
		keys: newKeyCache(o.KeyCacheSize),
		sdk: v4.NewSigner(func(so *v4.SignerOptions) {
			so.DisableURIPathEscaping = true // S3: the path is signed as sent
		}),
	}
}

// SignSession signs req for S3 Express session auth at time now: it sets the
// x-amz-s3session-token header (signed), removes X-Amz-Security-Token and any
// previous Authorization/X-Amz-Date, and signs with service s3express. The
// payload hash is req's x-amz-content-sha256 header (UNSIGNED-PAYLOAD is set
// when absent). req.URL.RawPath must already hold EncodePath(req.URL.Path);
// the path is signed exactly as sent. req is modified in place. Every header
// except Authorization, User-Agent, X-Amzn-Trace-Id, Expect and
// Transfer-Encoding is signed, as the SDK does; so is Content-Length when
// req.ContentLength > 0. creds.SessionToken must be set (ErrNoSessionToken).
func (s *Signer) SignSession(req *http.Request, creds aws.Credentials, region string, now time.Time) error {
	if creds.SessionToken == "" {
		return ErrNoSessionToken
	}
	vals := values{s: make([]string, 4)}
	h := prepareHeaders(req, &vals)
	delete(h, HeaderSecurityToken)
	h[HeaderS3SessionToken] = vals.one(creds.SessionToken)
	// The token is a signed header, not the SDK's X-Amz-Security-Token.
	creds.SessionToken = ""
	return s.sign(req, signInput{creds: creds, service: ServiceS3Express, region: region, now: now}, &vals)
}

// SignIAM signs req with IAM credentials for service (s3express or s3) at time
// now, adding X-Amz-Security-Token when creds.SessionToken is set and removing
// x-amz-s3session-token. Same path and payload rules as SignSession.
func (s *Signer) SignIAM(req *http.Request, creds aws.Credentials, service, region string, now time.Time) error {
	vals := values{s: make([]string, 4)}
	h := prepareHeaders(req, &vals)
	delete(h, HeaderS3SessionToken)
	if creds.SessionToken != "" {
		h[HeaderSecurityToken] = vals.one(creds.SessionToken)
	} else {
		delete(h, HeaderSecurityToken)
	}
	return s.sign(req, signInput{creds: creds, service: service, region: region, now: now}, &vals)
}

// values hands out one-element header value slices from one allocation.
// Each is capacity-limited, and a header is always given a new slice, never
// written in place: the caller's header slices may be shared with a saved
// copy (a retry re-signs from one) or with the inbound request.
type values struct{ s []string }

func (v *values) one(x string) []string {
	if len(v.s) == 0 {
		v.s = make([]string, 4)
	}
	out := v.s[0:1:1]
	out[0] = x
	v.s = v.s[1:]
	return out
}

// prepareHeaders removes stale auth headers and defaults the payload hash.
func prepareHeaders(req *http.Request, vals *values) http.Header {
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	// The constants are canonical keys, so delete is what Header.Del does
	// without re-validating them.
	h := req.Header
	delete(h, "Authorization")
	delete(h, "X-Amz-Date")
	if v := h[HeaderContentSHA256]; len(v) == 0 || v[0] == "" {
		h[HeaderContentSHA256] = vals.one(UnsignedPayload)
	}
	return h
}

// signInput is how sign signs one request.
type signInput struct {
	// creds carries a SessionToken only when it must be an
	// X-Amz-Security-Token.
	creds           aws.Credentials
	service, region string
	now             time.Time
	// payload is the request's x-amz-content-sha256 (set by sign).
	payload string
}

// sign signs req whose token headers are already in place; vals allocates
// the header values it sets (a separate parameter, so that escape analysis
// keeps the caller's values on its stack).
func (s *Signer) sign(req *http.Request, in signInput, vals *values) error {
	creds := in.creds
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("signing: credentials without access key id or secret")
	}
	if req.URL == nil {
		return errors.New("signing: request without URL")
	}
	// Header.Get without its key canonicalisation: the constant is canonical.
	if v := req.Header[HeaderContentSHA256]; len(v) > 0 {
		in.payload = v[0]
	}
	if s.opts.UseSDK {
		err := s.sdk.SignHTTP(context.Background(), creds, req, in.payload, in.service, in.region, in.now,
			func(o *v4.SignerOptions) { o.DisableSessionToken = creds.SessionToken == "" })
		if err != nil {
			return fmt.Errorf("signing: sdk sign: %w", err)
		}
		return nil
	}
	return s.signFast(req, &in, vals)
}

// ignoredHeader reports the headers the SDK never signs (lower-case name).
func ignoredHeader(lower []byte) bool {
	switch string(lower) { // no allocation: the compiler compares in place
	case "authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding",
		"host", "content-length":
		return true
	}
	return false
}

// Lower-case names of the pseudo headers; read-only.
var (
	lowerContentLength = []byte("content-length")
	lowerHost          = []byte("host")
)

// signFast is the built-in signer: same canonical request as the SDK's
// SignHTTP with DisableURIPathEscaping, built in pooled buffers.
func (s *Signer) signFast(req *http.Request, in *signInput, vals *values) error {
	creds, service, region, now, payload := in.creds, in.service, in.region, in.now, in.payload
	dateBuf := amzDate(now)
	date := s.dateString(&dateBuf)
	req.Header["X-Amz-Date"] = vals.one(date)
	var day [8]byte
	copy(day[:], dateBuf[:8])
	k := s.keys.get(creds.AccessKeyID, creds.SecretAccessKey, day, region, service)

	host := sanitizeHost(req)
	sc := getScratch()
	defer putScratch(sc)

	// Each name is lower-cased once, into sc.lower, and the entries keep
	// slices of it: sorting, grouping and both the canonical-headers lines
	// and the signed-headers list then use those bytes as they are. Appending
	// never changes bytes already in sc.lower, so a slice taken before the
	// buffer grows still holds its name.
	for name, vals := range req.Header {
		start := len(sc.lower)
		sc.lower = appendLower(sc.lower, name)
		lower := sc.lower[start:]
		if ignoredHeader(lower) {
			sc.lower = sc.lower[:start]
			continue
		}
		sc.hdrs = append(sc.hdrs, headerEntry{lower: lower[:len(lower):len(lower)], values: vals})
	}
	slices.SortFunc(sc.hdrs, func(a, b headerEntry) int { return bytes.Compare(a.lower, b.lower) })

	b := append(sc.buf[:0], req.Method...)
	b = append(b, '\n')
	b = append(b, uriPath(req.URL)...)
	b = append(b, '\n')
	var err error
	sc.params, err = canonicalQueryParams(sc.params, req.URL.RawQuery, nil)
	if err != nil {
		return fmt.Errorf("signing: query: %w", err)
	}
	b = appendCanonicalQuery(b, sc.params)
	b = append(b, '\n')
	b, shStart, shEnd := appendSignedHeaderBlock(b, sc.hdrs, host, req.ContentLength)
	b = append(b, '\n')
	b = append(b, payload...)
	sc.buf = b
	sc.signV4(k, date)

	var auth strings.Builder
	signed := sc.buf[shStart:shEnd]
	auth.Grow(len(algorithmV4) + 64 + len(creds.AccessKeyID) + len(k.scope) + len(signed) + 64)
	auth.WriteString(algorithmV4 + " Credential=")
	auth.WriteString(creds.AccessKeyID)
	auth.WriteByte('/')
	auth.WriteString(k.scope)
	auth.WriteString(", SignedHeaders=")
	auth.Write(signed)
	auth.WriteString(", Signature=")
	auth.Write(sc.hexSum[:])
	req.Header["Authorization"] = vals.one(auth.String())
	return nil
}

// dateString returns d as a string, reusing the last one when equal.
func (s *Signer) dateString(d *[16]byte) string {
	if p := s.lastDate.Load(); p != nil && *p == string(d[:]) {
		return *p
	}
	str := string(d[:])
	s.lastDate.Store(&str)
	return str
}

// appendSignedHeaderBlock appends the canonical headers (host, content-length
// when positive, and hdrs, which are sorted by lower-case name; entries with
// the same name in another case merged), a blank line and the signed-headers
// list, returning the list's offsets in the result.
func appendSignedHeaderBlock(b []byte, hdrs []headerEntry, host string, contentLength int64) ([]byte, int, int) {
	var clBuf [20]byte
	pseudo := [2]headerEntry{{lower: lowerContentLength}, {lower: lowerHost, value: host}}
	ps := pseudo[1:]
	if contentLength > 0 {
		pseudo[0].value = string(strconv.AppendInt(clBuf[:0], contentLength, 10))
		ps = pseudo[:]
	}
	b = appendHeaderLines(b, hdrs, ps)
	b = append(b, '\n')
	start := len(b)
	b = appendHeaderNames(b, hdrs, ps)
	return b, start, len(b)
}

// nextHeader returns the next group of headers with one lower-case name from
// the merge of the sorted hdrs and the sorted pseudo headers (host,
// content-length), and the advanced indexes. A pseudo header sorts first on a
// tie, so a Host or Content-Length in hdrs would merge into it (callers keep
// them out).
func nextHeader(hdrs, pseudo []headerEntry, i, pi int) (group []headerEntry, ni, npi int) {
	if pi < len(pseudo) && (i >= len(hdrs) || bytes.Compare(pseudo[pi].lower, hdrs[i].lower) <= 0) {
		return pseudo[pi : pi+1], i, pi + 1
	}
	j := i + 1
	for j < len(hdrs) && bytes.Equal(hdrs[i].lower, hdrs[j].lower) {
		j++
	}
	return hdrs[i:j], j, pi
}

// appendHeaderLines appends "name:value,value\n" for each header group.
func appendHeaderLines(b []byte, hdrs, pseudo []headerEntry) []byte {
	var group []headerEntry
	for i, pi := 0, 0; i < len(hdrs) || pi < len(pseudo); {
		group, i, pi = nextHeader(hdrs, pseudo, i, pi)
		b = append(b, group[0].lower...)
		b = append(b, ':')
		n := 0
		for _, e := range group {
			vals := e.values
			if vals == nil {
				one := [1]string{e.value}
				vals = one[:]
			}
			for _, v := range vals {
				if n > 0 {
					b = append(b, ',')
				}
				b = appendHeaderValue(b, v)
				n++
			}
		}
		b = append(b, '\n')
	}
	return b
}

// appendHeaderNames appends the signed-headers list "a;b;c".
func appendHeaderNames(b []byte, hdrs, pseudo []headerEntry) []byte {
	var group []headerEntry
	for i, pi := 0, 0; i < len(hdrs) || pi < len(pseudo); {
		if i > 0 || pi > 0 {
			b = append(b, ';')
		}
		group, i, pi = nextHeader(hdrs, pseudo, i, pi)
		b = append(b, group[0].lower...)
	}
	return b
}

// uriPath returns the path as it goes on the wire, as the SDK's GetURIPath.
func uriPath(u *url.URL) string {
	var p string
	if u.RawPath != "" && rawPathMatches(u.RawPath, u.Path) {
		p = u.RawPath // what EscapedPath returns, without its allocation
	} else {
		p = u.EscapedPath()
	}
	if u.Opaque != "" {
		p = ""
		opaque, _, _ := strings.Cut(u.Opaque, "?")
		opaque = strings.TrimPrefix(opaque, "//")
		if i := strings.IndexByte(opaque, '/'); i >= 0 {
			p = opaque[i:]
		}
	}
	if p == "" {
		return "/"
	}
	return p
}

// sanitizeHost returns the host to sign, stripping a default port and then
// setting req.Host to it, as the SDK's SanitizeHostForHeader does.
func sanitizeHost(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	colon := strings.LastIndexByte(host, ':')
	if colon < 0 || strings.IndexByte(host[colon:], ']') >= 0 {
		return host
	}
	port := host[colon+1:]
	scheme := strings.ToLower(req.URL.Scheme)
	if port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		host = strings.TrimSuffix(strings.TrimPrefix(host[:colon], "["), "]")
		req.Host = host
	}
	return host
}

// rawPathMatches reports whether raw is a canonical encoding (see
// isCanonicalComponent) that decodes to path; such a RawPath is what
// url.URL.EscapedPath returns.
func rawPathMatches(raw, path string) bool {
	if !isCanonicalComponent(raw, true) {
		return false
	}
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			hi, _ := unhex(raw[i+1])
			lo, _ := unhex(raw[i+2])
			c = hi<<4 | lo
			i += 2
		}
		if j >= len(path) || path[j] != c {
			return false
		}
		j++
	}
	return j == len(path)
}
