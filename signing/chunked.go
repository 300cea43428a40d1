package signing

// Signed aws-chunked payloads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]),
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// sigv4-streaming-trailers.html. Each chunk is
//
//	hex(size);chunk-signature=<sig>\r\n<data>\r\n
//
// with sig chained from the seed (Authorization) signature; a final empty
// chunk ends the data, then either \r\n, or the trailer lines, an
// x-amz-trailer-signature line and \r\n.
//
// The same reader parses unsigned aws-chunked with a trailer
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER, when Result.WrapPayload must see the
// object bytes): chunk headers are a bare hex size, and the trailer lines end
// at the closing \r\n, with no signatures at all.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const (
	maxChunkHeaderLine = 4096     // hex size, ";chunk-signature=", 64 hex, slack
	maxTrailerBytes    = 16 << 10 // all trailer lines together
	upstreamChunkSize  = 64 << 10 // chunk size of the re-encoded unsigned stream
)

// emptyHashBytes is emptySHA256 as bytes.
var emptyHashBytes = []byte(emptySHA256)

// chunkChain is the signing state of an aws-chunked stream: the derived key,
// the request time and the previous signature (the seed at first).
type chunkChain struct {
	key     *derivedKey
	amzDate string
	prev    [64]byte
	// skipVerify accepts every signature. Only the parser fuzz test sets it:
	// a client holding a valid key can sign any malformed stream, so the
	// parser behind the signature check must be fuzzed too.
	skipVerify bool
}

// verifyNext checks sig over the string to sign made of header (algorithm
// line) and the given hex hashes, and advances the chain.
func (c *chunkChain) verifyNext(algorithm string, sig *[64]byte, hexHashes ...[]byte) error {
	if c.skipVerify {
		c.prev = *sig
		return nil
	}
	sc := getScratch()
	defer putScratch(sc)
	b := append(sc.sts[:0], algorithm...)
	b = append(b, '\n')
	b = append(b, c.amzDate...)
	b = append(b, '\n')
	b = append(b, c.key.scope...)
	b = append(b, '\n')
	b = append(b, c.prev[:]...)
	for _, h := range hexHashes {
		b = append(b, '\n')
		b = append(b, h...)
	}
	sc.sts = b
	sc.hmacKey(c.key, sc.sts)
	hex.Encode(sc.hexSum[:], sc.sum[:])
	if subtle.ConstantTimeCompare(sc.hexSum[:], sig[:]) != 1 {
		return &MismatchError{StringToSign: string(sc.sts), SignatureProvided: string(sig[:])}
	}
	c.prev = *sig
	return nil
}

// chunked sets res up for a signed aws-chunked body.
func (v *Verifier) chunked(r *http.Request, res *Result, chain *chunkChain, trailer bool) (*Result, error) {
	dl, err := decodedContentLength(r.Header)
	if err != nil {
		return nil, err
	}
	if dl < 0 {
		return nil, fmt.Errorf("%w: aws-chunked upload without x-amz-decoded-content-length", ErrMalformedAuth)
	}
	var body io.ReadCloser = http.NoBody
	if hasBody(r) {
		body = r.Body
	}
	var names []string
	if trailer {
		if names, err = trailerNames(r.Header.Get("X-Amz-Trailer")); err != nil {
			return nil, err
		}
	}
	cr := newChunkReader(body, chain, dl, v.opts.MaxChunkSize, names)
	res.DecodedContentLength = dl
	if !trailer {
		if dl == 0 {
			// An empty payload still ends in a signed final chunk; its
			// stream is a few bytes, so check it now and forward no body
			// rather than a zero-length body that must be read to be checked.
			if _, err := io.Copy(io.Discard, cr); err != nil {
				return nil, err
			}
			res.Body, res.ContentLength = nil, 0
			return res, nil
		}
		res.Body, res.ContentLength = cr, dl
		return res, nil
	}
	enc := newUnsignedChunkEncoder(cr, dl, upstreamChunkSize)
	res.Body, res.ContentLength, res.state = enc, enc.length(), &bodyState{enc: enc}
	res.UpstreamContentSHA256 = StreamingUnsignedTrailer
	res.Trailer = strings.Join(names, ",")
	return res, nil
}

