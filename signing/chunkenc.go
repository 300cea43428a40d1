package signing

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// checksumValueLen is the length of the base64 value of each checksum
// trailer S3 accepts, so the re-encoded stream's length is known in advance.
var checksumValueLen = map[string]int{
	"x-amz-checksum-crc32":     8,
	"x-amz-checksum-crc32c":    8,
	"x-amz-checksum-crc64nvme": 12,
	"x-amz-checksum-sha1":      28,
	"x-amz-checksum-sha256":    44,
}

// unsignedChunkEncoder re-encodes the verified payload of an aws-chunked
// upload with a trailer as an unsigned aws-chunked stream
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with fixed-size chunks, so that the
// checksum trailer still reaches S3 and the stream's length is known before
// it is sent:
//
//	hex(size)\r\n<data>\r\n ... 0\r\n<name>:<value>\r\n\r\n
//
// The payload is read from src, which is cr itself or a reader wrapping it
// (Result.WrapPayload); the trailer lines come from cr. Because cr withholds
// the payload's last byte until the trailer signature has been verified, and
// the final chunk is queued only once src has reported io.EOF, the stream is
// never complete upstream before every check, src's included, has passed.
type unsignedChunkEncoder struct {
	src     io.ReadCloser // the decoded payload: cr, possibly wrapped
	cr      *chunkReader
	size    int64 // payload length
	chunk   int64 // upstream chunk size
	pos     int64 // payload bytes emitted
	left    int64 // payload bytes left in the current chunk
	inData  bool
	final   bool // the closing chunk and trailers are queued
	pending []byte
	err     error
}

func newUnsignedChunkEncoder(cr *chunkReader, size, chunk int64) *unsignedChunkEncoder {
	return &unsignedChunkEncoder{src: cr, cr: cr, size: size, chunk: chunk}
}

// length is the exact length of the encoded stream, or -1 when a trailer's
// value length cannot be known in advance.
func (e *unsignedChunkEncoder) length() int64 {
	n := e.size / e.chunk
	rem := e.size % e.chunk
	total := n * (int64(len(strconv.FormatInt(e.chunk, 16))) + 4 + e.chunk)
	if rem > 0 {
		total += int64(len(strconv.FormatInt(rem, 16))) + 4 + rem
	}
	total += int64(len("0\r\n") + len("\r\n"))
	for _, name := range e.cr.names {
		vl, ok := checksumValueLen[name]
		if !ok {
			return -1
		}
		total += int64(len(name) + 1 + vl + 2)
	}
	return total
}

// Close closes the payload reader, and the chunk reader if that is wrapped.
func (e *unsignedChunkEncoder) Close() error {
	err := e.src.Close()
	if e.src != io.ReadCloser(e.cr) {
		if cerr := e.cr.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (e *unsignedChunkEncoder) Read(p []byte) (int, error) {
	for {
		if e.err != nil {
			return 0, e.err
		}
		if len(e.pending) > 0 {
			n := copy(p, e.pending)
			e.pending = e.pending[n:]
			return n, nil
		}
		switch {
		case e.final:
			e.err = io.EOF
		case e.inData:
			n, err := e.src.Read(p[:min(int64(len(p)), e.left)])
			e.pos += int64(n)
			e.left -= int64(n)
			if e.left == 0 {
				e.inData = false
				e.pending = append(e.pending[:0], '\r', '\n')
			}
			if err != nil && err != io.EOF {
				e.err = err
				return 0, err
			}
			if err == io.EOF && e.left > 0 {
				e.err = fmt.Errorf("%w: aws-chunked payload ended early", ErrIncompleteBody)
				return 0, e.err
			}
			if n > 0 {
				return n, nil
			}
		case e.pos < e.size:
			c := min(e.chunk, e.size-e.pos)
			e.pending = strconv.AppendInt(e.pending[:0], c, 16)
			e.pending = append(e.pending, '\r', '\n')
			e.left, e.inData = c, true
		default:
			if err := e.queueFinal(); err != nil {
				e.err = err
				return 0, err
			}
		}
	}
}

// queueFinal makes sure src and cr have verified everything, then queues
// the closing chunk and the trailers.
func (e *unsignedChunkEncoder) queueFinal() error {
	if err := expectEOF(e.src); err != nil {
		return err
	}
	if e.cr.err != io.EOF { // src is a wrapper that stopped short of cr's end
		if err := expectEOF(e.cr); err != nil {
			return err
		}
	}
	b := append(e.pending[:0], "0\r\n"...)
	for _, l := range e.cr.trailerLines() {
		name, value, _ := strings.Cut(l, ":")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if vl, ok := checksumValueLen[name]; ok && len(value) != vl {
			return fmt.Errorf("%w: trailer %s value of %d characters, want %d", ErrIncompleteBody, name, len(value), vl)
		}
		b = append(b, name...)
		b = append(b, ':')
		b = append(b, value...)
		b = append(b, '\r', '\n')
	}
	e.pending = append(b, '\r', '\n')
	e.final = true
	return nil
}

// expectEOF reads r, whose declared length has been read, expecting io.EOF:
// a reader that checks the payload reports its verdict there at the latest.
func expectEOF(r io.Reader) error {
	var one [1]byte
	for range 100 { // as bufio, give up on a reader that makes no progress
		n, err := r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("%w: aws-chunked payload longer than declared", ErrIncompleteBody)
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
	return fmt.Errorf("%w: aws-chunked stream did not end: %w", ErrIncompleteBody, io.ErrNoProgress)
}
