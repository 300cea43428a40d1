package signing

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Verify authenticates r at time now from its raw request URI, headers and
// (lazily, through Result.Body) its body. A request with no auth at all gives
// Result{Type: AuthAnonymous} and no error; the caller decides whether that
// is allowed. r is not modified.
//
// Recognised forms, in order: an Authorization header (AWS4-HMAC-SHA256, or
// "AWS " for SigV2 when enabled); presign query parameters (X-Amz-Algorithm /
// X-Amz-Credential / X-Amz-Signature for SigV4, AWSAccessKeyId / Signature for
// SigV2). Any other Authorization scheme is ErrUnsupportedAuth; a session
// token without a signature is ErrMissingAuth. Errors wrap the sentinels of
// errors.go; a bad signature is a *MismatchError.
func (v *Verifier) Verify(r *http.Request, now time.Time) (*Result, error) {
	rawPath, rawQuery := SplitRequestURI(r)
	auths := r.Header.Values("Authorization")
	if len(auths) > 1 {
		return nil, fmt.Errorf("%w: several Authorization headers", ErrMalformedAuth)
	}
	if len(auths) == 1 {
		auth := auths[0]
		if queryAuthKind(rawQuery) != AuthAnonymous {
			return nil, fmt.Errorf("%w: both an Authorization header and query authentication", ErrMalformedAuth)
		}
		switch {
		case strings.HasPrefix(auth, algorithmV4+" "):
			return v.verifyV4Header(r, auth, rawPath, rawQuery, now)
		case strings.HasPrefix(auth, "AWS "):
			if !v.opts.SigV2 {
				return nil, fmt.Errorf("%w: signature version 2 is disabled", ErrUnsupportedAuth)
			}
			return v.verifyV2Header(r, auth, rawPath, rawQuery, now)
		}
		return nil, fmt.Errorf("%w: unknown Authorization scheme", ErrUnsupportedAuth)
	}
	switch queryAuthKind(rawQuery) {
	case AuthSigV4Query:
		return v.verifyV4Query(r, rawPath, rawQuery, now)
	case AuthSigV2Query:
		if !v.opts.SigV2 {
			return nil, fmt.Errorf("%w: signature version 2 is disabled", ErrUnsupportedAuth)
		}
		return v.verifyV2Query(r, rawPath, rawQuery, now)
	}
	if r.Header.Get(HeaderS3SessionToken) != "" || r.Header.Get(HeaderSecurityToken) != "" {
		return nil, fmt.Errorf("%w: session token without a signature", ErrMissingAuth)
	}
	return v.anonymous(r)
}

// queryAuthKind says which presign form rawQuery carries, or AuthAnonymous.
func queryAuthKind(rawQuery string) AuthType {
	if rawQuery == "" {
		return AuthAnonymous
	}
	for q := rawQuery; q != ""; {
		var part string
		part, q, _ = strings.Cut(q, "&")
		name, _, _ := strings.Cut(part, "=")
		switch decodedName(name) {
		case "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature":
			return AuthSigV4Query
		}
	}
	for q := rawQuery; q != ""; {
		var part string
		part, q, _ = strings.Cut(q, "&")
		name, _, _ := strings.Cut(part, "=")
		if name = decodedName(name); name == "AWSAccessKeyId" || name == "Signature" {
			return AuthSigV2Query
		}
	}
	return AuthAnonymous
}

// v4Auth is a parsed SigV4 authorization, from the header or the query.
type v4Auth struct {
	akid, date, region, service string // credential scope parts
	signedHeaders               string
	signature                   [64]byte // lowercase hex
	amzDate                     string   // yyyymmddThhmmssZ
	t                           time.Time
}

// parseCredential parses AKID/yyyymmdd/region/service/aws4_request. The
// access key is everything before the last four fields.
func parseCredential(a *v4Auth, cred string) error {
	fields := [4]string{}
	rest := cred
	for i := 3; i >= 0; i-- {
		j := strings.LastIndexByte(rest, '/')
		if j < 0 {
			return fmt.Errorf("%w: credential %q: want AKID/date/region/service/aws4_request", ErrMalformedAuth, cred)
		}
		fields[i], rest = rest[j+1:], rest[:j]
	}
	a.akid, a.date, a.region, a.service = rest, fields[0], fields[1], fields[2]
	switch {
	case a.akid == "":
		return fmt.Errorf("%w: empty access key id", ErrMalformedAuth)
	case !isDigits(a.date, 8):
		return fmt.Errorf("%w: credential date %q", ErrMalformedAuth, a.date)
	case a.region == "" || !isToken(a.region):
		return fmt.Errorf("%w: credential region %q", ErrMalformedAuth, a.region)
	case a.service != ServiceS3 && a.service != ServiceS3Express:
		return fmt.Errorf("%w: credential service %q: want s3 or s3express", ErrMalformedAuth, a.service)
	case fields[3] != scopeTerminator:
		return fmt.Errorf("%w: credential terminator %q", ErrMalformedAuth, fields[3])
	}
	return nil
}

