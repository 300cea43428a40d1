package signing

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
)

// anonymous is the Result of a request that carries no credentials. A
// declared hex payload hash is still verified; signed aws-chunked cannot be
// without a key.
func (v *Verifier) anonymous(r *http.Request) (*Result, error) {
	p := r.Header.Get(HeaderContentSHA256)
	if p == "" {
		p = UnsignedPayload
	} else if !validPayloadHash(p) {
		return nil, fmt.Errorf("%w: x-amz-content-sha256 %q", ErrMalformedAuth, p)
	}
	return v.result(r, signer{typ: AuthAnonymous}, p, nil)
}

// signer is who signed a verified request: how, with which access key id
// and key ("" and the zero Key for anonymous requests).
type signer struct {
	typ  AuthType
	akid string
	key  Key
}

// result wraps r's body according to the declared payload hash. chain, when
// non-nil, allows signed aws-chunked payloads (SigV4 header auth only).
func (v *Verifier) result(r *http.Request, by signer, payload string, chain *chunkChain) (*Result, error) {
	res := &Result{
		Type:                  by.typ,
		AccessKeyID:           by.akid,
		Principal:             by.key.Principal,
		ContentLength:         r.ContentLength,
		UpstreamContentSHA256: UnsignedPayload,
		DecodedContentLength:  -1,
	}
	var body io.ReadCloser
	if hasBody(r) {
		body = r.Body
	}
	switch payload {
	case UnsignedPayload:
		res.Body = body
	case StreamingUnsignedTrailer:
		dl, err := decodedContentLength(r.Header)
		if err != nil {
			return nil, err
		}
		res.Body, res.UpstreamContentSHA256, res.DecodedContentLength = body, StreamingUnsignedTrailer, dl
		res.Trailer = r.Header.Get("X-Amz-Trailer")
		if body != nil {
			res.state = &bodyState{maxChunk: v.opts.MaxChunkSize}
		}
	case StreamingSignedPayload, StreamingSignedTrailer:
		if chain == nil {
			return nil, fmt.Errorf("%w: %s needs SigV4 header authentication", ErrMalformedAuth, payload)
		}
		return v.chunked(r, res, chain, payload == StreamingSignedTrailer)
	default: // validated hex SHA-256
		var want [32]byte
		hex.Decode(want[:], []byte(payload))
		if body == nil {
			if payload != emptySHA256 {
				return nil, fmt.Errorf("%w: empty body", ErrContentSHA256Mismatch)
			}
			return res, nil
		}
		res.Body = newCheckReader(body, sha256.New(), want[:], r.ContentLength, ErrContentSHA256Mismatch)
	}
	return res, nil
}

// decodedContentLength parses x-amz-decoded-content-length, -1 when absent.
func decodedContentLength(h http.Header) (int64, error) {
	s := h.Get("X-Amz-Decoded-Content-Length")
	if s == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return -1, fmt.Errorf("%w: x-amz-decoded-content-length %q", ErrMalformedAuth, s)
	}
	return n, nil
}

// checkReader hashes a body as it is read and checks the digest (and the
// declared length, when known) on the Read that reaches the end. It holds
// back the last byte it has read until it has seen the end, so a consumer
// never receives the complete body before the check: a failed check makes
// that final Read return no bytes and the error, and an upstream request
// streaming the body is aborted short of its Content-Length.
//
// In a large body, from the first long read that does not end it, the
// body is read ahead into a hashPipe, up to pipeReadMax bytes per read of
// rc, and hashed there on another goroutine while Read hands the bytes on,
// so the hashing overlaps with the caller's write upstream and its next
// Read; the final Read waits for it before the check. Like any io.Reader,
// a checkReader is used by one goroutine at a time.
type checkReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want []byte
	// sumCheck, when set, checks the digest instead of want and mismatch
	// (a signature over it, see deferredV4), or only records it
	// (DigestReader).
	sumCheck func(sum []byte) error
	length   int64 // declared length, -1 if unknown
	n        int64 // bytes read from rc
	mismatch error
	held     byte
	one      [1]byte // read buffer when p has room for the held byte only
	has      bool
	done     bool  // the end was reached and the check passed
	err      error // sticky: io.EOF after success, or the failure

	// A read of asyncRead bytes or more, in a body of asyncBody or more,
	// starts pipe, which reads ahead and hashes from then on until the end.
	asyncRead int
	asyncBody int64
	ringSize  int   // of pipe's ring; 0 for pipeRing
	pipeStart int64 // the pipe's start (newHashPipe); 0 for pipeStartFor(length)
	pipe      *hashPipe
}

func newCheckReader(rc io.ReadCloser, h hash.Hash, want []byte, length int64, mismatch error) *checkReader {
	return &checkReader{rc: rc, h: h, want: want, length: length, mismatch: mismatch,
		asyncRead: asyncMinRead, asyncBody: asyncMinBody}
}

