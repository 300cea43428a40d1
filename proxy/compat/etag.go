package compat

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

// MD5 ETags (the ETag contract, see docs/compat.md and etagmark.go): S3
// Express ETags are random strings, but s3cmd, boto 2 and other legacy
// clients compare the ETag of a PutObject / UploadPart answer with the MD5
// of what they sent and fail the upload when they differ. PayloadMD5
// computes that MD5 while the payload streams upstream, and
// CompleteMultipartETags translates the MD5 ETags the client later lists in
// CompleteMultipartUpload back to the real ones.

// PayloadMD5 hashes a payload as it streams through the reader Wrap
// returns, without buffering it and off the copy path
// (signing.DigestReader). Wrap and ETag may be called from different
// goroutines (the transport reads the body while the response hook asks
// for the ETag). The zero value is not usable; use NewPayloadMD5.
type PayloadMD5 struct {
	length int64  // declared payload length, -1 if unknown
	known  []byte // the digest, when the client declared it (KnownPayloadMD5)

	mu sync.Mutex // guards d
	d  *signing.DigestReader
}

// KnownPayloadMD5 returns a PayloadMD5 whose ETag is the client's
// Content-MD5 (base64), with no hashing, and false if contentMD5 is not a
// base64 MD5. It is for payloads that VerifyContentMD5 checks: their
// upload cannot succeed unless the payload matches (the checking reader
// withholds the last byte until it does), so a 2xx answer proves the
// digest.
func KnownPayloadMD5(contentMD5 string) (*PayloadMD5, bool) {
	sum, err := base64.StdEncoding.DecodeString(contentMD5)
	if err != nil || len(sum) != md5.Size {
		return nil, false
	}
	return &PayloadMD5{known: sum}, true
}

// NewPayloadMD5 returns a PayloadMD5 for a payload of length bytes (-1 if
// unknown). With a known length the digest is final as soon as that many
// bytes were read: a server may answer before the sender's last read
// returns io.EOF.
func NewPayloadMD5(length int64) *PayloadMD5 {
	return &PayloadMD5{length: length}
}

// Wrap returns a reader yielding rc's bytes unchanged while hashing them;
// closing it closes rc. A payload of another length than declared fails
// its Read. It has the signature of a signing.Result.WrapPayload wrap
// function and never fails.
func (m *PayloadMD5) Wrap(rc io.ReadCloser) (io.ReadCloser, error) {
	d := signing.NewDigestReader(rc, md5.New(), m.length)
	m.mu.Lock()
	m.d = d
	m.mu.Unlock()
	return d, nil
}

// ETag returns the quoted hex MD5 of the payload ("\"<32 hex>\"") and true
// once the whole payload has been read, and false before that or after a
// read error.
func (m *PayloadMD5) ETag() (string, bool) {
	if m.known != nil {
		return `"` + hex.EncodeToString(m.known) + `"`, true
	}
	m.mu.Lock()
	d := m.d
	m.mu.Unlock()
	if d == nil {
		return "", false
	}
	sum, ok := d.Sum()
	if !ok {
		return "", false
	}
	return `"` + hex.EncodeToString(sum) + `"`, true
}

// DefaultCompleteMaxBody bounds the CompleteMultipartUpload body that
// CompleteMultipartETags buffers: 10000 parts of about 100 bytes of XML
// each (checksums included) stay well below it.
const DefaultCompleteMaxBody = 2 << 20

// maxListPartsPages bounds the ListParts calls of one translation: S3
// allows 10000 parts and returns up to 1000 a page.
const maxListPartsPages = 10000

// CompleteInput is one CompleteMultipartUpload request to translate.
type CompleteInput struct {
	// Bucket, Key and UploadID address the upload (Key decoded).
	Bucket, Key, UploadID string
	// Header is the outbound header; Content-MD5 is removed from it.
	Header http.Header
	// Body is the verified request body (nil: empty), ContentLength its
	// declared length (-1 unknown).
	Body          io.ReadCloser
	ContentLength int64
	// MaxBytes bounds the buffered body; <= 0 means DefaultCompleteMaxBody.
	MaxBytes int64
}

