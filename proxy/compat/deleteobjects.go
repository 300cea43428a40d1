package compat

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// DefaultDeleteObjectsMaxBody bounds the DeleteObjects body that
// DeleteObjectsChecksum buffers: S3 allows 1000 keys of at most 1024 bytes
// per request, about 1.1 MiB of XML in practice.
const DefaultDeleteObjectsMaxBody = 2 << 20

// HeaderChecksumCRC32 carries the base64 big-endian CRC32 (IEEE) of a body.
const HeaderChecksumCRC32 = "X-Amz-Checksum-Crc32"

// DeleteObjectsChecksum prepares a DeleteObjects (POST /?delete) body for a
// directory bucket, which requires an x-amz-checksum-* header and refuses
// Content-MD5. If the request already carries an x-amz-checksum-* header
// nothing is buffered: Content-MD5, if any, is verified while streaming as
// by ContentMD5. Otherwise the body (whose own verifying readers run to EOF
// here) is read into a buffer of at most maxBytes (<= 0 means
// DefaultDeleteObjectsMaxBody), Content-MD5 is checked against it and
// removed, and x-amz-checksum-crc32 is set. It returns the body to send and
// its length (-1 if unchanged and unknown); the caller sets the request's
// Body and ContentLength from them. A larger body is 400 MalformedXML; a
// malformed or wrong Content-MD5 is 400 InvalidDigest / BadDigest; a body
// read error is returned wrapped (its own classification preserved). body
// is closed when it was consumed here. On error h is untouched and body and
// contentLength are returned as given (closing body again is harmless).
func DeleteObjectsChecksum(h http.Header, body io.ReadCloser, contentLength int64, maxBytes int64) (io.ReadCloser, int64, error) {
	out, n, err := deleteObjectsChecksum(h, body, contentLength, maxBytes)
	if err != nil {
		return body, contentLength, err
	}
	return out, n, nil
}

func deleteObjectsChecksum(h http.Header, body io.ReadCloser, contentLength int64, maxBytes int64) (io.ReadCloser, int64, error) {
	for k := range h {
		if strings.HasPrefix(k, "X-Amz-Checksum-") {
			b, err := ContentMD5(h, body)
			return b, contentLength, err
		}
	}
	if maxBytes <= 0 {
		maxBytes = DefaultDeleteObjectsMaxBody
	}
	var want []byte
	if _, ok := h[HeaderContentMD5]; ok {
		var err error
		if want, err = parseContentMD5(h.Get(HeaderContentMD5)); err != nil {
			return nil, 0, err
		}
	}
	if contentLength > maxBytes {
		return nil, 0, tooLarge(contentLength, maxBytes)
	}
	var buf []byte
	if body != nil {
		defer body.Close()
		var err error
		buf, err = readBounded(body, contentLength, maxBytes, "DeleteObjects", tooLarge)
		if err != nil {
			return nil, 0, err
		}
	}
	if want != nil {
		if sum := md5.Sum(buf); !bytes.Equal(sum[:], want) {
			return nil, 0, badDigest()
		}
	}
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], crc32.ChecksumIEEE(buf))
	h.Del(HeaderContentMD5)
	h.Set(HeaderChecksumCRC32, base64.StdEncoding.EncodeToString(crc[:]))
	return io.NopCloser(bytes.NewReader(buf)), int64(len(buf)), nil
}

// readBounded reads r to EOF into a buffer of at most limit bytes; op
// names the body in a read error, and a longer body is refused with
// tooLarge(n, limit).
func readBounded(r io.Reader, sizeHint, limit int64, op string, tooLarge func(n, limit int64) error) ([]byte, error) {
	var b bytes.Buffer
	if sizeHint > 0 {
		b.Grow(int(sizeHint))
	}
	n, err := b.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("compat: read %s body: %w", op, err)
	}
	if n > limit {
		return nil, tooLarge(n, limit)
	}
	return b.Bytes(), nil
}

func tooLarge(n, max int64) error {
	return s3err.Wrap(fmt.Errorf("compat: DeleteObjects body of %d bytes exceeds %d", n, max),
		http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema "+
			"(DeleteObjects body too large: at most 1000 keys are allowed).")
}