// trailerNames parses x-amz-trailer: a comma-separated list of header names,
// lower-cased. At least one is required.
func trailerNames(h string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(h, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		if !isToken(n) {
			return nil, fmt.Errorf("%w: x-amz-trailer %q", ErrMalformedAuth, h)
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: trailer upload without x-amz-trailer", ErrMalformedAuth)
	}
	return names, nil
}

// chunkReader decodes and verifies a signed aws-chunked stream, yielding the
// payload. It withholds the last byte of every chunk until the chunk's
// signature has been checked, and the last byte of the payload until the
// final chunk, the trailer and the total length have been checked; any
// failure fails the Read that finds it, with no bytes. In unsigned mode it
// only checks the framing, the trailer names and the lengths. Not safe for
// concurrent use.
type chunkReader struct {
	br       *bufio.Reader
	rc       io.Closer
	chain    chunkChain
	h        hash.Hash // chunk data hash; nil when unsigned
	unsigned bool      // unsigned aws-chunked: no signatures to check
	want     int64     // x-amz-decoded-content-length
	decoded  int64     // payload bytes read so far
	maxChunk int64
	remain   int64 // bytes left in the current chunk
	sig      [64]byte
	one      [1]byte
	started  bool
	names    []string // expected trailer names; nil: no trailer
	trailers []byte   // verified trailer lines "name:value\n"
	err      error    // sticky: io.EOF after success, or the failure
}

func newChunkReader(rc io.ReadCloser, chain *chunkChain, want int64, maxChunk int, names []string) *chunkReader {
	return &chunkReader{
		br: bufio.NewReaderSize(rc, 32<<10), rc: rc, chain: *chain, h: sha256.New(),
		want: want, maxChunk: int64(maxChunk), names: names,
	}
}

// newUnsignedChunkReader returns a chunkReader over an unsigned aws-chunked
// stream with a trailer carrying exactly the given names.
func newUnsignedChunkReader(rc io.ReadCloser, want int64, maxChunk int, names []string) *chunkReader {
	return &chunkReader{
		br: bufio.NewReaderSize(rc, 32<<10), rc: rc, unsigned: true,
		want: want, maxChunk: int64(maxChunk), names: names,
	}
}

// Close closes the wrapped body.
func (c *chunkReader) Close() error { return c.rc.Close() }

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !c.started {
		c.started = true
		if err := c.nextChunk(); err != nil {
			return c.fail(err)
		}
		if c.err == io.EOF { // empty payload
			return 0, io.EOF
		}
	}
	if c.remain > 1 {
		n, err := c.br.Read(p[:min(int64(len(p)), c.remain-1)])
		if c.h != nil {
			c.h.Write(p[:n])
		}
		c.remain -= int64(n)
		c.decoded += int64(n)
		if err != nil {
			return c.fail(truncated(err))
		}
		return n, nil
	}
	// The last byte of the chunk: verify before handing it out.
	last, err := c.br.ReadByte()
	if err != nil {
		return c.fail(truncated(err))
	}
	if c.h != nil {
		c.one[0] = last
		c.h.Write(c.one[:])
	}
	c.remain = 0
	c.decoded++
	if err := c.endChunk(); err != nil {
		return c.fail(err)
	}
	if err := c.nextChunk(); err != nil {
		return c.fail(err)
	}
	p[0] = last
	return 1, c.err // io.EOF when that was the last byte
}

func (c *chunkReader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

// truncated classifies a read error inside the stream.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: aws-chunked stream truncated", ErrIncompleteBody)
	}
	return err
}

