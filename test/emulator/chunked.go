package emulator

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// chunkedReader decodes an aws-chunked body
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// sigv4-streaming-trailers.html), verifying chunk and trailer signatures
// when signed, and the decoded length at EOF. It streams: chunk data is
// passed on as it arrives and a bad chunk signature fails the next Read,
// before EOF, so nothing is committed.
type chunkedReader struct {
	br        *bufio.Reader
	signed    bool
	trailer   bool
	key       []byte // signing key (signed only)
	amzDate   string
	scope     string
	prevSig   string
	declared  map[string]bool // trailer names announced in x-amz-trailer
	want      int64           // x-amz-decoded-content-length
	remaining int64           // bytes left in the current chunk
	chunkSig  string
	chunkHash hash.Hash
	decoded   int64
	trailers  map[string]string
	err       error
}

var (
	errChunkEncoding = newErr(http.StatusBadRequest, "IncompleteBody", "The request body is not valid aws-chunked encoding")
	errTrailer       = newErr(http.StatusBadRequest, "MalformedTrailerError", "The request contained trailing data that was not well-formed or did not conform to our published schema.")
)

const maxChunkLine = 4096

func newChunkedReader(body io.Reader, mode string, want int64, trailerNames []string) *chunkedReader {
	c := &chunkedReader{
		br:      bufio.NewReaderSize(body, 64<<10),
		signed:  mode == streamSigned || mode == streamSignedTr,
		trailer: mode == streamSignedTr || mode == streamUnsTr,
		want:    want,
		// remaining < 0: a chunk header is due.
		remaining: -1,
		declared:  map[string]bool{},
		trailers:  map[string]string{},
	}
	for _, n := range trailerNames {
		c.declared[strings.ToLower(strings.TrimSpace(n))] = true
	}
	if c.signed {
		c.chunkHash = sha256.New()
	}
	return c
}

// setSigning gives a signed decoder its key, date, scope and seed signature.
func (c *chunkedReader) setSigning(key []byte, amzDate, scope, seed string) {
	c.key, c.amzDate, c.scope, c.prevSig = key, amzDate, scope, seed
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.err == nil && c.remaining <= 0 {
		if c.remaining == 0 {
			c.err = c.endChunk()
		} else {
			c.err = c.readHeader()
		}
	}
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	c.remaining -= int64(n)
	c.decoded += int64(n)
	if c.signed {
		c.chunkHash.Write(p[:n])
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.err = err
	}
	return n, nil
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return "", errChunkEncoding
	}
	if err == io.EOF {
		return "", io.ErrUnexpectedEOF
	}
	if err != nil {
		return "", err
	}
	s := string(line)
	if !strings.HasSuffix(s, "\r\n") {
		return "", errChunkEncoding
	}
	return s[:len(s)-2], nil
}

func (c *chunkedReader) readHeader() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	sizeStr, ext, _ := strings.Cut(line, ";")
	size, perr := strconv.ParseInt(sizeStr, 16, 64)
	if perr != nil || size < 0 || len(sizeStr) > 16 {
		return errChunkEncoding
	}
	if c.signed {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok || len(sig) != 64 {
			return errChunkEncoding
		}
		c.chunkSig = sig
		c.chunkHash.Reset()
	}
	if c.decoded+size > c.want {
		return newErr(http.StatusBadRequest, "InvalidRequest", "aws-chunked body is longer than x-amz-decoded-content-length")
	}
	if size == 0 {
		return c.finish()
	}
	c.remaining = size
	return nil
}

// endChunk checks a chunk's trailing CRLF and signature.
func (c *chunkedReader) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.br, crlf[:]); err != nil {
		return io.ErrUnexpectedEOF
	}
	if crlf != [2]byte{'\r', '\n'} {
		return errChunkEncoding
	}
	if err := c.checkChunkSig(); err != nil {
		return err
	}
	c.remaining = -1
	return nil
}

func (c *chunkedReader) checkChunkSig() error {
	if !c.signed {
		return nil
	}
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.amzDate + "\n" + c.scope + "\n" + c.prevSig + "\n" +
		emptySHA256 + "\n" + hex.EncodeToString(c.chunkHash.Sum(nil))
	want := hex.EncodeToString(hmacSHA256(c.key, []byte(sts)))
	if !hmac.Equal([]byte(want), []byte(c.chunkSig)) {
		return errSignatureMismatch
	}
	c.prevSig = c.chunkSig
	return nil
}

// finish handles the final zero-length chunk, the trailers and the end of
// the body; it returns io.EOF when all is well.
func (c *chunkedReader) finish() error {
	if err := c.checkChunkSig(); err != nil {
		return err
	}
	if err := c.readTrailers(); err != nil {
		return err
	}
	if c.decoded != c.want {
		return errIncompleteBody
	}
	return io.EOF
}

func (c *chunkedReader) readTrailers() error {
	var canon bytes.Buffer
	var trailerSig string
	for {
		line, err := c.readLine()
		if err == io.ErrUnexpectedEOF && c.trailer && len(c.trailers) == len(c.declared) && !c.signed {
			break // tolerate a missing final CRLF after the trailers
		}
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		if !c.trailer {
			return errTrailer
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok {
			return errTrailer
		}
		if name == "x-amz-trailer-signature" && c.signed {
			trailerSig = value
			continue
		}
		if !c.declared[name] {
			return errTrailer
		}
		c.trailers[name] = value
		canon.WriteString(name + ":" + value + "\n")
	}
	if len(c.trailers) != len(c.declared) {
		return errTrailer
	}
	if c.signed && c.trailer {
		sum := sha256.Sum256(canon.Bytes())
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.amzDate + "\n" + c.scope + "\n" + c.prevSig + "\n" + hex.EncodeToString(sum[:])
		want := hex.EncodeToString(hmacSHA256(c.key, []byte(sts)))
		if !hmac.Equal([]byte(want), []byte(trailerSig)) {
			return errSignatureMismatch
		}
	}
	return nil
}

// trailerValue returns a trailer's value once the body has been read.
func (c *chunkedReader) trailerValue(name string) string { return c.trailers[name] }
