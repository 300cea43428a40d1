package signing

// The SigV4 primitives shared by the outbound signer and the inbound
// verifiers: derived-key cache, allocation-free HMAC-SHA256 over pooled
// scratch space, and the canonical-request/string-to-sign layout from
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
	"time"
)

const (
	algorithmV4      = "AWS4-HMAC-SHA256"
	algorithmPayload = "AWS4-HMAC-SHA256-PAYLOAD"
	algorithmTrailer = "AWS4-HMAC-SHA256-TRAILER"
	amzDateFormat    = "20060102T150405Z"
	shortDateFormat  = "20060102"
	scopeTerminator  = "aws4_request"
	// emptySHA256 is the hex SHA-256 of no bytes.
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// defaultKeyCacheSize bounds the derived-key cache; session credentials
	// rotate every few minutes per bucket, so old entries must fall out.
	defaultKeyCacheSize = 4096
)

// keyID identifies a derived signing key apart from its date and secret.
type keyID struct{ akid, region, service string }

// derivedKey is an immutable cache entry: the SigV4 signing key for one
// access key, secret, day, region and service, with its credential scope.
type derivedKey struct {
	secret string
	date   [8]byte
	key    [32]byte
	scope  string // yyyymmdd/region/service/aws4_request
	// innerState and outerState are the marshaled SHA-256 states after
	// absorbing key^ipad and key^opad: restoring one (~10 ns) is much cheaper
	// than hashing the 64-byte pad block again (~65 ns) for every HMAC under
	// this key. Never written after deriveKey; nil if marshaling failed.
	innerState, outerState []byte
}

// keyCache caches derived signing keys. The zero value is not usable; use
// newKeyCache. Safe for concurrent use.
type keyCache struct {
	max int
	mu  sync.RWMutex          // guards m
	m   map[keyID]*derivedKey // guarded by mu; entries are never mutated
}

func newKeyCache(max int) *keyCache {
	if max <= 0 {
		max = defaultKeyCacheSize
	}
	return &keyCache{max: max, m: make(map[keyID]*derivedKey)}
}

// get returns the signing key for (akid, secret, date, region, service),
// deriving and caching it on a miss. date is yyyymmdd.
func (c *keyCache) get(akid, secret string, date [8]byte, region, service string) *derivedKey {
	id := keyID{akid, region, service}
	c.mu.RLock()
	e := c.m[id]
	c.mu.RUnlock()
	if e != nil && e.date == date && e.secret == secret {
		return e
	}
	e = deriveKey(secret, date, region, service)
	c.mu.Lock()
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry: map order is random
			delete(c.m, k)
			break
		}
	}
	c.m[id] = e
	c.mu.Unlock()
	return e
}

// deriveKey computes kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date),
// region), service), "aws4_request").
func deriveKey(secret string, date [8]byte, region, service string) *derivedKey {
	mac := func(key, data []byte) []byte {
		h := hmac.New(sha256.New, key)
		h.Write(data)
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), date[:])
	k = mac(k, []byte(region))
	k = mac(k, []byte(service))
	k = mac(k, []byte(scopeTerminator))
	e := &derivedKey{secret: secret, date: date}
	copy(e.key[:], k)
	e.scope = string(date[:]) + "/" + region + "/" + service + "/" + scopeTerminator
	e.innerState, e.outerState = padStates(&e.key)
	return e
}

// padStates returns the marshaled SHA-256 states after absorbing key^ipad
// and key^opad (RFC 2104), or nils if the hash cannot be marshaled.
func padStates(key *[32]byte) (inner, outer []byte) {
	var pad [64]byte
	state := func(x byte) []byte {
		for i := range pad {
			pad[i] = x
		}
		for i, b := range key {
			pad[i] ^= b
		}
		h := sha256.New()
		h.Write(pad[:])
		m, ok := h.(encoding.BinaryMarshaler)
		if !ok {
			return nil
		}
		st, err := m.MarshalBinary()
		if err != nil {
			return nil
		}
		return st
	}
	inner, outer = state(0x36), state(0x5c)
	if inner == nil || outer == nil {
		return nil, nil
	}
	return inner, outer
}

// scratch is pooled working space for one signature computation.
type scratch struct {
	h      hash.Hash
	hu     encoding.BinaryUnmarshaler // h, to restore derivedKey pad states
	pad    [64]byte
	inner  [32]byte
	sum    [32]byte
	hexSum [64]byte
	buf    []byte // canonical request
	sts    []byte // string to sign
	lower  []byte // lower-case header names, sliced by headerEntry.lower
	hdrs   []headerEntry
	params []queryParam
}

// headerEntry is one header to sign: its name lower-cased and its values.
// A nil values means the single value in value.
type headerEntry struct {
	lower  []byte
	values []string
	value  string
}