func (c *checkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.pipe != nil || !c.done && c.startPipe(len(p)) {
		return c.readPiped(p)
	}
	if c.done { // the end was reached and checked; only the held byte is left
		return c.finish(p, 0)
	}
	// Read behind the held byte: into p[1:], or into one when p has no room.
	one := c.one[:]
	dst, off := p, 0
	if c.has {
		if len(p) > 1 {
			dst, off = p[1:], 1
		} else {
			dst = one
		}
	}
	n, err := c.rc.Read(dst)
	c.n += int64(n)
	c.h.Write(dst[:n])
	if ferr := c.check(err); ferr != nil {
		return c.fail(ferr)
	}
	if c.has && off == 0 { // read into one
		if n == 0 {
			if c.done {
				return c.finish(p, 0)
			}
			return 0, nil
		}
		p[0], c.held = c.held, one[0]
		return 1, nil
	}
	if off == 1 {
		p[0], c.has = c.held, false
	}
	total := off + n
	if c.done {
		return c.finish(p, total)
	}
	if total == 0 {
		return 0, nil
	}
	c.held, c.has = p[total-1], true
	return total - 1, nil
}

// finish returns the n bytes already in p, plus the held byte if any, with
// io.EOF; the check has passed.
func (c *checkReader) finish(p []byte, n int) (int, error) {
	c.err = io.EOF
	if c.has {
		if n < len(p) {
			p[n], c.has = c.held, false
			n++
		} else {
			c.err = nil // room for the held byte on the next Read
			return n, nil
		}
	}
	return n, io.EOF
}

func (c *checkReader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

func (c *checkReader) verify() error {
	if c.length >= 0 && c.n < c.length {
		return fmt.Errorf("%w: got %d of %d bytes", ErrIncompleteBody, c.n, c.length)
	}
	var sum [64]byte
	if c.sumCheck != nil {
		return c.sumCheck(c.h.Sum(sum[:0]))
	}
	if subtle.ConstantTimeCompare(c.h.Sum(sum[:0]), c.want) != 1 {
		return c.mismatch
	}
	return nil
}

// Close closes the wrapped body. It does not wait for bytes still being
// hashed: that goroutine ends on its own, and its ring is left to the
// garbage collector rather than returned to the pool under it.
func (c *checkReader) Close() error { return c.rc.Close() }

// Hashing moves to a hashPipe for large bodies read in long reads: the
// first read of asyncMinRead bytes or more that does not end a body
// declared (or, when its length is unknown, found) to be asyncMinBody
// bytes or more. A shorter read would cost about what it saves: SHA-256 of
// 8 KiB takes ~6 µs with SHA-NI (MD5 ~13 µs), a handoff a few µs plus the
// scheduler's latency. A smaller body is mostly hashed at the end anyway,
// when Read must wait for the pipe: over loopback TCP, bodies of 64 KiB
// copied 5-20% slower through a pipe, 128 KiB 5% faster, 1 MiB 25-60%
// faster (BenchmarkCheckReaderLoopback). A 4 KiB PUT, or a body read in one
// Read, takes the straight path: no goroutine, no ring, no read-ahead, no
// copy.
const (
	asyncMinRead = 8 << 10
	asyncMinBody = 128 << 10
)

// pipeStartFor is how many bytes a body of length bytes (-1: unknown)
// lets wait in its pipe before a worker starts: a sixteenth of the body,
// from asyncMinRead up to pipeStartMax. A worker started late saves
// wake-ups; the bytes still waiting at the end are hashed while the final
// Read waits, so a 1 MiB body waits for at most 64 KiB (~45 µs) of them.
func pipeStartFor(length int64) int64 {
	if length < 0 {
		return pipeStartMax
	}
	return min(max(length/16, asyncMinRead), pipeStartMax)
}

// check classifies the outcome of a read from rc that brought c.n to
// what it is, every byte read so far in the digest: it returns the error
// that fails the body, or nil, with c.done set if the read ended the body
// and the check passed.
func (c *checkReader) check(err error) error {
	if c.length >= 0 && c.n > c.length {
		return fmt.Errorf("%w: body longer than Content-Length %d", ErrIncompleteBody, c.length)
	}
	if err != nil && err != io.EOF {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: %w", ErrIncompleteBody, err)
		}
		return err
	}
	if err == io.EOF || c.length >= 0 && c.n == c.length {
		if verr := c.verify(); verr != nil {
			return verr
		}
		c.done = true
	}
	return nil
}

// startPipe moves the rest of a large body, from a long read that will not
// end it, to a hashPipe, and reports whether it did. The held byte, already
// hashed, goes into the ring first.
func (c *checkReader) startPipe(read int) bool {
	if read < c.asyncRead || max(c.length, c.n) < c.asyncBody || c.length >= 0 && c.length-c.n <= int64(read) {
		return false
	}
	start := c.pipeStart
	if start == 0 {
		start = pipeStartFor(c.length)
	}
	if c.pipe = newHashPipe(c.h, c.ringSize, start); c.pipe == nil { // all slots taken
		return false
	}
	if c.has {
		c.pipe.preload(c.held)
		c.has = false
	}
	return true
}

