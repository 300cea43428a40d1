package emulator

import (
	"net/http"
	"sort"
	"strings"
)

// query is a request's query string, decoded once from the raw request URI.
// Pairs keep their received order; a name without '=' has an empty value.
type query struct {
	pairs []qpair
}

type qpair struct{ k, v string }

var errInvalidURI = newErr(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI.")

// splitRequestURI returns the raw path and raw query of a request URI,
// accepting the absolute form too.
func splitRequestURI(uri string) (path, rawQuery string) {
	if !strings.HasPrefix(uri, "/") {
		if i := strings.Index(uri, "://"); i >= 0 {
			uri = uri[i+3:]
			if j := strings.IndexByte(uri, '/'); j >= 0 {
				uri = uri[j:]
			} else {
				uri = "/"
			}
		}
	}
	path, rawQuery, _ = strings.Cut(uri, "?")
	return path, rawQuery
}

func parseQuery(raw string) (*query, *s3Error) {
	q := &query{}
	if raw == "" {
		return q, nil
	}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, ok1 := unescape(k)
		dv, ok2 := unescape(v)
		if !ok1 || !ok2 {
			return nil, errInvalidURI
		}
		q.pairs = append(q.pairs, qpair{dk, dv})
	}
	return q, nil
}

func (q *query) get(k string) string {
	for _, p := range q.pairs {
		if p.k == k {
			return p.v
		}
	}
	return ""
}

func (q *query) has(k string) bool {
	for _, p := range q.pairs {
		if p.k == k {
			return true
		}
	}
	return false
}

// writeCanonical writes the SigV4 canonical query string: every name and
// value URI-encoded, sorted by name then value; X-Amz-Signature is left out
// of presigned requests.
func (q *query) writeCanonical(b *strings.Builder, presigned bool) {
	if len(q.pairs) == 0 {
		return
	}
	enc := make([]qpair, 0, len(q.pairs))
	for _, p := range q.pairs {
		if presigned && p.k == "X-Amz-Signature" {
			continue
		}
		enc = append(enc, qpair{uriEncode(p.k, false), uriEncode(p.v, false)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].k != enc[j].k {
			return enc[i].k < enc[j].k
		}
		return enc[i].v < enc[j].v
	})
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
}

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// uriEncode encodes s as SigV4 and S3 do: unreserved characters kept
// (and '/' when keepSlash), everything else %XX with uppercase hex.
func uriEncode(s string, keepSlash bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUnreserved(c) && !(keepSlash && c == '/') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || keepSlash && c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// unescape percent-decodes s; '+' stays a literal plus.
func unescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, h<<4|l)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
