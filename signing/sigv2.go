package signing

// Signature Version 2, header and query forms, for the oldest clients:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html.
//
//	StringToSign = Verb \n Content-MD5 \n Content-Type \n Date-or-Expires \n
//	               CanonicalizedAmzHeaders CanonicalizedResource
//	Signature    = Base64(HMAC-SHA1(secret, StringToSign))

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// subResources are the query parameters that SigV2 puts in the
// CanonicalizedResource, sorted (byte order, as the string to sign lists
// them). They are S3's list: the sub-resources of the RESTAuthentication
// page (acl, delete, lifecycle, location, logging, notification,
// partNumber, policy, requestPayment, torrent, uploadId, uploads,
// versionId, versioning, versions, website and the response-* overrides)
// and those that S3 added later and the SigV2 signers of botocore
// (auth.HmacV1Auth.QSAOfInterest) and minio-go (resourceList) sign:
// accelerate, analytics, cors, encryption, inventory, legal-hold, metrics,
// object-lock, replication, restore, retention, select, select-type,
// tagging. The Google Cloud Storage names botocore and boto 2 also sign
// (storageClass, defaultObjectAcl, ...) are not S3 parameters and are left
// out. Every other query parameter is unsigned under SigV2: the proxy
// refuses SigV2 requests whose operation such a parameter selects
// (SignedByV2).
var subResources = [...]string{
	"accelerate", "acl", "analytics", "cors", "delete", "encryption", "inventory", "legal-hold",
	"lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
	"policy", "replication", "requestPayment",
	"response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires",
	"restore", "retention", "select", "select-type", "tagging", "torrent",
	"uploadId", "uploads", "versionId", "versioning", "versions", "website",
}

// SignedByV2 reports whether SigV2 signs the query parameter name, that is,
// whether it is one of the sub-resources of the CanonicalizedResource. A
// parameter SigV2 does not sign can be added to or removed from a SigV2
// request without invalidating its signature.
func SignedByV2(name string) bool {
	_, ok := slices.BinarySearch(subResources[:], name)
	return ok
}

// maxPresignV2Ahead bounds a SigV2 presigned URL's Expires: at most seven
// days after the time it is used, S3's limit for SigV4 presigned URLs
// (X-Amz-Expires, maxPresignExpires). SigV2 itself sets no limit, and an
// unbounded URL would be a credential that never expires.
const maxPresignV2Ahead = maxPresignExpires * time.Second

// parseAuthorizationV2 parses "AWS AKID:base64(signature)".
func parseAuthorizationV2(h string) (akid string, sig []byte, err error) {
	rest, ok := strings.CutPrefix(h, "AWS ")
	if !ok {
		return "", nil, fmt.Errorf("%w: algorithm", ErrMalformedAuth)
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", nil, fmt.Errorf("%w: want AWS AccessKeyId:Signature", ErrMalformedAuth)
	}
	akid = rest[:i]
	if strings.ContainsAny(akid, " \t:") {
		return "", nil, fmt.Errorf("%w: access key id", ErrMalformedAuth)
	}
	sig, err = decodeSigV2(rest[i+1:])
	return akid, sig, err
}

// decodeSigV2 decodes a base64 HMAC-SHA1 signature.
func decodeSigV2(s string) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(sig) != sha1.Size {
		return nil, fmt.Errorf("%w: signature is not a base64 HMAC-SHA1", ErrMalformedAuth)
	}
	return sig, nil
}

// verifyV2Header verifies SigV2 Authorization-header auth.
func (v *Verifier) verifyV2Header(r *http.Request, auth, rawPath, rawQuery string, now time.Time) (*Result, error) {
	akid, sig, err := parseAuthorizationV2(auth)
	if err != nil {
		return nil, err
	}
	dateLine := ""
	var t time.Time
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err = parseV2Date(s)
	} else if s := r.Header.Get("Date"); s != "" {
		t, err = parseV2Date(s)
		dateLine = s
	} else {
		err = fmt.Errorf("%w: no Date or X-Amz-Date header", ErrMalformedAuth)
	}
	if err != nil {
		return nil, err
	}
	if err := checkSkew(t, now, v.opts.MaxSkew); err != nil {
		return nil, err
	}
	return v.finishV2(v2Request{r: r, typ: AuthSigV2Header, akid: akid, sig: sig, dateLine: dateLine, rawPath: rawPath, rawQuery: rawQuery}, now)
}

