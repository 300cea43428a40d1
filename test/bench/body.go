package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
)

// patternBlock is the deterministic byte pattern every request body repeats.
// Bodies are generated from it on the fly and never held whole in memory.
var patternBlock = func() []byte {
	b := make([]byte, 1<<20)
	x := uint32(0x9e3779b9)
	for i := range b {
		// xorshift32: cheap, deterministic, not trivially compressible.
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

// emptySHA256 is the hex SHA-256 of an empty payload (GET, HEAD).
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// patternBody is an io.ReadCloser (and io.WriterTo) producing size bytes of
// patternBlock repeated. The zero value is an empty body.
type patternBody struct {
	remaining int64
	off       int
}

// newPatternBody returns a body of size bytes.
func newPatternBody(size int64) *patternBody { return &patternBody{remaining: size} }

// Read implements io.Reader.
func (p *patternBody) Read(b []byte) (int, error) {
	if p.remaining <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && p.remaining > 0 {
		chunk := patternBlock[p.off:]
		if int64(len(chunk)) > p.remaining {
			chunk = chunk[:p.remaining]
		}
		c := copy(b[n:], chunk)
		n += c
		p.remaining -= int64(c)
		p.off = (p.off + c) % len(patternBlock)
	}
	return n, nil
}

// WriteTo implements io.WriterTo so io.Copy writes large slices of the
// pattern directly, without an intermediate buffer.
func (p *patternBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for p.remaining > 0 {
		chunk := patternBlock[p.off:]
		if int64(len(chunk)) > p.remaining {
			chunk = chunk[:p.remaining]
		}
		n, err := w.Write(chunk)
		total += int64(n)
		p.remaining -= int64(n)
		p.off = (p.off + n) % len(patternBlock)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Close implements io.Closer.
func (p *patternBody) Close() error { return nil }

var (
	hashMu    sync.Mutex
	hashCache = map[int64]string{}
)

// patternSHA256 returns the hex SHA-256 of a size-byte pattern body,
// computed once per size by streaming the pattern through sha256.
func patternSHA256(size int64) string {
	hashMu.Lock()
	defer hashMu.Unlock()
	if h, ok := hashCache[size]; ok {
		return h
	}
	h := sha256.New()
	if _, err := newPatternBody(size).WriteTo(h); err != nil {
		panic(err) // hash.Hash never fails
	}
	s := hex.EncodeToString(h.Sum(nil))
	hashCache[size] = s
	return s
}

// drain reads r to EOF with a large buffer and returns the byte count.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		c, err := r.Read(buf)
		n += int64(c)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