// readPiped is Read once the body goes through c.pipe: p gets what the
// ring holds, all but its last byte until the check has passed, and an
// empty ring is filled with one read of up to pipeReadMax bytes. The read
// that ends the body waits for the worker, then checks; the pipe's ring
// goes back to its pool with the body's last byte, or the failure.
func (c *checkReader) readPiped(p []byte) (int, error) {
	for {
		end := c.pipe.in // the owner's own field: fill, which writes it, is not running
		if !c.done {
			end-- // held back until the check has passed
		}
		if n := c.pipe.take(p, end); n > 0 || c.done {
			if c.done && c.pipe.given == c.pipe.in {
				c.pipe.release()
				c.pipe = nil
				c.err = io.EOF
				return n, io.EOF
			}
			return n, nil
		}
		limit := int64(pipeReadMax)
		if c.length >= 0 {
			limit = min(limit, c.length-c.n+1) // one more: a body longer than declared shows
		}
		n, err := c.pipe.fill(c.rc, int(limit))
		c.n += int64(n)
		if err == nil && (c.length < 0 || c.n < c.length) {
			c.pipe.kick()
			if n == 0 {
				return 0, nil
			}
			continue
		}
		c.pipe.flush() // every byte is in the digest, which is c.h's again
		if ferr := c.check(err); ferr != nil {
			c.pipe.release()
			c.pipe = nil
			return c.fail(ferr)
		}
	}
}

// NewMD5Reader wraps body so that reaching EOF checks the bytes against the
// base64 Content-MD5 value; a mismatch fails that Read with ErrBadDigest
// (and the final bytes are withheld, see checkReader). A malformed value is
// reported at construction as ErrInvalidDigest. A nil body is taken as empty.
func NewMD5Reader(body io.ReadCloser, contentMD5 string) (io.ReadCloser, error) {
	want, err := base64.StdEncoding.DecodeString(contentMD5)
	if err != nil || len(want) != md5.Size {
		return nil, fmt.Errorf("%w: %q", ErrInvalidDigest, contentMD5)
	}
	if body == nil {
		body = http.NoBody
	}
	return newCheckReader(body, md5.New(), want, -1, ErrBadDigest), nil
}

// WrapPayload wraps the decoded payload of res.Body below any aws-chunked
// re-encoding: wrap is given a reader of the object bytes and returns the
// reader to take its place, which must yield the same bytes and close the
// reader it was given (NewMD5Reader is one). A reader that checks the
// payload should withhold its last byte until the check passes: for an
// aws-chunked Body the final chunk and the trailer are emitted only after
// the wrapped reader has returned io.EOF, so a failed check leaves the
// upstream stream incomplete.
//
// WrapPayload must be called before Body is read. Lengths are unchanged,
// except for a client's unsigned aws-chunked stream
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER), which Body otherwise passes through
// as is: it is decoded (its framing, trailer names and
// x-amz-decoded-content-length checked, chunks of at most
// VerifierOptions.MaxChunkSize) and re-encoded around wrap, and
// ContentLength becomes the re-encoded stream's length (-1 when a
// trailer's value length is not known in advance); UpstreamContentSHA256,
// DecodedContentLength and Trailer stay as they are. That needs
// x-amz-decoded-content-length and x-amz-trailer (else ErrMalformedAuth).
//
// When Body is nil the payload is empty: wrap(http.NoBody) is read to its
// end at once, its error returned, and Body stays nil. An error from wrap is
// returned with res unchanged. WrapPayload may be called more than once;
// the last wrap is outermost. Not safe for concurrent use.
func (res *Result) WrapPayload(wrap func(io.ReadCloser) (io.ReadCloser, error)) error {
	switch {
	case res.Body == nil:
		rc, err := wrap(http.NoBody)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		return err
	case res.state == nil || res.state.deferred != nil: // the payload itself
		rc, err := wrap(res.Body)
		if err != nil {
			return err
		}
		res.Body = rc
		return nil
	case res.state.enc == nil: // a client's unsigned aws-chunked stream
		return res.reencode(wrap)
	}
	enc := res.state.enc
	rc, err := wrap(enc.src)
	if err != nil {
		return err
	}
	enc.src = rc
	return nil
}

// reencode replaces a client's unsigned aws-chunked Body with the decoded
// payload, wrapped, re-encoded.
func (res *Result) reencode(wrap func(io.ReadCloser) (io.ReadCloser, error)) error {
	if res.DecodedContentLength < 0 {
		return fmt.Errorf("%w: aws-chunked upload without x-amz-decoded-content-length", ErrMalformedAuth)
	}
	names, err := trailerNames(res.Trailer)
	if err != nil {
		return err
	}
	cr := newUnsignedChunkReader(res.Body, res.DecodedContentLength, res.state.maxChunk, names)
	src, err := wrap(cr)
	if err != nil {
		return err
	}
	enc := newUnsignedChunkEncoder(cr, res.DecodedContentLength, upstreamChunkSize)
	enc.src = src
	res.Body, res.ContentLength, res.state.enc = enc, enc.length(), enc
	return nil
}

// Compile-time checks.
var (
	_ io.ReadCloser = (*checkReader)(nil)
	_ io.ReadCloser = (*chunkReader)(nil)
	_ io.ReadCloser = (*unsignedChunkEncoder)(nil)
	_ error         = (*MismatchError)(nil)
)
