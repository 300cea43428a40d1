package signing

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// errBadEscape reports a malformed %XX escape in a path or query.
var errBadEscape = errors.New("signing: malformed percent-encoding")

const upperHex = "0123456789ABCDEF"

// unreserved reports whether c is an RFC 3986 unreserved character, which
// SigV4 never encodes (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// EncodePath returns the S3 canonical encoding of a decoded path: every byte
// re-encoded, RFC 3986 unreserved characters and '/' kept, everything else
// %XX with uppercase hex. It is both the canonical URI for SigV4 and the
// RawPath sent upstream. It does not allocate when nothing needs encoding.
func EncodePath(decoded string) string {
	n := 0
	for i := 0; i < len(decoded); i++ {
		if c := decoded[i]; !unreserved(c) && c != '/' {
			n++
		}
	}
	if n == 0 {
		return decoded
	}
	return string(appendEncoded(make([]byte, 0, len(decoded)+2*n), decoded, true))
}

// appendEncoded appends s encoded as SigV4 wants (unreserved kept, '/' kept
// when keepSlash, everything else %XX uppercase).
func appendEncoded(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || keepSlash && c == '/' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape percent-decodes s. When plusSpace is set (query components, as
// url.ParseQuery does) '+' means a space; in a path '+' is a literal plus,
// which is what S3 does.
func unescape(s string, plusSpace bool) (string, error) {
	if !strings.ContainsAny(s, "%+") || !plusSpace && strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", errBadEscape
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errBadEscape
			}
			b = append(b, hi<<4|lo)
			i += 2
		case c == '+' && plusSpace:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

// canonicalPath returns the SigV4 canonical URI of a raw (still encoded)
// request path: decoded once, then EncodePath, so that "%7E", "~" and a
// client's own encoding choices all give S3's canonical form.
func canonicalPath(raw string) (string, error) {
	if raw == "" {
		return "/", nil
	}
	if isCanonicalComponent(raw, true) {
		return raw, nil
	}
	dec, err := unescape(raw, false)
	if err != nil {
		return "", err
	}
	return EncodePath(dec), nil
}

// isCanonicalComponent reports whether s is already in canonical encoded form:
// only unreserved bytes (and '/' when slash), or %XX uppercase escapes of
// bytes that must be escaped.
func isCanonicalComponent(s string, slash bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || slash && c == '/' {
			continue
		}
		if c != '%' || i+2 >= len(s) {
			return false
		}
		h, l := s[i+1], s[i+2]
		if !isUpperHex(h) || !isUpperHex(l) {
			return false
		}
		hv, _ := unhex(h)
		lv, _ := unhex(l)
		if d := hv<<4 | lv; unreserved(d) || slash && d == '/' {
			return false
		}
		i += 2
	}
	return true
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// queryParam is one canonical (encoded) query parameter.
type queryParam struct{ key, value string }

// canonicalQueryParams parses rawQuery the way url.ParseQuery does ('&'
// separated, '+' is a space, empty components skipped) and returns each name
// and value in SigV4 encoding, sorted by name then value. Components that are
// already canonical are used without allocating. Parameters for which skip
// returns true (given the canonical name) are left out. params is reused.
func canonicalQueryParams(params []queryParam, rawQuery string, skip func(string) bool) ([]queryParam, error) {
	params = params[:0]
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ck, err := canonicalQueryComponent(k)
		if err != nil {
			return params, err
		}
		if skip != nil && skip(ck) {
			continue
		}
		cv, err := canonicalQueryComponent(v)
		if err != nil {
			return params, err
		}
		params = append(params, queryParam{ck, cv})
	}
	sortParams(params)
	return params, nil
}

// sortParams sorts encoded parameters by name, then value: the order of
// the SigV4 canonical query.
func sortParams(params []queryParam) {
	slices.SortFunc(params, func(a, b queryParam) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
}

func canonicalQueryComponent(s string) (string, error) {
	if isCanonicalComponent(s, false) {
		return s, nil
	}
	dec, err := unescape(s, true)
	if err != nil {
		return "", err
	}
	return string(appendEncoded(make([]byte, 0, len(dec)+8), dec, false)), nil
}

// appendCanonicalQuery appends the params joined as name=value&... .
func appendCanonicalQuery(dst []byte, params []queryParam) []byte {
	for i, p := range params {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p.key...)
		dst = append(dst, '=')
		dst = append(dst, p.value...)
	}
	return dst
}

// EncodeQuery returns q as the RawQuery of an outbound request: names and
// values encoded as SigV4 encodes them (RFC 3986 unreserved kept, every
// other byte %XX uppercase), in the canonical order (by encoded name, then
// value), a parameter with an empty value written as its bare name
// ("?uploads", the form S3's documentation uses). Signing canonicalizes the
// wire query back to the same parameters in the same order, a bare name
// with an empty value ("uploads="), so the query S3 receives is the one
// signed. q is not modified.
func EncodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	params := make([]queryParam, 0, len(q))
	size := 0
	for k, vs := range q {
		ek := encodeComponent(k)
		for _, v := range vs {
			ev := encodeComponent(v)
			params = append(params, queryParam{ek, ev})
			size += len(ek) + len(ev) + 2
		}
	}
	sortParams(params)
	b := make([]byte, 0, size)
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.key...)
		if p.value != "" {
			b = append(b, '=')
			b = append(b, p.value...)
		}
	}
	return string(b)
}

// encodeComponent returns s encoded as a query name or value, s itself
// when nothing needs encoding.
func encodeComponent(s string) string {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return string(appendEncoded(make([]byte, 0, len(s)+8), s, false))
		}
	}
	return s
}

// SplitRequestURI returns the raw (still encoded) path and query of r's
// request-target, in origin form ("/p?q") or absolute form
// ("http://host/p?q"; an absolute form without a path has path "/"). It
// falls back to r.URL when RequestURI is empty (a client-side request).
// Both the proxy's addressing and the verifier read the request through it,
// so they see the same bytes.
func SplitRequestURI(r *http.Request) (rawPath, rawQuery string) {
	uri := r.RequestURI
	if uri == "" && r.URL != nil {
		uri = r.URL.RequestURI()
	}
	if !strings.HasPrefix(uri, "/") {
		if i := strings.Index(uri, "://"); i >= 0 {
			rest := uri[i+3:]
			j := strings.IndexAny(rest, "/?")
			if j < 0 {
				return "/", ""
			}
			uri = rest[j:]
			if uri[0] == '?' {
				uri = "/" + uri
			}
		}
	}
	rawPath, rawQuery, _ = strings.Cut(uri, "?")
	return rawPath, rawQuery
}
