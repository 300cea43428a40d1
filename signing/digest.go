package signing

import (
	"hash"
	"io"
	"net/http"
	"sync"
)

// DigestReader computes a digest of a body as it is read, off the copy
// path: a large body read in long reads is hashed on a goroutine of its
// own, from the bounded read-ahead ring that also checks payload hashes
// (hashpipe.go), so a reader copying the body upstream does not also spend
// its time hashing. It yields the body's bytes unchanged, holding back the
// last byte until the digest is final (see checkReader), so the digest is
// known before a server that received the whole body can answer.
//
// Read and Close are for one goroutine at a time; Sum may be called from
// any goroutine.
type DigestReader struct {
	c *checkReader

	mu  sync.Mutex // guards sum
	sum []byte
}

// NewDigestReader returns a DigestReader over rc (nil is taken as empty)
// writing to h. length is the body's declared length (-1 if unknown): with
// a known length the digest is final once that many bytes were read, and a
// body of another length fails its Read with ErrIncompleteBody.
func NewDigestReader(rc io.ReadCloser, h hash.Hash, length int64) *DigestReader {
	if rc == nil {
		rc = http.NoBody
	}
	d := &DigestReader{}
	d.c = newCheckReader(rc, h, nil, length, nil)
	d.c.sumCheck = d.setSum
	return d
}

// setSum records the final digest; it is the checkReader's sumCheck and
// never fails the body.
func (d *DigestReader) setSum(sum []byte) error {
	d.mu.Lock()
	d.sum = append([]byte(nil), sum...)
	d.mu.Unlock()
	return nil
}

// Read reads from the body.
func (d *DigestReader) Read(p []byte) (int, error) { return d.c.Read(p) }

// Close closes the body.
func (d *DigestReader) Close() error { return d.c.Close() }

// Sum returns the digest and true once the whole body has been read
// without error, and nil, false before that.
func (d *DigestReader) Sum() ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sum, d.sum != nil
}
