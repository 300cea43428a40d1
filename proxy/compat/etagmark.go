package compat

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// The ETag contract (docs/compat.md, "ETags"): S3 Express ETags are random
// strings that look exactly like MD5 digests (32 hex digits in quotes), and
// legacy clients compare an ETag that looks like an MD5 with the MD5 of the
// bytes they sent or received: s3cmd and aws-sdk-java v1 skip the check
// only when the ETag contains "-" (their test for a multipart ETag), and
// rclone only when it is not 32 lowercase hex digits. Every ETag S3 returns,
// except the MD5 the proxy computes for PutObject and UploadPart, therefore
// reaches the client marked: ETagMark is inserted before the closing quote
// ("<etag>" → "<etag>-s3x"), and removed again from every ETag a client
// sends back. A mark is never numeric, so no client takes a marked ETag for
// the "<md5>-<part count>" of a multipart upload and tries to verify it.

// ETagMark is appended to S3's ETags (inside the quotes) on the way to the
// client.
const ETagMark = "-s3x"

// MarkETag returns an ETag as the client sees it: the mark inserted before
// a closing quote (`"abc"` → `"abc-s3x"`, `W/"abc"` → `W/"abc-s3x"`), or
// appended to an unquoted value. An empty value stays empty. Marking is
// unconditional, so UnmarkETag(MarkETag(v)) == v for every v, whatever S3's
// ETags look like (multipart ETags included).
func MarkETag(v string) string {
	switch {
	case v == "":
		return v
	case len(v) >= 2 && v[len(v)-1] == '"':
		return v[:len(v)-1] + ETagMark + `"`
	}
	return v + ETagMark
}

// UnmarkETag returns the S3 ETag a marked ETag stands for, and false (with
// v unchanged) when v carries no mark: the MD5 ETags of PutObject and
// UploadPart, "*", and anything a client made up pass through as they are.
func UnmarkETag(v string) (string, bool) {
	if n := len(v); n >= len(ETagMark)+1 && v[n-1] == '"' && strings.HasSuffix(v[:n-1], ETagMark) {
		return v[:n-1-len(ETagMark)] + `"`, true
	}
	if strings.HasSuffix(v, ETagMark) && !strings.Contains(v, `"`) {
		return v[:len(v)-len(ETagMark)], true
	}
	return v, false
}

// ConditionHeaders are the request headers whose entity tags are mapped
// back by UnmarkConditions (RFC 9110 §13.1.1-2; S3's CopyObject and
// UploadPartCopy source conditions).
var ConditionHeaders = []string{
	"If-Match", "If-None-Match",
	"X-Amz-Copy-Source-If-Match", "X-Amz-Copy-Source-If-None-Match",
}

// UnmarkConditions replaces, in every value of every ConditionHeaders
// header, each marked entity tag with S3's. A value is a comma-separated
// list of entity tags (RFC 9110 §13.1.1), each quoted, optionally weak
// ("W/"), or "*"; unquoted tags (which S3 accepts) are unmarked too.
// Everything else is kept byte for byte, duplicated headers stay
// duplicated, and nothing is refused here: S3 judges what it receives, so
// a value that is no marked ETag behaves exactly as it would against S3.
func UnmarkConditions(h http.Header) {
	for _, k := range ConditionHeaders {
		vv := h[k]
		for i, v := range vv {
			if u := unmarkList(v); u != v {
				// A new slice: the value slices may be shared with the
				// inbound request's header.
				out := append([]string(nil), vv...)
				for j := i; j < len(out); j++ {
					out[j] = unmarkList(out[j])
				}
				h[k] = out
				break
			}
		}
	}
}

// unmarkList unmarks each entity tag of a list: quoted strings are taken
// whole (an entity tag may contain a comma), other tokens run to the next
// comma or quote.
func unmarkList(v string) string {
	if !strings.Contains(v, ETagMark) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			j := strings.IndexByte(v[i+1:], '"')
			if j < 0 { // unterminated: leave the rest alone
				b.WriteString(v[i:])
				return b.String()
			}
			tag, _ := UnmarkETag(v[i : i+j+2])
			b.WriteString(tag)
			i += j + 2
		case c == ',' || c == ' ' || c == '\t':
			b.WriteByte(c)
			i++
		default:
			j := strings.IndexAny(v[i:], ",\"")
			if j < 0 {
				j = len(v) - i
			}
			tok := v[i : i+j]
			trimmed := strings.TrimRight(tok, " \t")
			if t, ok := UnmarkETag(trimmed); ok {
				tok = t + tok[len(trimmed):]
			}
			b.WriteString(tok)
			i += j
		}
	}
	return b.String()
}

// maxETagContent bounds the bytes of one ETag element an ETagMarker holds
// while it looks for the element's end. S3's ETags are under 100 bytes; a
// longer element is passed on unmarked.
const maxETagContent = 1 << 10

const (
	etagOpen  = "<ETag>"
	etagClose = "</ETag>"
)