// parseSignedHeaders checks a SignedHeaders list: non-empty lower-case
// header names separated by ';', including host.
func parseSignedHeaders(a *v4Auth, list string) error {
	if list == "" {
		return fmt.Errorf("%w: empty SignedHeaders", ErrMalformedAuth)
	}
	host := false
	for rest := list; ; {
		name, more, found := strings.Cut(rest, ";")
		if name == "" || !isToken(name) || strings.ToLower(name) != name {
			return fmt.Errorf("%w: SignedHeaders %q", ErrMalformedAuth, list)
		}
		host = host || name == "host"
		if !found {
			break
		}
		rest = more
	}
	if !host {
		return fmt.Errorf("%w: SignedHeaders must include host", ErrMalformedAuth)
	}
	a.signedHeaders = list
	return nil
}

// parseSignature copies a 64-char lowercase hex signature into a.
func parseSignature(a *v4Auth, sig string) error {
	if len(sig) != 64 || !isLowerHex(sig) {
		return fmt.Errorf("%w: signature must be 64 lowercase hex characters", ErrMalformedAuth)
	}
	copy(a.signature[:], sig)
	return nil
}

// parseAuthorizationV4 parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." strictly: each field exactly once, in any order, separated
// by ',' and optional spaces; nothing else.
func parseAuthorizationV4(h string) (v4Auth, error) {
	var a v4Auth
	rest, ok := strings.CutPrefix(h, algorithmV4+" ")
	if !ok {
		return a, fmt.Errorf("%w: algorithm", ErrMalformedAuth)
	}
	var seen [3]bool
	for rest != "" {
		var field string
		field, rest, _ = strings.Cut(rest, ",")
		field = strings.TrimSpace(field)
		k, val, found := strings.Cut(field, "=")
		if !found {
			return a, fmt.Errorf("%w: field %q", ErrMalformedAuth, field)
		}
		var err error
		var i int
		switch k {
		case "Credential":
			i, err = 0, parseCredential(&a, val)
		case "SignedHeaders":
			i, err = 1, parseSignedHeaders(&a, val)
		case "Signature":
			i, err = 2, parseSignature(&a, val)
		default:
			return a, fmt.Errorf("%w: unknown field %q", ErrMalformedAuth, k)
		}
		if err != nil {
			return a, err
		}
		if seen[i] {
			return a, fmt.Errorf("%w: duplicate field %q", ErrMalformedAuth, k)
		}
		seen[i] = true
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return a, fmt.Errorf("%w: want Credential, SignedHeaders and Signature", ErrMalformedAuth)
	}
	return a, nil
}

// requestDate returns the request time from X-Amz-Date, else Date, as the
// yyyymmddThhmmssZ string that goes in the string to sign.
func requestDate(h http.Header) (string, time.Time, error) {
	if s := h.Get("X-Amz-Date"); s != "" {
		t, err := parseAmzDate(s)
		if err != nil {
			return "", t, fmt.Errorf("%w: X-Amz-Date %q", ErrMalformedAuth, s)
		}
		return s, t, nil
	}
	if s := h.Get("Date"); s != "" {
		t, err := http.ParseTime(s)
		if err != nil {
			return "", t, fmt.Errorf("%w: Date %q", ErrMalformedAuth, s)
		}
		t = t.UTC()
		return t.Format(amzDateFormat), t, nil
	}
	return "", time.Time{}, fmt.Errorf("%w: no X-Amz-Date or Date header", ErrMalformedAuth)
}