// parseV2Date accepts the HTTP date formats and, as x-amz-date may be
// either, the SigV4 ISO 8601 basic format.
func parseV2Date(s string) (time.Time, error) {
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC1123Z, s); err == nil { // "+0000", as in the AWS examples
		return t, nil
	}
	if t, err := parseAmzDate(s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: date %q", ErrMalformedAuth, s)
}

// verifyV2Query verifies SigV2 query auth (AWSAccessKeyId, Signature, Expires).
func (v *Verifier) verifyV2Query(r *http.Request, rawPath, rawQuery string, now time.Time) (*Result, error) {
	akid, sigStr, expires, err := parseV2Query(rawQuery)
	if err != nil {
		return nil, err
	}
	sig, err := decodeSigV2(sigStr)
	if err != nil {
		return nil, err
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || exp < 0 || !isDigits(expires, len(expires)) {
		return nil, fmt.Errorf("%w: Expires %q", ErrMalformedAuth, expires)
	}
	if now.Unix() > exp {
		return nil, fmt.Errorf("%w: expired at %s", ErrRequestExpired, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	// The allowed clock skew on top: a client whose clock runs a little
	// ahead may still presign for the full seven days.
	if limit := now.Add(maxPresignV2Ahead + v.opts.MaxSkew).Unix(); exp > limit {
		return nil, fmt.Errorf("%w: Expires %s is more than 7 days ahead", ErrMalformedAuth, expires)
	}
	return v.finishV2(v2Request{r: r, typ: AuthSigV2Query, akid: akid, sig: sig, dateLine: expires, rawPath: rawPath, rawQuery: rawQuery}, now)
}

// v2QueryNames are the SigV2 query auth parameters.
var v2QueryNames = []string{"AWSAccessKeyId", "Signature", "Expires"}

// parseV2Query extracts the decoded SigV2 query parameters, each exactly once.
func parseV2Query(rawQuery string) (akid, sig, expires string, err error) {
	seen, err := authParams(rawQuery, v2QueryNames, []*string{&akid, &sig, &expires})
	if err != nil {
		return "", "", "", err
	}
	if seen != 0b111 || akid == "" {
		return "", "", "", fmt.Errorf("%w: want AWSAccessKeyId, Signature and Expires", ErrMalformedAuth)
	}
	return akid, sig, expires, nil
}

// v2Request is a SigV2-signed request as parsed from its header or query.
type v2Request struct {
	r    *http.Request
	typ  AuthType
	akid string
	sig  []byte // the decoded signature
	// dateLine is the date line of the string to sign: the Date header
	// (empty with x-amz-date) or the query's Expires.
	dateLine          string
	rawPath, rawQuery string // as sent
}

// finishV2 computes and checks the signature, then the token, and wraps the
// body (a hex x-amz-content-sha256 is still verified).
func (v *Verifier) finishV2(in v2Request, now time.Time) (*Result, error) {
	r, akid := in.r, in.akid
	token, err := headerToken(r)
	if err != nil {
		return nil, err
	}
	key, err := v.lookup(akid, token)
	if err != nil {
		return nil, err
	}
	bucket := ""
	if v.opts.VirtualHostBucket != nil {
		bucket = v.opts.VirtualHostBucket(r)
	}
	sts, err := stringToSignV2(in, bucket)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha1.New, []byte(key.SecretAccessKey))
	mac.Write([]byte(sts))
	if subtle.ConstantTimeCompare(mac.Sum(nil), in.sig) != 1 {
		return nil, &MismatchError{AccessKeyID: akid, StringToSign: sts, SignatureProvided: base64.StdEncoding.EncodeToString(in.sig)}
	}
	if err := checkToken(key, token, now); err != nil {
		return nil, err
	}
	payload := r.Header.Get(HeaderContentSHA256)
	if payload == "" {
		payload = UnsignedPayload
	} else if !validPayloadHash(payload) {
		return nil, fmt.Errorf("%w: x-amz-content-sha256 %q", ErrMalformedAuth, payload)
	}
	return v.result(r, signer{typ: in.typ, akid: akid, key: key}, payload, nil)
}

// stringToSignV2 builds the SigV2 string to sign. in.rawPath is used as
// sent (SigV2 signs the encoded request URI); bucket, when set, is the
// bucket of a virtual-hosted-style request (canonicalResourceV2).
func stringToSignV2(in v2Request, bucket string) (string, error) {
	r, dateLine, rawPath, rawQuery := in.r, in.dateLine, in.rawPath, in.rawQuery
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Md5")))
	b.WriteByte('\n')
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Type")))
	b.WriteByte('\n')
	b.WriteString(dateLine)
	b.WriteByte('\n')
	var names []string
	for name := range r.Header {
		if len(name) >= 6 && compareLower(name[:6], "x-amz-") == 0 {
			names = append(names, strings.ToLower(name))
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		for i, val := range lookupHeaderAnyCase(r.Header, name) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(unfold(val))
		}
		b.WriteByte('\n')
	}
	if err := appendCanonicalResourceV2(&b, bucket, rawPath, rawQuery); err != nil {
		return "", err
	}
	return b.String(), nil
}

// appendCanonicalResourceV2 appends SigV2's CanonicalizedResource, as the
// RESTAuthentication page builds it: "/" + bucket when the bucket is named
// by the Host (virtual-hosted style; path-style requests already carry it
// in the path), then the path as sent ("/" when empty), then the
// sub-resources present in the query, sorted by name, each "name" or
// "name=value" with the value decoded, joined by "&" after a "?". In the
// page's examples, GET /photos/puppy.jpg on johnsmith.s3.amazonaws.com and
// DELETE /johnsmith/photos/puppy.jpg on s3.amazonaws.com both sign
// "/johnsmith/photos/puppy.jpg". A sub-resource given twice is refused: only
// one of its values could be signed, and the other would reach S3 unsigned.
func appendCanonicalResourceV2(b *strings.Builder, bucket, rawPath, rawQuery string) error {
	if bucket != "" {
		b.WriteByte('/')
		b.WriteString(bucket)
	}
	if rawPath == "" {
		rawPath = "/"
	}
	b.WriteString(rawPath)
	var vals [len(subResources)]string
	var found [len(subResources)]bool
	for q := rawQuery; q != ""; {
		var part string
		part, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(part, "=")
		name, err := unescape(k, true)
		if err != nil {
			return fmt.Errorf("%w: query: %w", ErrMalformedAuth, err)
		}
		i, ok := slices.BinarySearch(subResources[:], name)
		if !ok {
			continue
		}
		if found[i] {
			return fmt.Errorf("%w: query parameter %s given twice", ErrMalformedAuth, name)
		}
		if vals[i], err = unescape(v, true); err != nil {
			return fmt.Errorf("%w: query: %w", ErrMalformedAuth, err)
		}
		found[i] = true
	}
	sep := byte('?')
	for i, ok := range found {
		if !ok {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(subResources[i])
		if vals[i] != "" {
			b.WriteByte('=')
			b.WriteString(vals[i])
		}
	}
	return nil
}

// lookupHeaderAnyCase returns the values of every header whose name equals
// lower case-insensitively (net/http canonicalizes, hand-built maps may not).
func lookupHeaderAnyCase(h http.Header, lower string) []string {
	var out []string
	for k, vs := range h {
		if compareLower(k, lower) == 0 {
			out = append(out, vs...)
		}
	}
	return out
}

// unfold trims a header value and replaces folded line breaks with a space.
func unfold(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	f := strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s))
	return strings.Join(f, " ")
}