// endChunk reads the CRLF after a chunk's data and, in a signed stream,
// verifies the chunk's signature.
func (c *chunkReader) endChunk() error {
	if err := c.expectCRLF(); err != nil || c.unsigned {
		return err
	}
	var sum [32]byte
	var hexSum [64]byte
	hex.Encode(hexSum[:], c.h.Sum(sum[:0]))
	c.h.Reset()
	return c.chain.verifyNext(algorithmPayload, &c.sig, emptyHashBytes, hexSum[:])
}

func (c *chunkReader) expectCRLF() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.br, crlf[:]); err != nil {
		return truncated(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return fmt.Errorf("%w: aws-chunked: missing CRLF after chunk data", ErrIncompleteBody)
	}
	return nil
}

// nextChunk reads a chunk header. For the final (empty) chunk it verifies
// the chunk, the trailer and the end of the stream and sets c.err to io.EOF.
func (c *chunkReader) nextChunk() error {
	line, err := c.readLine(maxChunkHeaderLine)
	if err != nil {
		return err
	}
	var size int64
	if c.unsigned {
		size, err = parseChunkSize(line, line)
	} else {
		size, err = parseChunkHeader(line, &c.sig)
	}
	if err != nil {
		return err
	}
	if size > c.maxChunk {
		return fmt.Errorf("%w: aws-chunked chunk of %d bytes exceeds the limit of %d", ErrIncompleteBody, size, c.maxChunk)
	}
	if c.decoded+size > c.want {
		return fmt.Errorf("%w: aws-chunked payload longer than x-amz-decoded-content-length %d", ErrIncompleteBody, c.want)
	}
	if size > 0 {
		c.remain = size
		return nil
	}
	if !c.unsigned {
		if err := c.chain.verifyNext(algorithmPayload, &c.sig, emptyHashBytes, emptyHashBytes); err != nil {
			return err
		}
	}
	if c.decoded != c.want {
		return fmt.Errorf("%w: aws-chunked payload of %d bytes, x-amz-decoded-content-length %d", ErrIncompleteBody, c.decoded, c.want)
	}
	if err := c.readEnd(); err != nil {
		return err
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: data after the end of the aws-chunked stream", ErrIncompleteBody)
	}
	c.err = io.EOF
	return nil
}

// readEnd reads what follows the final chunk: the trailer, or the closing
// CRLF when there is none.
func (c *chunkReader) readEnd() error {
	switch {
	case c.unsigned:
		return c.readUnsignedTrailer()
	case c.names != nil:
		return c.readTrailer()
	}
	return c.expectCRLF()
}

// parseChunkHeader parses "hex;chunk-signature=<64 hex>".
func parseChunkHeader(line []byte, sig *[64]byte) (int64, error) {
	sizeHex, rest, ok := bytes.Cut(line, []byte(";chunk-signature="))
	if !ok || len(rest) != 64 || !isLowerHex(string(rest)) {
		return 0, fmt.Errorf("%w: aws-chunked: bad chunk header %.80q", ErrIncompleteBody, line)
	}
	size, err := parseChunkSize(sizeHex, line)
	if err != nil {
		return 0, err
	}
	copy(sig[:], rest)
	return size, nil
}

// parseChunkSize parses the hex chunk size sizeHex of the header line.
func parseChunkSize(sizeHex, line []byte) (int64, error) {
	if len(sizeHex) == 0 || len(sizeHex) > 15 {
		return 0, fmt.Errorf("%w: aws-chunked: bad chunk header %.80q", ErrIncompleteBody, line)
	}
	size, err := strconv.ParseInt(string(sizeHex), 16, 64)
	if err != nil || sizeHex[0] == '+' || sizeHex[0] == '-' {
		return 0, fmt.Errorf("%w: aws-chunked: bad chunk size %.80q", ErrIncompleteBody, sizeHex)
	}
	return size, nil
}