// CompleteMultipartETags rewrites a CompleteMultipartUpload body whose part
// ETags are those the ETag contract handed out: it reads the body (at most
// MaxBytes; larger is 400 MalformedXML) and replaces the content of each
// Part's ETag element with S3's ETag: a marked ETag (MarkETag) is
// unmarked; an MD5 (32 hex digits, quoted or not) is replaced with the
// ETag of that part number from ListParts (through up, following
// NextPartNumberMarker up to the highest part number listed with an MD5;
// not called when no part has one); any other value is kept, so S3 still
// refuses a wrong ETag. Everything else in the body (checksums, whitespace,
// namespaces) is kept byte for byte. It needs no state, so it works
// whichever replica answered the UploadPart calls.
//
// It returns the body to send and its length; the caller sets the request's
// Body and ContentLength from them. A part listed with an MD5 whose number
// ListParts does not know is 400 InvalidPart; a body that is not well-formed or has a part
// without a valid PartNumber is 400 MalformedXML; an upstream ListParts
// error is returned with upstream's status, code and message. in.Body is
// closed; in.Header loses Content-MD5 (the body changes) only on success.
func CompleteMultipartETags(ctx context.Context, up Upstream, in CompleteInput) (io.ReadCloser, int64, error) {
	limit := in.MaxBytes
	if limit <= 0 {
		limit = DefaultCompleteMaxBody
	}
	if in.ContentLength > limit {
		return nil, 0, completeTooLarge(in.ContentLength, limit)
	}
	var buf []byte
	if in.Body != nil {
		defer in.Body.Close()
		var err error
		if buf, err = readBounded(in.Body, in.ContentLength, limit, "CompleteMultipartUpload", completeTooLarge); err != nil {
			return nil, 0, err
		}
	}
	parts, err := scanCompleteParts(buf)
	if err != nil {
		return nil, 0, err
	}
	maxPart := 0 // highest part number listed with an MD5 ETag
	for _, p := range parts {
		if isMD5ETag(p.etag) {
			maxPart = max(maxPart, p.number)
		}
	}
	var actual map[int]string
	if maxPart > 0 {
		if actual, err = listPartETags(ctx, up, in, maxPart); err != nil {
			return nil, 0, err
		}
	}
	if buf, err = rewriteETags(buf, parts, actual); err != nil {
		return nil, 0, err
	}
	in.Header.Del(HeaderContentMD5)
	return io.NopCloser(bytes.NewReader(buf)), int64(len(buf)), nil
}

// completePart is one Part of a CompleteMultipartUpload body: its number,
// the client's ETag, and the byte span [start, end) of the ETag element's
// content (start < 0: the Part has no ETag).
type completePart struct {
	number     int
	etag       string
	start, end int64
}

// scanCompleteParts finds the Parts of a CompleteMultipartUpload document,
// by local element name (any namespace).
func scanCompleteParts(body []byte) ([]completePart, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var (
		path  []string
		parts []completePart
		cur   completePart
		text  strings.Builder
		num   bool // PartNumber seen in cur
	)
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformedXML(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			switch {
			case len(path) == 1 && t.Name.Local != "CompleteMultipartUpload":
				return nil, malformedXML(fmt.Errorf("root element %s", t.Name.Local))
			case len(path) == 2 && t.Name.Local == "Part":
				cur, num = completePart{start: -1}, false
			case len(path) == 3 && path[1] == "Part":
				text.Reset()
				if t.Name.Local == "ETag" {
					cur.start = d.InputOffset()
				}
			}
		case xml.CharData:
			if len(path) == 3 && path[1] == "Part" {
				text.Write(t)
			}
		case xml.EndElement:
			switch {
			case len(path) == 3 && path[1] == "Part" && t.Name.Local == "ETag":
				cur.etag, cur.end = strings.TrimSpace(text.String()), off
			case len(path) == 3 && path[1] == "Part" && t.Name.Local == "PartNumber":
				n, err := strconv.Atoi(strings.TrimSpace(text.String()))
				if err != nil || n < 1 {
					return nil, malformedXML(fmt.Errorf("part number %q", text.String()))
				}
				cur.number, num = n, true
			case len(path) == 2 && t.Name.Local == "Part":
				if !num {
					return nil, malformedXML(errors.New("part without PartNumber"))
				}
				parts = append(parts, cur)
			}
			path = path[:len(path)-1]
		}
	}
	return parts, nil
}

// rewriteETags replaces each part's ETag content with S3's ETag: a marked
// ETag (from ListParts, UploadPartCopy or a HEAD) is unmarked, an MD5 ETag
// (from UploadPart) is replaced with the ETag ListParts gave for its part
// number (actual; a number missing there is InvalidPart), the real ETag is
// kept, and anything else is left for S3 to refuse.
func rewriteETags(body []byte, parts []completePart, actual map[int]string) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(body) + len(parts)*8)
	prev := int64(0)
	for _, p := range parts {
		if p.start < 0 {
			continue
		}
		etag, marked := UnmarkETag(p.etag)
		if !marked {
			if !isMD5ETag(p.etag) {
				continue
			}
			var ok bool
			if etag, ok = actual[p.number]; !ok {
				return nil, invalidPart(p.number)
			}
		}
		out.Write(body[prev:p.start])
		_ = xml.EscapeText(&out, []byte(etag))
		prev = p.end
	}
	out.Write(body[prev:])
	return out.Bytes(), nil
}