// ETagMarker marks the content of every <ETag> element of an S3 XML
// document streaming through it (listings, ListParts, CopyObject,
// UploadPartCopy and CompleteMultipartUpload results,
// GetObjectAttributes), as MarkETag does, in whichever form S3 escaped the
// quotes (`"`, `&quot;`, `&#34;`). It works on bytes, not tokens, so the
// rest of the document is kept byte for byte and nothing is buffered
// beyond a partial tag and one element's content. It recognises the
// element as S3 writes it, <ETag> with no prefix or attributes; literal
// "<ETag>" cannot occur in text, where "<" is always escaped.
type ETagMarker struct {
	carry []byte // bytes held back: a possible start of etagOpen, or an open element's content
	in    bool   // inside an ETag element: carry holds its content so far
}

// Transform appends to out the bytes of p that are final, and holds back
// the rest (a partial open tag, an element's content) for the next call.
func (m *ETagMarker) Transform(out, p []byte) []byte {
	data := p
	if len(m.carry) > 0 {
		data = append(m.carry, p...)
		m.carry = nil
	}
	for {
		if !m.in {
			i := bytes.Index(data, []byte(etagOpen))
			if i < 0 {
				k := partialSuffix(data, etagOpen)
				out = append(out, data[:len(data)-k]...)
				m.carry = append(m.carry, data[len(data)-k:]...)
				return out
			}
			out = append(out, data[:i+len(etagOpen)]...)
			data = data[i+len(etagOpen):]
			m.in = true
		}
		j := bytes.Index(data, []byte(etagClose))
		if j < 0 {
			if len(data) > maxETagContent { // not an ETag S3 writes: pass it on
				out = append(out, data...)
				m.in = false
				return out
			}
			m.carry = append(m.carry, data...)
			return out
		}
		if j > maxETagContent {
			out = append(out, data[:j]...)
		} else {
			out = markRaw(out, data[:j])
		}
		out = append(out, etagClose...)
		data = data[j+len(etagClose):]
		m.in = false
	}
}

// Flush appends what is held back, unchanged (a document cut short inside
// an element is passed on as it came).
func (m *ETagMarker) Flush(out []byte) []byte {
	out = append(out, m.carry...)
	m.carry, m.in = nil, false
	return out
}

// markRaw appends the escaped content of an ETag element, marked.
func markRaw(out, raw []byte) []byte {
	end := len(bytes.TrimRight(raw, " \t\r\n"))
	if end == 0 {
		return append(out, raw...)
	}
	at := end
	for _, q := range []string{"&quot;", "&#34;", "&#x22;", `"`} {
		if end > len(q) && bytes.HasSuffix(raw[:end], []byte(q)) {
			at = end - len(q)
			break
		}
	}
	out = append(out, raw[:at]...)
	out = append(out, ETagMark...)
	return append(out, raw[at:]...)
}

// partialSuffix is the length of the longest proper prefix of tag that b
// ends with.
func partialSuffix(b []byte, tag string) int {
	for k := min(len(tag)-1, len(b)); k > 0; k-- {
		if string(b[len(b)-k:]) == tag[:k] {
			return k
		}
	}
	return 0
}

// MarkETagsReader returns a reader of rc's bytes with every ETag element
// marked (ETagMarker); closing it closes rc.
func MarkETagsReader(rc io.ReadCloser) io.ReadCloser {
	return &etagReader{rc: rc}
}

// etagReader reads rc into the caller's p and transforms from there into
// out (never p's memory), so it needs no read buffer of its own.
type etagReader struct {
	rc  io.ReadCloser
	m   ETagMarker
	out []byte // transformed bytes not yet returned
	err error
}

func (r *etagReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		n, err := r.rc.Read(p)
		r.out = r.m.Transform(r.out[:0], p[:n])
		if err != nil {
			if err == io.EOF {
				r.out = r.m.Flush(r.out)
			}
			r.err = err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

func (r *etagReader) Close() error { return r.rc.Close() }

// MarkingWriter is an http.ResponseWriter that marks the ETag elements of
// the XML body written through it (ETagMarker), for handlers that answer
// listings. Content-Length is dropped (marks lengthen the body). Close
// writes what is held back and must be called once the handler returns.
type MarkingWriter struct {
	http.ResponseWriter
	m   ETagMarker
	out []byte
}

// NewMarkingWriter wraps w.
func NewMarkingWriter(w http.ResponseWriter) *MarkingWriter {
	return &MarkingWriter{ResponseWriter: w}
}

// WriteHeader drops Content-Length and sends the status.
func (w *MarkingWriter) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

// Write marks and writes p; it reports all of p written unless the
// underlying write fails.
func (w *MarkingWriter) Write(p []byte) (int, error) {
	w.out = w.m.Transform(w.out[:0], p)
	if len(w.out) == 0 {
		return len(p), nil
	}
	if _, err := w.ResponseWriter.Write(w.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes the bytes still held back.
func (w *MarkingWriter) Close() error {
	w.out = w.m.Flush(w.out[:0])
	if len(w.out) == 0 {
		return nil
	}
	_, err := w.ResponseWriter.Write(w.out)
	return err
}

// Unwrap returns the wrapped writer (http.ResponseController).
func (w *MarkingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
