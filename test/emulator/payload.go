package emulator

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// checksumSpec is what a request says about its checksum: the algorithm,
// and the expected value from a header or (fromTrailer) an aws-chunked
// trailer. expect "" with fromTrailer false means compute and store only.
type checksumSpec struct {
	alg         string
	expect      string
	fromTrailer bool
}

// parseChecksumSpec reads x-amz-checksum-*, x-amz-trailer and
// x-amz-sdk-checksum-algorithm. defaultAlg is the multipart upload's
// algorithm ("" for none).
func parseChecksumSpec(h http.Header, defaultAlg string) (checksumSpec, *s3Error) {
	var cs checksumSpec
	n := 0
	for _, alg := range checksumAlgs {
		if v := h.Get(checksumHeader(alg)); v != "" {
			if !validChecksumValue(alg, v) {
				return cs, errf(http.StatusBadRequest, "InvalidRequest", "Value for %s header is invalid.", checksumHeader(alg))
			}
			cs, n = checksumSpec{alg: alg, expect: v}, n+1
		}
	}
	for _, t := range splitList(h.Get("X-Amz-Trailer")) {
		name, ok := strings.CutPrefix(strings.ToLower(t), "x-amz-checksum-")
		if !ok || normAlg(name) == "" {
			return cs, errf(http.StatusBadRequest, "InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
		}
		cs, n = checksumSpec{alg: normAlg(name), fromTrailer: true}, n+1
	}
	if n > 1 {
		return cs, newErr(http.StatusBadRequest, "InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	if sdk := h.Get("X-Amz-Sdk-Checksum-Algorithm"); sdk != "" {
		a := normAlg(sdk)
		if a == "" {
			return cs, newErr(http.StatusBadRequest, "InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		if cs.alg != "" && cs.alg != a {
			return cs, newErr(http.StatusBadRequest, "InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
		}
		cs.alg = a
	}
	if cs.alg == "" {
		cs.alg = defaultAlg
	} else if defaultAlg != "" && cs.alg != defaultAlg {
		return cs, errf(http.StatusBadRequest, "InvalidRequest", "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s", strings.ToLower(defaultAlg), strings.ToLower(cs.alg))
	}
	return cs, nil
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// body is a request body being read and verified.
type body struct {
	io.Reader
	chunked *chunkedReader
	sum     hash.Hash // checksum being computed, nil if none
	spec    checksumSpec
}

// checksum returns the computed checksum after a successful read to EOF.
func (b *body) checksum() checksumOf {
	if b.sum == nil {
		return checksumOf{}
	}
	return checksumOf{alg: b.spec.alg, value: sumBase64(b.sum), typ: "FULL_OBJECT"}
}

// openBody wraps the request body in the readers its headers call for:
// aws-chunked decoding (chunk and trailer signatures), the x-amz-content-sha256
// hash, Content-MD5 (when md5OK) and the checksum of cs.
func (rc *reqCtx) openBody(cs checksumSpec, md5OK bool) (*body, *s3Error) {
	h := rc.r.Header
	mode := rc.sig.payloadHash
	b := &body{Reader: rc.r.Body, spec: cs}
	trailer := h.Get("X-Amz-Trailer")
	switch mode {
	case streamSigned, streamSignedTr, streamUnsTr:
		want, err := strconv.ParseInt(h.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || want < 0 {
			return nil, newErr(http.StatusLengthRequired, "MissingContentLength", "You must provide the x-amz-decoded-content-length header for aws-chunked uploads.")
		}
		if (trailer != "") != (mode != streamSigned) {
			return nil, newErr(http.StatusBadRequest, "InvalidRequest", "x-amz-trailer must be set exactly for the STREAMING-*-TRAILER payload types")
		}
		cr := newChunkedReader(rc.r.Body, mode, want, splitList(trailer))
		if cr.signed {
			cr.setSigning(rc.signingKey, rc.sig.amzDate, rc.sig.scope(), rc.sig.signature)
		}
		b.Reader, b.chunked = cr, cr
	default:
		if trailer != "" {
			return nil, newErr(http.StatusBadRequest, "InvalidRequest", "x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256")
		}
		if isHexSHA256(mode) {
			b.Reader = &digestReader{r: b.Reader, h: sha256.New(), want: mode, hexForm: true, fail: errSHA256Mismatch}
		}
	}
	if md := h.Get("Content-Md5"); md != "" {
		if !md5OK {
			return nil, errContentMD5
		}
		raw, err := base64.StdEncoding.DecodeString(md)
		if err != nil || len(raw) != md5.Size {
			return nil, newErr(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.")
		}
		b.Reader = &digestReader{r: b.Reader, h: md5.New(), want: md, fail: newErr(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")}
	}
	if cs.alg != "" {
		b.sum = newChecksum(cs.alg)
		b.Reader = &checksumReader{b: b, r: b.Reader}
	}
	return b, nil
}

// digestReader fails the read at EOF when the digest of what passed differs
// from want (hex or base64).
type digestReader struct {
	r       io.Reader
	h       hash.Hash
	want    string
	hexForm bool
	fail    *s3Error
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	if err == io.EOF {
		var got string
		if d.hexForm {
			got = hex.EncodeToString(d.h.Sum(nil))
		} else {
			got = base64.StdEncoding.EncodeToString(d.h.Sum(nil))
		}
		if got != d.want {
			return n, d.fail
		}
	}
	return n, err
}

type checksumReader struct {
	b *body
	r io.Reader
}

func (c *checksumReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.b.sum.Write(p[:n])
	if err == io.EOF {
		want := c.b.spec.expect
		if c.b.spec.fromTrailer && c.b.chunked != nil {
			want = c.b.chunked.trailerValue(checksumHeader(c.b.spec.alg))
			if !validChecksumValue(c.b.spec.alg, want) {
				return n, errTrailer
			}
		}
		if want != "" && want != sumBase64(c.b.sum) {
			return n, errf(http.StatusBadRequest, "BadDigest", "The %s you specified did not match the calculated checksum.", c.b.spec.alg)
		}
	}
	return n, err
}

// readErr maps an error from reading a request body to the S3 error.
func readErr(err error) *s3Error {
	var se *s3Error
	if errors.As(err, &se) {
		return se
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errEntityTooLarge
	}
	return errIncompleteBody
}