// readLine reads a line ending in LF (an optional CR before it is dropped),
// at most max bytes. The result is valid until the next read.
func (c *chunkReader) readLine(max int) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > max {
		return nil, fmt.Errorf("%w: aws-chunked: line too long", ErrIncompleteBody)
	}
	if err != nil {
		return nil, truncated(err)
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

// readTrailer reads the trailer lines (blank lines between them tolerated, as
// minio-go writes "name:value\n\r\n"), the x-amz-trailer-signature line and
// the closing CRLF, and verifies the trailer signature.
func (c *chunkReader) readTrailer() error {
	var sig [64]byte
	for {
		line, err := c.readLine(maxTrailerBytes)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			continue
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return fmt.Errorf("%w: aws-chunked: bad trailer line", ErrIncompleteBody)
		}
		if string(name) == "x-amz-trailer-signature" {
			if len(value) != 64 || !isLowerHex(string(value)) {
				return fmt.Errorf("%w: aws-chunked: bad trailer signature", ErrIncompleteBody)
			}
			copy(sig[:], value)
			break
		}
		if len(c.trailers)+len(line) >= maxTrailerBytes {
			return fmt.Errorf("%w: aws-chunked: trailer too long", ErrIncompleteBody)
		}
		c.trailers = append(append(c.trailers, line...), '\n')
	}
	if err := c.checkTrailerNames(); err != nil {
		return err
	}
	line, err := c.readLine(2)
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return fmt.Errorf("%w: aws-chunked: missing final CRLF", ErrIncompleteBody)
	}
	sum := sha256.Sum256(c.trailers)
	var hexSum [64]byte
	hex.Encode(hexSum[:], sum[:])
	return c.chain.verifyNext(algorithmTrailer, &sig, hexSum[:])
}

// readUnsignedTrailer reads the trailer lines of an unsigned stream (blank
// lines between them tolerated, as in readTrailer) until x-amz-trailer's
// names are all there, then the closing CRLF. minio-go ends its trailer with
// "name:value\n\r\n\r\n", so further blank lines up to the end of the stream
// are accepted too.
func (c *chunkReader) readUnsignedTrailer() error {
	for n := 0; n < len(c.names); {
		line, err := c.readLine(maxTrailerBytes)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			continue
		}
		if bytes.IndexByte(line, ':') < 0 {
			return fmt.Errorf("%w: aws-chunked: bad trailer line", ErrIncompleteBody)
		}
		if len(c.trailers)+len(line) >= maxTrailerBytes {
			return fmt.Errorf("%w: aws-chunked: trailer too long", ErrIncompleteBody)
		}
		c.trailers = append(append(c.trailers, line...), '\n')
		n++
	}
	if err := c.checkTrailerNames(); err != nil {
		return err
	}
	for first := true; ; first = false {
		if _, err := c.br.Peek(1); err != nil && !first {
			return nil // the end of the stream is checked by the caller
		}
		line, err := c.readLine(2)
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return fmt.Errorf("%w: aws-chunked: missing final CRLF", ErrIncompleteBody)
		}
	}
}

// checkTrailerNames requires the trailer lines to carry exactly the declared
// x-amz-trailer names, once each, in any order.
func (c *chunkReader) checkTrailerNames() error {
	lines := c.trailerLines()
	if len(lines) != len(c.names) {
		return fmt.Errorf("%w: aws-chunked: %d trailers, x-amz-trailer declares %d", ErrIncompleteBody, len(lines), len(c.names))
	}
	seen := make([]bool, len(c.names))
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		i := slices.Index(c.names, strings.ToLower(name))
		if i < 0 || seen[i] {
			return fmt.Errorf("%w: aws-chunked: trailer %q not declared in x-amz-trailer", ErrIncompleteBody, name)
		}
		seen[i] = true
	}
	return nil
}

// trailerLines returns the verified trailer lines, "name:value" each, once
// the reader has reached io.EOF.
func (c *chunkReader) trailerLines() []string {
	if len(c.trailers) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(c.trailers), "\n"), "\n")
}