// checkSkew fails when t is more than maxSkew away from now.
func checkSkew(t, now time.Time, maxSkew time.Duration) error {
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("%w: request time %s, server time %s", ErrRequestTimeTooSkewed,
			t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// payloadHashHeader returns the declared x-amz-content-sha256, validated.
// When absent, a request without a body is taken as the hash of no bytes
// (plain SigV4 clients); with a body it is payloadDeferred: the canonical
// request then ends with the hex SHA-256 of the body (the generic SigV4 of
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html,
// which curl before 8.x signs), known only once the body has been read.
// A header sent empty or more than once is malformed: which value the
// client signed would be a guess, and absence is what defers the check.
func payloadHashHeader(r *http.Request) (string, error) {
	var p string
	switch vs := r.Header[HeaderContentSHA256]; {
	case len(vs) > 1 || len(vs) == 1 && vs[0] == "":
		return "", fmt.Errorf("%w: x-amz-content-sha256 empty or repeated", ErrMalformedAuth)
	case len(vs) == 1:
		p = vs[0]
	}
	switch {
	case p == "":
		if hasBody(r) {
			return payloadDeferred, nil
		}
		return emptySHA256, nil
	case validPayloadHash(p):
		return p, nil
	}
	return "", fmt.Errorf("%w: x-amz-content-sha256 %q", ErrMalformedAuth, p)
}

func validPayloadHash(p string) bool {
	switch p {
	case UnsignedPayload, StreamingUnsignedTrailer, StreamingSignedPayload, StreamingSignedTrailer:
		return true
	}
	return len(p) == 64 && isLowerHex(p)
}

// hasBody reports whether r has a request body that may carry bytes.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// lookup finds the Key of akid, presented with token (see TokenKeyLookup).
func (v *Verifier) lookup(akid, token string) (Key, error) {
	var k Key
	ok := false
	if v.tokens != nil {
		var err error
		if k, err = v.tokens.LookupTokenKey(akid, token); err != nil {
			return k, err
		}
		ok = true
	} else {
		k, ok = v.keys.LookupKey(akid)
	}
	if !ok || k.SecretAccessKey == "" { // an empty secret would let anyone sign
		return k, fmt.Errorf("%w: %q", ErrInvalidAccessKeyID, akid)
	}
	return k, nil
}

// headerToken is the x-amz-s3session-token header of r; a request with
// several is ErrInvalidToken, since the signature covers them all and the
// key lookup can use only one.
func headerToken(r *http.Request) (string, error) {
	vs := r.Header[HeaderS3SessionToken]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fmt.Errorf("%w: several x-amz-s3session-token headers", ErrInvalidToken)
}

// checkToken enforces Key.SessionToken and Key.Expires against the token
// presented (header or query), in constant time.
func checkToken(k Key, presented string, now time.Time) error {
	if k.SessionToken == "" {
		if presented != "" {
			return fmt.Errorf("%w: key takes no session token", ErrInvalidToken)
		}
	} else if subtle.ConstantTimeCompare([]byte(k.SessionToken), []byte(presented)) != 1 {
		return fmt.Errorf("%w: session token does not match", ErrInvalidToken)
	}
	if !k.Expires.IsZero() && !now.Before(k.Expires) {
		return fmt.Errorf("%w: expired at %s", ErrExpiredToken, k.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// verifyV4Header verifies SigV4 Authorization-header auth.
func (v *Verifier) verifyV4Header(r *http.Request, auth, rawPath, rawQuery string, now time.Time) (*Result, error) {
	a, err := parseAuthorizationV4(auth)
	if err != nil {
		return nil, err
	}
	if a.amzDate, a.t, err = requestDate(r.Header); err != nil {
		return nil, err
	}
	if a.amzDate[:8] != a.date {
		return nil, fmt.Errorf("%w: credential date %s is not the request date %s", ErrMalformedAuth, a.date, a.amzDate[:8])
	}
	if err := checkSkew(a.t, now, v.opts.MaxSkew); err != nil {
		return nil, err
	}
	payload, err := payloadHashHeader(r)
	if err != nil {
		return nil, err
	}
	token, err := headerToken(r)
	if err != nil {
		return nil, err
	}
	key, err := v.lookup(a.akid, token)
	if err != nil {
		return nil, err
	}
	if err := checkAmzHeadersSigned(r.Header, a.signedHeaders, ""); err != nil {
		return nil, err
	}
	sc := getScratch()
	defer putScratch(sc)
	if err := sc.canonicalV4(r, canonicalInput{rawPath: rawPath, rawQuery: rawQuery, signedHeaders: a.signedHeaders, payload: payload}); err != nil {
		return nil, err
	}
	if payload == payloadDeferred {
		return v.deferV4(r, &a, key, sc.buf[:len(sc.buf)-len(payloadDeferred)], now)
	}
	dk, err := v.checkSignatureV4(sc, &a, key.SecretAccessKey)
	if err != nil {
		return nil, err
	}
	if err := checkToken(key, token, now); err != nil {
		return nil, err
	}
	return v.result(r, signer{typ: AuthSigV4Header, akid: a.akid, key: key}, payload, &chunkChain{key: dk, amzDate: a.amzDate, prev: a.signature})
}

// checkSignatureV4 signs the canonical request in sc.buf and compares it with
// a.signature in constant time, returning the derived key used.
func (v *Verifier) checkSignatureV4(sc *scratch, a *v4Auth, secret string) (*derivedKey, error) {
	var date [8]byte
	copy(date[:], a.date)
	dk := v.dk.get(a.akid, secret, date, a.region, a.service)
	sc.signV4(dk, a.amzDate)
	if subtle.ConstantTimeCompare(sc.hexSum[:], a.signature[:]) != 1 {
		return nil, &MismatchError{
			AccessKeyID:       a.akid,
			StringToSign:      string(sc.sts),
			CanonicalRequest:  string(sc.buf),
			SignatureProvided: string(a.signature[:]),
		}
	}
	return dk, nil
}

// canonicalInput is what canonicalV4 builds a canonical request from,
// besides the request's method and header values.
type canonicalInput struct {
	rawPath, rawQuery string // as sent
	// skip, when non-nil, leaves the query names it is true for out (the
	// signature of a presigned URL).
	skip          func(string) bool
	signedHeaders string // as listed in the Authorization or the query
	payload       string // the payload hash line
}

// canonicalV4 builds the canonical request of an inbound request in sc.buf:
// the raw path decoded once and re-encoded, the query canonicalized (leaving
// out names for which in.skip is true), the listed signed headers.
func (sc *scratch) canonicalV4(r *http.Request, in canonicalInput) error {
	rawPath, rawQuery, skip, signedHeaders, payload := in.rawPath, in.rawQuery, in.skip, in.signedHeaders, in.payload
	cp, err := canonicalPath(rawPath)
	if err != nil {
		return fmt.Errorf("%w: request path: %w", ErrMalformedAuth, err)
	}
	sc.params, err = canonicalQueryParams(sc.params, rawQuery, skip)
	if err != nil {
		return fmt.Errorf("%w: query: %w", ErrMalformedAuth, err)
	}
	b := append(sc.buf[:0], r.Method...)
	b = append(b, '\n')
	b = append(b, cp...)
	b = append(b, '\n')
	b = appendCanonicalQuery(b, sc.params)
	b = append(b, '\n')
	for rest := signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		b = append(b, name...)
		b = append(b, ':')
		b = appendInboundHeader(b, r, name)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, signedHeaders...)
	b = append(b, '\n')
	b = append(b, payload...)
	sc.buf = b
	return nil
}

// appendInboundHeader appends the canonical value of the lower-case header
// name as the client sent it: host from r.Host, Content-Length and
// Transfer-Encoding from the fields net/http moves them to.
func appendInboundHeader(b []byte, r *http.Request, name string) []byte {
	switch name {
	case "host":
		return appendHeaderValue(b, r.Host)
	case "content-length":
		if v := r.Header["Content-Length"]; len(v) > 0 {
			return appendHeaderValues(b, v)
		}
		if r.ContentLength > 0 {
			return strconv.AppendInt(b, r.ContentLength, 10)
		}
		return b
	case "transfer-encoding":
		if v := r.Header["Transfer-Encoding"]; len(v) > 0 {
			return appendHeaderValues(b, v)
		}
		return appendHeaderValues(b, r.TransferEncoding)
	}
	return appendHeaderValues(b, lookupHeader(r.Header, name))
}

// lookupHeader finds a header by lower-case name without allocating.
func lookupHeader(h http.Header, lower string) []string {
	var buf [64]byte
	if len(lower) > len(buf) {
		return h[textproto.CanonicalMIMEHeaderKey(lower)]
	}
	b := buf[:0]
	upper := true
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	return h[string(b)]
}

// checkAmzHeadersSigned fails with ErrHeadersNotSigned when r carries an
// x-amz-* header that is not in the signed list (except exempt, if set).
func checkAmzHeadersSigned(h http.Header, signedHeaders, exempt string) error {
	for name := range h {
		if len(name) < 6 || compareLower(name[:6], "x-amz-") != 0 {
			continue
		}
		if exempt != "" && compareLower(name, exempt) == 0 {
			continue
		}
		if !listContainsLower(signedHeaders, name) {
			return fmt.Errorf("%w: %s", ErrHeadersNotSigned, strings.ToLower(name))
		}
	}
	return nil
}

// listContainsLower reports whether the ';' list contains name, compared
// case-insensitively.
func listContainsLower(list, name string) bool {
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, ";")
		if compareLower(item, name) == 0 {
			return true
		}
	}
	return false
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+^`|", rune(c)) {
			return false
		}
	}
	return true
}