// isMD5ETag reports whether s is 32 hex digits, optionally in quotes.
func isMD5ETag(s string) bool {
	s = unquote(s)
	if len(s) != 2*md5.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// listPartETags returns the real ETag of every part of the upload numbered
// up to maxPart, from ListParts pages of up to 1000 parts.
func listPartETags(ctx context.Context, up Upstream, in CompleteInput, maxPart int) (map[int]string, error) {
	out := make(map[int]string)
	marker := 0
	for range maxListPartsPages {
		q := url.Values{"uploadId": {in.UploadID}, "max-parts": {"1000"}}
		if marker > 0 {
			q.Set("part-number-marker", strconv.Itoa(marker))
		}
		pg, err := listPartsPage(ctx, up, in, q.Encode(), out)
		if err != nil {
			return nil, err
		}
		if !pg.truncated || pg.next >= maxPart {
			return out, nil
		}
		if pg.next <= marker {
			return nil, fmt.Errorf("compat: ListParts %s: NextPartNumberMarker %d does not advance past %d", in.Bucket, pg.next, marker)
		}
		marker = pg.next
	}
	return nil, fmt.Errorf("compat: ListParts %s: more than %d pages", in.Bucket, maxListPartsPages)
}

type partsPage struct {
	truncated bool
	next      int
}

// listPartsPage calls ListParts once and adds the page's parts to etags,
// parsing the answer token by token.
func listPartsPage(ctx context.Context, up Upstream, in CompleteInput, rawQuery string, etags map[int]string) (partsPage, error) {
	resp, err := up.Bucket(ctx, BucketRequest{Bucket: in.Bucket, Method: http.MethodGet, Key: in.Key, RawQuery: rawQuery})
	if err != nil {
		return partsPage{}, fmt.Errorf("compat: ListParts %s: %w", in.Bucket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return partsPage{}, upstreamError(resp, "ListParts")
	}
	var (
		pg   partsPage
		path []string
		text strings.Builder
		num  int
		etag string
	)
	d := xml.NewDecoder(resp.Body)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return pg, nil
		}
		if err != nil {
			return partsPage{}, fmt.Errorf("compat: ListParts %s: %w", in.Bucket, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text.Reset()
			if len(path) == 2 && t.Name.Local == "Part" {
				num, etag = 0, ""
			}
		case xml.CharData:
			if len(path) == 2 || len(path) == 3 && path[1] == "Part" {
				text.Write(t)
			}
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			switch {
			case len(path) == 2 && t.Name.Local == "IsTruncated":
				pg.truncated = v == "true"
			case len(path) == 2 && t.Name.Local == "NextPartNumberMarker":
				pg.next, _ = strconv.Atoi(v)
			case len(path) == 3 && path[1] == "Part" && t.Name.Local == "PartNumber":
				num, _ = strconv.Atoi(v)
			case len(path) == 3 && path[1] == "Part" && t.Name.Local == "ETag":
				etag = v
			case len(path) == 2 && t.Name.Local == "Part" && num > 0:
				etags[num] = etag
			}
			path = path[:len(path)-1]
		}
	}
}

// upstreamError turns an upstream S3 error answer into an *s3err.Error
// with its status, code and message (at most 64 KiB of it is read).
func upstreamError(resp *http.Response, op string) error {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	_ = xml.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	if e.Code == "" {
		e.Code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return s3err.Wrap(fmt.Errorf("compat: %s: upstream %d %s", op, resp.StatusCode, e.Code), resp.StatusCode, e.Code, e.Message)
}

func completeTooLarge(n, limit int64) error {
	return s3err.Wrap(fmt.Errorf("compat: CompleteMultipartUpload body of %d bytes exceeds %d", n, limit),
		http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema "+
			"(CompleteMultipartUpload body too large).")
}

func malformedXML(err error) error {
	return s3err.Wrap(fmt.Errorf("compat: CompleteMultipartUpload body: %w", err), http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema.")
}

func invalidPart(n int) error {
	return s3err.Wrap(fmt.Errorf("compat: part %d is not in the upload", n), http.StatusBadRequest, "InvalidPart",
		"One or more of the specified parts could not be found. The part may not have been uploaded, "+
			"or the specified entity tag may not match the part's entity tag.")
}