var scratchPool = sync.Pool{New: func() any {
	h := sha256.New()
	hu, _ := h.(encoding.BinaryUnmarshaler) // nil: hmacKey falls back to hmacSum
	return &scratch{h: h, hu: hu, buf: make([]byte, 0, 1024), sts: make([]byte, 0, 256), lower: make([]byte, 0, 256)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.buf) > 64<<10 || cap(s.hdrs) > 256 || cap(s.params) > 256 || cap(s.lower) > 16<<10 {
		return // do not keep oversized buffers alive
	}
	clear(s.hdrs) // drop references to request data
	s.hdrs = s.hdrs[:0]
	clear(s.params)
	s.params = s.params[:0]
	s.buf = s.buf[:0]
	s.sts = s.sts[:0]
	s.lower = s.lower[:0]
	scratchPool.Put(s)
}

// hmacSum sets s.sum to HMAC-SHA256(key, msg) without allocating (RFC 2104
// with a 32-byte key, which is shorter than the 64-byte block).
func (s *scratch) hmacSum(key *[32]byte, msg []byte) {
	for i := range s.pad {
		s.pad[i] = 0x36
	}
	for i, b := range key {
		s.pad[i] ^= b
	}
	s.h.Reset()
	s.h.Write(s.pad[:])
	s.h.Write(msg)
	s.h.Sum(s.inner[:0])
	for i := range s.pad {
		s.pad[i] ^= 0x36 ^ 0x5c
	}
	s.h.Reset()
	s.h.Write(s.pad[:])
	s.h.Write(s.inner[:])
	s.h.Sum(s.sum[:0])
}

// hmacKey sets s.sum to HMAC-SHA256(k.key, msg) like hmacSum, but starts
// each of the two hashes from k's precomputed pad state instead of hashing
// the pad block: two SHA-256 blocks fewer per HMAC.
func (s *scratch) hmacKey(k *derivedKey, msg []byte) {
	if s.hu == nil || k.innerState == nil || s.hu.UnmarshalBinary(k.innerState) != nil {
		s.hmacSum(&k.key, msg)
		return
	}
	s.h.Write(msg)
	s.h.Sum(s.inner[:0])
	if s.hu.UnmarshalBinary(k.outerState) != nil {
		s.hmacSum(&k.key, msg) // unreachable: the inner state restored fine
		return
	}
	s.h.Write(s.inner[:])
	s.h.Sum(s.sum[:0])
}

// hashHex sets s.hexSum to the hex SHA-256 of b.
func (s *scratch) hashHex(b []byte) {
	s.h.Reset()
	s.h.Write(b)
	s.h.Sum(s.sum[:0])
	hex.Encode(s.hexSum[:], s.sum[:])
}

// signV4 builds the string to sign for the canonical request in s.buf into
// s.sts and sets s.hexSum to the signature.
func (s *scratch) signV4(k *derivedKey, amzDate string) {
	s.hashHex(s.buf)
	s.sts = append(s.sts[:0], algorithmV4...)
	s.sts = append(s.sts, '\n')
	s.sts = append(s.sts, amzDate...)
	s.sts = append(s.sts, '\n')
	s.sts = append(s.sts, k.scope...)
	s.sts = append(s.sts, '\n')
	s.sts = append(s.sts, s.hexSum[:]...)
	s.hmacKey(k, s.sts)
	hex.Encode(s.hexSum[:], s.sum[:])
}

// shortDate returns yyyymmdd of t in UTC.
func shortDate(t time.Time) (d [8]byte) {
	a := amzDate(t)
	copy(d[:], a[:8])
	return d
}

// parseAmzDate parses yyyymmddThhmmssZ (UTC) as time.Parse(amzDateFormat, s)
// does, accepting and refusing the same strings (FuzzParseAmzDate), by hand:
// it runs once per verified request and time.Parse is general and slow. The
// error carries no detail; callers say which header or parameter was bad.
func parseAmzDate(s string) (time.Time, error) {
	if len(s) != len(amzDateFormat) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, errBadAmzDate
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d := num(0, 4), num(4, 2), num(6, 2)
	h, mi, sec := num(9, 2), num(11, 2), num(13, 2)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return time.Time{}, errBadAmzDate
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Day() != d { // the day does not exist in that month (Feb 30)
		return time.Time{}, errBadAmzDate
	}
	return t, nil
}

// errBadAmzDate is parseAmzDate's one error.
var errBadAmzDate = errors.New("not a yyyymmddThhmmssZ date")

// amzDate returns t in UTC as yyyymmddThhmmssZ, formatted by hand: it is on
// the signing hot path and time.Format is comparatively slow.
func amzDate(t time.Time) (d [16]byte) {
	t = t.UTC()
	y, mo, day := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		t.AppendFormat(d[:0], amzDateFormat) // never in practice; keep it correct
		return d
	}
	put := func(i, v, n int) {
		for j := i + n - 1; j >= i; j-- {
			d[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	put(4, int(mo), 2)
	put(6, day, 2)
	d[8] = 'T'
	put(9, h, 2)
	put(11, mi, 2)
	put(13, s, 2)
	d[15] = 'Z'
	return d
}

// lowerByte returns c lower-cased (ASCII).
func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// compareLower compares a and b as if both were lower-cased (ASCII).
func compareLower(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lowerByte(a[i]), lowerByte(b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, lowerByte(s[i]))
	}
	return dst
}

// appendHeaderValue appends v with leading and trailing spaces removed and
// inner runs of spaces folded to one, as the SDK's StripExcessSpaces does.
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return append(dst, v...)
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// appendHeaderValues appends values joined by ',' each trimmed and folded.
func appendHeaderValues(dst []byte, values []string) []byte {
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHeaderValue(dst, v)
	}
	return dst
}
