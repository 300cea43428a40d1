package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SigV4 verification, written from the specification
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
// and independent of this repository's signing package.

const (
	algoHMAC        = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	maxSkew         = 15 * time.Minute
	unsignedPayload = "UNSIGNED-PAYLOAD"
	streamSigned    = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamSignedTr  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamUnsTr     = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// sigInput is a parsed SigV4 signature, from the Authorization header or a
// presigned query.
type sigInput struct {
	akid, date, region, service string // from the credential scope
	amzDate                     string // x-amz-date / X-Amz-Date
	signedHeaders               []string
	signature                   string
	presigned                   bool
	expires                     int64 // presigned only, seconds
	payloadHash                 string
	when                        time.Time
}

func (s *sigInput) scope() string {
	return s.date + "/" + s.region + "/" + s.service + "/aws4_request"
}

func malformedAuth(msg string) *s3Error {
	return newErr(http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed; "+msg)
}

// parseSignature extracts the signature of r. It returns (nil, nil) for an
// anonymous request.
func parseSignature(r *http.Request, q *query) (*sigInput, *s3Error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if q.has("X-Amz-Algorithm") {
			return parsePresigned(r, q)
		}
		return nil, nil
	}
	if strings.HasPrefix(auth, "AWS ") {
		return nil, newErr(http.StatusBadRequest, "InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	rest, ok := strings.CutPrefix(auth, algoHMAC+" ")
	if !ok {
		return nil, newErr(http.StatusBadRequest, "InvalidArgument", "Unsupported Authorization Type")
	}
	s := &sigInput{}
	var cred, signed string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			s.signature = v
		default:
			return nil, malformedAuth("unexpected component " + strconv.Quote(k))
		}
	}
	if cred == "" || signed == "" || s.signature == "" {
		return nil, malformedAuth("a Credential, SignedHeaders and Signature are required")
	}
	if e := s.setCredential(cred); e != nil {
		return nil, e
	}
	s.signedHeaders = strings.Split(signed, ";")
	s.amzDate = r.Header.Get("X-Amz-Date")
	if s.amzDate == "" {
		// SigV4 allows the Date header instead; the string to sign then
		// carries it in ISO 8601 basic form.
		if t, err := http.ParseTime(r.Header.Get("Date")); err == nil {
			s.amzDate = t.UTC().Format(amzDateFormat)
		}
	}
	s.payloadHash = r.Header.Get("X-Amz-Content-Sha256")
	if s.payloadHash == "" {
		return nil, newErr(http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	}
	return s, checkPayloadHash(s.payloadHash)
}

func parsePresigned(r *http.Request, q *query) (*sigInput, *s3Error) {
	if q.get("X-Amz-Algorithm") != algoHMAC {
		return nil, newErr(http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	s := &sigInput{presigned: true, amzDate: q.get("X-Amz-Date"), signature: q.get("X-Amz-Signature")}
	signed := q.get("X-Amz-SignedHeaders")
	exp, err := strconv.ParseInt(q.get("X-Amz-Expires"), 10, 64)
	if err != nil || exp < 1 || exp > 604800 || signed == "" || s.signature == "" {
		return nil, newErr(http.StatusBadRequest, "AuthorizationQueryParametersError", "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	s.expires = exp
	if e := s.setCredential(q.get("X-Amz-Credential")); e != nil {
		return nil, e
	}
	s.signedHeaders = strings.Split(signed, ";")
	s.payloadHash = unsignedPayload
	if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" {
		s.payloadHash = v
	} else if v := q.get("X-Amz-Content-Sha256"); v != "" {
		s.payloadHash = v
	}
	return s, checkPayloadHash(s.payloadHash)
}

func (s *sigInput) setCredential(cred string) *s3Error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return malformedAuth("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	s.akid, s.date, s.region, s.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func checkPayloadHash(v string) *s3Error {
	switch v {
	case unsignedPayload, streamSigned, streamSignedTr, streamUnsTr:
		return nil
	}
	if isHexSHA256(v) {
		return nil
	}
	return newErr(http.StatusBadRequest, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
}

func isHexSHA256(v string) bool {
	if len(v) != 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkScope validates the time, the scope against the host, and that every
// x-amz-* header is signed.
func (s *sigInput) checkScope(r *http.Request, hi hostInfo, now time.Time) *s3Error {
	t, err := time.Parse(amzDateFormat, s.amzDate)
	if err != nil {
		return newErr(http.StatusForbidden, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
	}
	s.when = t
	if s.date != s.amzDate[:8] {
		return malformedAuth("Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if s.presigned {
		if now.Before(t.Add(-maxSkew)) {
			return newErr(http.StatusForbidden, "AccessDenied", "Request is not valid yet")
		}
		if now.After(t.Add(time.Duration(s.expires) * time.Second)) {
			return newErr(http.StatusForbidden, "AccessDenied", "Request has expired")
		}
	} else if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		e := newErr(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
		e.Extra = []xmlElem{{"RequestTime", s.amzDate}, {"ServerTime", now.UTC().Format(time.RFC3339)}, {"MaxAllowedSkewMilliseconds", "900000"}}
		return e
	}
	if s.region != hi.region {
		e := malformedAuth("the region '" + s.region + "' is wrong; expecting '" + hi.region + "'")
		e.Extra = []xmlElem{{"Region", hi.region}}
		return e
	}
	if s.service != hi.service {
		return malformedAuth("incorrect service \"" + s.service + "\". This endpoint belongs to \"" + hi.service + "\".")
	}
	return s.checkSignedHeaders(r)
}

func (s *sigInput) checkSignedHeaders(r *http.Request) *s3Error {
	if !sort.StringsAreSorted(s.signedHeaders) {
		return malformedAuth("SignedHeaders must be sorted")
	}
	hasHost := false
	for _, h := range s.signedHeaders {
		if h == "host" {
			hasHost = true
		}
		if h == "" || strings.ToLower(h) != h {
			return malformedAuth("SignedHeaders must be lowercase")
		}
	}
	if !hasHost {
		return newErr(http.StatusForbidden, "AccessDenied", "The host header must be signed")
	}
	var missing []string
	for name := range r.Header {
		if len(name) > 6 && strings.EqualFold(name[:6], "x-amz-") {
			l := strings.ToLower(name)
			if !s.signs(l) {
				missing = append(missing, l)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		e := newErr(http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed")
		e.Extra = []xmlElem{{"HeadersNotSigned", strings.Join(missing, ", ")}}
		return e
	}
	return nil
}

func (s *sigInput) signs(name string) bool {
	i := sort.SearchStrings(s.signedHeaders, name)
	return i < len(s.signedHeaders) && s.signedHeaders[i] == name
}

// verify checks the signature with secret. It returns the signing key for
// chunk signature verification.
func (s *sigInput) verify(r *http.Request, q *query, rawPath string, secret string, keys *keyCache) ([]byte, *s3Error) {
	creq := canonicalRequest(r, q, rawPath, s)
	sum := sha256.Sum256([]byte(creq))
	sts := algoHMAC + "\n" + s.amzDate + "\n" + s.scope() + "\n" + hex.EncodeToString(sum[:])
	key := keys.get(secret, s.date, s.region, s.service)
	want := hex.EncodeToString(hmacSHA256(key, []byte(sts)))
	if !hmac.Equal([]byte(want), []byte(s.signature)) {
		e := *errSignatureMismatch
		e.Extra = []xmlElem{{"AWSAccessKeyId", s.akid}, {"StringToSign", sts}, {"SignatureProvided", s.signature}, {"CanonicalRequest", creq}}
		return nil, &e
	}
	return key, nil
}

func canonicalRequest(r *http.Request, q *query, rawPath string, s *sigInput) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(rawPath)
	b.WriteByte('\n')
	q.writeCanonical(&b, s.presigned)
	b.WriteByte('\n')
	for _, h := range s.signedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		if h == "host" {
			b.WriteString(strings.TrimSpace(r.Host))
		} else {
			for i, v := range r.Header.Values(h) {
				if i > 0 {
					b.WriteByte(',')
				}
				writeTrimmed(&b, v)
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(s.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(s.payloadHash)
	return b.String()
}

// writeTrimmed writes v trimmed, with runs of spaces collapsed to one.
func writeTrimmed(b *strings.Builder, v string) {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// keyCache caches derived signing keys; derivation is four HMACs per
// request otherwise. It is bounded by dropping everything when full.
type keyCache struct {
	mu sync.Mutex
	m  map[string][]byte // secret|date|region|service -> key
}

func (c *keyCache) get(secret, date, region, service string) []byte {
	k := secret + "|" + date + "|" + region + "|" + service
	c.mu.Lock()
	key, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return key
	}
	key = hmacSHA256([]byte("AWS4"+secret), []byte(date))
	key = hmacSHA256(key, []byte(region))
	key = hmacSHA256(key, []byte(service))
	key = hmacSHA256(key, []byte("aws4_request"))
	c.mu.Lock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = make(map[string][]byte)
	}
	c.m[k] = key
	c.mu.Unlock()
	return key
}
