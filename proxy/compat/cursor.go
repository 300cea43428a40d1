package compat

import (
	"container/list"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// MarkerPrefix starts every marker and continuation token the proxy
// synthesizes (see docs/compat.md): "s3xp1." followed by the unpadded
// base64url encoding of uvarint(skip) uvarint(pageSize) upstreamToken.
const MarkerPrefix = "s3xp1."

// maxPageSize is S3's cap on max-keys.
const maxPageSize = 1000

// errBadToken is a marker or continuation token the proxy cannot decode.
var errBadToken = errors.New("compat: malformed marker or continuation token")

// cursor is a resumable position in an upstream ListObjectsV2 listing: the
// page fetched with continuation token Token ("" = the first page) and
// max-keys PageSize, of which the first Skip entries were already consumed.
// Upstream tokens are opaque and directory buckets list unordered, so this
// (not a key) is the only exact resume point; it relies on upstream
// answering the same token and page size with the same page.
type cursor struct {
	Token    string
	Skip     int
	PageSize int
}

// encode returns the opaque marker form of c.
func (c cursor) encode() string {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+len(c.Token))
	b = binary.AppendUvarint(b, uint64(c.Skip))
	b = binary.AppendUvarint(b, uint64(c.PageSize))
	b = append(b, c.Token...)
	return MarkerPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// isMarker reports whether s has the synthesized marker form.
func isMarker(s string) bool { return strings.HasPrefix(s, MarkerPrefix) }

// decodeCursor parses a marker made by encode.
func decodeCursor(s string) (cursor, error) {
	if !isMarker(s) {
		return cursor{}, fmt.Errorf("%w: missing prefix", errBadToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(MarkerPrefix):])
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %w", errBadToken, err)
	}
	skip, n := binary.Uvarint(b)
	if n <= 0 {
		return cursor{}, fmt.Errorf("%w: skip", errBadToken)
	}
	b = b[n:]
	size, n := binary.Uvarint(b)
	if n <= 0 {
		return cursor{}, fmt.Errorf("%w: page size", errBadToken)
	}
	b = b[n:]
	if size < 1 || size > maxPageSize || skip > size {
		return cursor{}, fmt.Errorf("%w: skip %d page size %d", errBadToken, skip, size)
	}
	return cursor{Token: string(b), Skip: int(skip), PageSize: int(size)}, nil
}

// DefaultMarkerCacheSize bounds the last-key marker cache of a Lister.
const DefaultMarkerCacheSize = 4096

// markerCache remembers, for V1 clients that page with the last key they
// saw instead of NextMarker, where the listing that ended with that key
// resumes. Bounded LRU; safe for concurrent use.
type markerCache struct {
	max   int
	mu    sync.Mutex // guards items and order
	items map[string]*list.Element
	order *list.List // of *markerItem, most recently used first
}

type markerItem struct {
	key string
	cur cursor
}

func newMarkerCache(max int) *markerCache {
	if max <= 0 {
		max = DefaultMarkerCacheSize
	}
	return &markerCache{max: max, items: make(map[string]*list.Element), order: list.New()}
}

// markerKey scopes a last-key marker to the listing it came from.
func markerKey(bucket, prefix, delimiter, marker string) string {
	return bucket + "\x00" + prefix + "\x00" + delimiter + "\x00" + marker
}

func (m *markerCache) get(k string) (cursor, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[k]
	if !ok {
		return cursor{}, false
	}
	m.order.MoveToFront(el)
	return el.Value.(*markerItem).cur, true
}

func (m *markerCache) put(k string, c cursor) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[k]; ok {
		el.Value.(*markerItem).cur = c
		m.order.MoveToFront(el)
		return
	}
	m.items[k] = m.order.PushFront(&markerItem{key: k, cur: c})
	for m.order.Len() > m.max {
		last := m.order.Back()
		m.order.Remove(last)
		delete(m.items, last.Value.(*markerItem).key)
	}
}

func (m *markerCache) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
