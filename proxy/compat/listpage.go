package compat

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// maxEntryBytes bounds the text (names and character data) of one
// Contents or CommonPrefixes element buffered while deciding whether it
// matches: a key is at most 1024 bytes (3 KiB url-encoded) and the rest of
// an entry a few hundred bytes.
const maxEntryBytes = 16 << 10

// errEntryTooLarge is an upstream listing entry beyond maxEntryBytes.
var errEntryTooLarge = errors.New("compat: listing entry too large")

// s3NS is the S3 XML namespace.
const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// listEntry is one Contents or CommonPrefixes element of an upstream page.
type listEntry struct {
	isPrefix bool
	raw      string      // Key or Prefix text as sent (url-encoded with encoding-type=url)
	key      string      // raw, decoded
	toks     []xml.Token // the whole element, namespace-free, ready to re-encode
}

// pageScanner reads one upstream ListObjectsV2 response token by token,
// yielding its entries one at a time (at most one buffered) and recording
// IsTruncated and NextContinuationToken, wherever they appear.
type pageScanner struct {
	d          *xml.Decoder
	urlEncoded bool
	inRoot     bool
	truncated  bool
	next       string
}

func newPageScanner(r io.Reader, urlEncoded bool) *pageScanner {
	return &pageScanner{d: xml.NewDecoder(r), urlEncoded: urlEncoded}
}

// entry returns the next entry, or nil at the end of the document, after
// which truncated and next are final.
func (s *pageScanner) entry() (*listEntry, error) {
	for {
		tok, err := s.d.Token()
		if err == io.EOF && s.inRoot {
			return nil, fmt.Errorf("compat: listing: %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			return nil, fmt.Errorf("compat: listing: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !s.inRoot {
				s.inRoot = true
				continue
			}
			e, err := s.child(t)
			if e != nil || err != nil {
				return e, err
			}
		case xml.EndElement:
			return nil, nil // the root closes
		}
	}
}

// child handles one child element of the root.
func (s *pageScanner) child(t xml.StartElement) (*listEntry, error) {
	switch t.Name.Local {
	case "Contents", "CommonPrefixes":
		return s.readEntry(t)
	case "IsTruncated":
		v, err := s.text(t)
		s.truncated = strings.TrimSpace(v) == "true"
		return nil, err
	case "NextContinuationToken":
		v, err := s.text(t)
		s.next = v
		return nil, err
	}
	return nil, s.d.Skip()
}

func (s *pageScanner) text(t xml.StartElement) (string, error) {
	var v string
	if err := s.d.DecodeElement(&v, &t); err != nil {
		return "", fmt.Errorf("compat: listing %s: %w", t.Name.Local, err)
	}
	return v, nil
}

// readEntry buffers one Contents/CommonPrefixes element (bounded by
// maxEntryBytes) and extracts its Key/Prefix.
func (s *pageScanner) readEntry(start xml.StartElement) (*listEntry, error) {
	e := &listEntry{isPrefix: start.Name.Local == "CommonPrefixes"}
	want := "Key"
	if e.isPrefix {
		want = "Prefix"
	}
	e.toks = append(e.toks, bare(start))
	size, depth, inKey := 0, 1, false
	for depth > 0 {
		tok, err := s.d.Token()
		if err != nil {
			return nil, fmt.Errorf("compat: listing %s: %w", start.Name.Local, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			inKey = depth == 2 && t.Name.Local == want
			size += len(t.Name.Local)
			tok = bare(t)
		case xml.EndElement:
			depth--
			inKey = false
			tok = xml.EndElement{Name: xml.Name{Local: t.Name.Local}}
		case xml.CharData:
			size += len(t)
			if inKey {
				e.raw += string(t)
			}
			tok = t.Copy()
		default:
			continue // comments, processing instructions: dropped
		}
		if size > maxEntryBytes {
			return nil, errEntryTooLarge
		}
		e.toks = append(e.toks, tok)
	}
	e.key = e.raw
	if s.urlEncoded {
		k, err := url.QueryUnescape(e.raw)
		if err != nil {
			return nil, fmt.Errorf("compat: listing: url-encoded key %q: %w", e.raw, err)
		}
		e.key = k
	}
	return e, nil
}

// bare strips namespaces from a start element so it re-encodes without
// repeated xmlns attributes.
func bare(t xml.StartElement) xml.StartElement {
	out := xml.StartElement{Name: xml.Name{Local: t.Name.Local}}
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		out.Attr = append(out.Attr, xml.Attr{Name: xml.Name{Local: a.Name.Local}, Value: a.Value})
	}
	return out
}
