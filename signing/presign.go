package signing

// SigV4 query authentication (presigned URLs),
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html.

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// maxPresignExpires is S3's limit on X-Amz-Expires: seven days.
const maxPresignExpires = 7 * 24 * 3600

// presignParams are the authentication parameters of a presigned URL.
type presignParams struct {
	algorithm, credential, date, expires, signedHeaders, signature string
	contentSHA256, sessionToken                                    string
	hasContentSHA256                                               bool
}

// presignNames are the presign query parameters, in presignParams order;
// the first six are required.
var presignNames = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Content-Sha256", "X-Amz-S3session-Token"}

// parsePresignQuery extracts the X-Amz-* authentication parameters from
// rawQuery (decoded), each at most once; the required ones must be present.
func parsePresignQuery(rawQuery string) (presignParams, error) {
	var p presignParams
	seen, err := authParams(rawQuery, presignNames, []*string{&p.algorithm, &p.credential, &p.date,
		&p.expires, &p.signedHeaders, &p.signature, &p.contentSHA256, &p.sessionToken})
	if err != nil {
		return p, err
	}
	p.hasContentSHA256 = seen&(1<<6) != 0
	for i, name := range presignNames[:6] {
		if seen&(1<<i) == 0 {
			return p, fmt.Errorf("%w: missing query parameter %s", ErrMalformedAuth, name)
		}
	}
	if p.algorithm != algorithmV4 {
		return p, fmt.Errorf("%w: X-Amz-Algorithm %q", ErrUnsupportedAuth, p.algorithm)
	}
	return p, nil
}

// authParams decodes the query parameters listed in names into the strings
// dst points at (same order), each at most once, and returns a bit set of
// those present. Other parameters are skipped.
func authParams(rawQuery string, names []string, dst []*string) (uint, error) {
	var seen uint
	for q := rawQuery; q != ""; {
		var part string
		part, q, _ = cutByte(q, '&')
		k, val, _ := cutByte(part, '=')
		k = decodedName(k)
		i := slices.Index(names, k)
		if i < 0 {
			continue
		}
		if seen&(1<<i) != 0 {
			return seen, fmt.Errorf("%w: duplicate query parameter %s", ErrMalformedAuth, k)
		}
		seen |= 1 << i
		dec, err := unescape(val, true)
		if err != nil {
			return seen, fmt.Errorf("%w: query parameter %s: %w", ErrMalformedAuth, k, err)
		}
		*dst[i] = dec
	}
	return seen, nil
}

// parsePresign turns the query parameters into a v4Auth and the expiry.
func parsePresign(p presignParams) (v4Auth, time.Duration, error) {
	var a v4Auth
	if err := parseCredential(&a, p.credential); err != nil {
		return a, 0, err
	}
	if err := parseSignedHeaders(&a, p.signedHeaders); err != nil {
		return a, 0, err
	}
	if err := parseSignature(&a, p.signature); err != nil {
		return a, 0, err
	}
	t, err := parseAmzDate(p.date)
	if err != nil {
		return a, 0, fmt.Errorf("%w: X-Amz-Date %q", ErrMalformedAuth, p.date)
	}
	a.amzDate, a.t = p.date, t
	if a.amzDate[:8] != a.date {
		return a, 0, fmt.Errorf("%w: credential date %s is not X-Amz-Date's %s", ErrMalformedAuth, a.date, a.amzDate[:8])
	}
	exp, err := strconv.Atoi(p.expires)
	if err != nil || exp < 1 || exp > maxPresignExpires || !isDigits(p.expires, len(p.expires)) {
		return a, 0, fmt.Errorf("%w: X-Amz-Expires %q: want 1 to %d seconds", ErrMalformedAuth, p.expires, maxPresignExpires)
	}
	return a, time.Duration(exp) * time.Second, nil
}

func isPresignSignature(name string) bool { return name == "X-Amz-Signature" }

// verifyV4Query verifies a presigned SigV4 URL. The payload is
// UNSIGNED-PAYLOAD unless pinned by an X-Amz-Content-Sha256 query parameter
// or a signed x-amz-content-sha256 header.
func (v *Verifier) verifyV4Query(r *http.Request, rawPath, rawQuery string, now time.Time) (*Result, error) {
	p, err := parsePresignQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	a, expires, err := parsePresign(p)
	if err != nil {
		return nil, err
	}
	if now.Before(a.t.Add(-v.opts.MaxSkew)) {
		return nil, fmt.Errorf("%w: request is not valid before %s", ErrRequestExpired, a.t.Format(time.RFC3339))
	}
	if now.After(a.t.Add(expires)) {
		return nil, fmt.Errorf("%w: expired at %s", ErrRequestExpired, a.t.Add(expires).Format(time.RFC3339))
	}
	payload := UnsignedPayload
	switch {
	case p.hasContentSHA256:
		payload = p.contentSHA256
	case listContainsLower(a.signedHeaders, HeaderContentSHA256):
		payload = r.Header.Get(HeaderContentSHA256)
	}
	if !validPayloadHash(payload) {
		return nil, fmt.Errorf("%w: x-amz-content-sha256 %q", ErrMalformedAuth, payload)
	}
	token := p.sessionToken
	if token == "" {
		if token, err = headerToken(r); err != nil {
			return nil, err
		}
	}
	key, err := v.lookup(a.akid, token)
	if err != nil {
		return nil, err
	}
	if err := checkAmzHeadersSigned(r.Header, a.signedHeaders, HeaderContentSHA256); err != nil {
		return nil, err
	}
	sc := getScratch()
	defer putScratch(sc)
	if err := sc.canonicalV4(r, canonicalInput{rawPath: rawPath, rawQuery: rawQuery, skip: isPresignSignature, signedHeaders: a.signedHeaders, payload: payload}); err != nil {
		return nil, err
	}
	if _, err := v.checkSignatureV4(sc, &a, key.SecretAccessKey); err != nil {
		return nil, err
	}
	if err := checkToken(key, token, now); err != nil {
		return nil, err
	}
	return v.result(r, signer{typ: AuthSigV4Query, akid: a.akid, key: key}, payload, nil)
}

// cutByte is strings.Cut for a single byte separator.
func cutByte(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// decodedName returns a query parameter name decoded, so that an encoded
// spelling of an authentication parameter is treated as that parameter;
// an undecodable name is returned as is.
func decodedName(k string) string {
	if d, err := unescape(k, true); err == nil {
		return d
	}
	return k
}
