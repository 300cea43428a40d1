package signing

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws"
)

var localCreds = aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}

func md5Base64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// unsignedChunkedForTest encodes data as an unsigned aws-chunked stream in
// chunks of size with the given trailer line: in the AWS SDK layout
// ("name:value\r\n\r\n"), or minio-go's ("name:value\n\r\n\r\n").
func unsignedChunkedForTest(data []byte, size int, trailer string, minio bool) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(size, len(data))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, data[:n])
		data = data[n:]
	}
	b.WriteString("0\r\n" + trailer)
	if minio {
		b.WriteString("\n\r\n\r\n")
	} else {
		b.WriteString("\r\n\r\n")
	}
	return b.Bytes()
}

// unsignedTrailerRequest is a SigV4-signed STREAMING-UNSIGNED-PAYLOAD-TRAILER
// upload of data with a CRC32 trailer.
func unsignedTrailerRequest(t testing.TB, data []byte, minio bool) *http.Request {
	t.Helper()
	wire := unsignedChunkedForTest(data, 8192, "x-amz-checksum-crc32:"+crc32Base64(data), minio)
	return sdkSigned(t, "PUT", "http://proxy.local/bkt/obj", map[string]string{
		HeaderContentSHA256:            StreamingUnsignedTrailer,
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data)),
		"X-Amz-Trailer":                "x-amz-checksum-crc32",
	}, wire, localCreds, ServiceS3, docTime)
}

// payloadKinds builds a verified upload of data for each kind of body.
// chunked marks the kinds whose Body is an unsigned aws-chunked stream.
var payloadKinds = []struct {
	name    string
	chunked bool
	req     func(t testing.TB, data []byte) *http.Request
}{
	{"UNSIGNED-PAYLOAD", false, func(t testing.TB, data []byte) *http.Request {
		return sdkSigned(t, "PUT", "http://proxy.local/bkt/obj", map[string]string{HeaderContentSHA256: UnsignedPayload}, data, localCreds, ServiceS3, docTime)
	}},
	{"hex hash", false, func(t testing.TB, data []byte) *http.Request {
		return sdkSigned(t, "PUT", "http://proxy.local/bkt/obj", nil, data, localCreds, ServiceS3, docTime)
	}},
	{"signed chunked", false, func(t testing.TB, data []byte) *http.Request {
		r, _ := minioChunked(t, data, false, docTime)
		return r
	}},
	{"signed chunked trailer", true, func(t testing.TB, data []byte) *http.Request {
		r, _ := minioChunked(t, data, true, docTime)
		return r
	}},
	{"unsigned trailer", true, func(t testing.TB, data []byte) *http.Request {
		return unsignedTrailerRequest(t, data, false)
	}},
	{"unsigned trailer minio layout", true, func(t testing.TB, data []byte) *http.Request {
		return unsignedTrailerRequest(t, data, true)
	}},
}

// wrapMD5 wraps res's payload in an MD5 check against the MD5 of want.
func wrapMD5(t *testing.T, res *Result, want []byte) {
	t.Helper()
	err := res.WrapPayload(func(b io.ReadCloser) (io.ReadCloser, error) { return NewMD5Reader(b, md5Base64(want)) })
	if err != nil {
		t.Fatalf("WrapPayload: %v", err)
	}
}

// TestWrapPayloadMD5 checks Content-MD5 through WrapPayload on every kind of
// body: a correct digest passes the payload byte-exact (for aws-chunked,
// re-encoded with the same trailer); a wrong one fails Body's Read with
// ErrBadDigest before the last payload byte, and so before the final chunk
// and the trailer, has been emitted.
func TestWrapPayloadMD5(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdefghij"), 7000) // 140000 bytes: three upstream chunks
	// upstream is the re-encoded stream of the aws-chunked kinds.
	upstream := unsignedChunkedForTest(data, upstreamChunkSize, "x-amz-checksum-crc32:"+crc32Base64(data), false)
	for _, kind := range payloadKinds {
		want := data
		if kind.chunked {
			want = upstream
		}
		for _, tt := range []struct {
			name  string
			md5Of []byte
		}{
			{"correct", data},
			{"wrong", data[1:]},
		} {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				res, err := NewVerifier(testKeys).Verify(kind.req(t, data), docTime)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				upstreamSHA, decoded, trailerHdr := res.UpstreamContentSHA256, res.DecodedContentLength, res.Trailer
				wrapMD5(t, res, tt.md5Of)
				if res.UpstreamContentSHA256 != upstreamSHA || res.DecodedContentLength != decoded || res.Trailer != trailerHdr {
					t.Fatalf("WrapPayload changed the result: %+v", res)
				}
				out, err := io.ReadAll(iotest.HalfReader(res.Body))
				if tt.name == "wrong" {
					if !errors.Is(err, ErrBadDigest) {
						t.Fatalf("read error %v, want ErrBadDigest", err)
					}
					lastByte := len(data) - 1 // offset of the last payload byte in the stream
					if kind.chunked {
						lastByte = bytes.LastIndex(upstream, []byte("\r\n0\r\n")) - 1
					}
					if len(out) > lastByte {
						t.Fatalf("emitted %d bytes, up to the last payload byte at %d", len(out), lastByte)
					}
					if !bytes.HasPrefix(want, out) {
						t.Fatal("emitted bytes are not a prefix of the correct stream")
					}
					return
				}
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if int64(len(out)) != res.ContentLength {
					t.Fatalf("%d bytes, ContentLength %d", len(out), res.ContentLength)
				}
				if !bytes.Equal(out, want) {
					got, trailers := out, []string(nil)
					if kind.chunked {
						got, trailers = decodeUnsignedChunked(t, out)
					}
					t.Fatalf("upstream body decodes to %d bytes and trailers %q, want %d bytes", len(got), trailers, len(data))
				}
			})
		}
	}
}

// TestWrapPayloadEmpty: an empty payload is checked in WrapPayload when
// Body is nil, and by Body's Read otherwise.
func TestWrapPayloadEmpty(t *testing.T) {
	for _, kind := range payloadKinds {
		for _, tt := range []struct {
			name  string
			md5Of []byte
			want  error
		}{
			{"correct", nil, nil},
			{"wrong", []byte("x"), ErrBadDigest},
		} {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				res, err := NewVerifier(testKeys).Verify(kind.req(t, nil), docTime)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				wasNil := res.Body == nil
				err = res.WrapPayload(func(b io.ReadCloser) (io.ReadCloser, error) { return NewMD5Reader(b, md5Base64(tt.md5Of)) })
				if wasNil {
					if !errors.Is(err, tt.want) || res.Body != nil {
						t.Fatalf("WrapPayload: %v, Body %v; want %v and no body", err, res.Body, tt.want)
					}
					return
				}
				if err != nil {
					t.Fatalf("WrapPayload: %v", err)
				}
				out, err := io.ReadAll(res.Body)
				if !errors.Is(err, tt.want) {
					t.Fatalf("read error %v, want %v", err, tt.want)
				}
				if err != nil && kind.chunked && bytes.Contains(out, []byte("0\r\n")) {
					t.Fatalf("final chunk emitted despite the mismatch: %q", out)
				}
			})
		}
	}
}

// TestWrapPayloadErrors: a wrap error leaves the result as it was, and an
// unsigned aws-chunked body needs the headers its decoding depends on.
func TestWrapPayloadErrors(t *testing.T) {
	data := []byte("hello, world")
	errWrap := errors.New("wrap refused")
	t.Run("wrap error", func(t *testing.T) {
		for _, kind := range payloadKinds {
			res, err := NewVerifier(testKeys).Verify(kind.req(t, data), docTime)
			if err != nil {
				t.Fatal(err)
			}
			before := *res
			err = res.WrapPayload(func(io.ReadCloser) (io.ReadCloser, error) { return nil, errWrap })
			if !errors.Is(err, errWrap) || res.Body != before.Body || res.ContentLength != before.ContentLength {
				t.Fatalf("%s: %v, body replaced %v", kind.name, err, res.Body != before.Body)
			}
		}
	})
	for _, tt := range []struct {
		name, missing string
	}{
		{"no decoded length", "X-Amz-Decoded-Content-Length"},
		{"no trailer names", "X-Amz-Trailer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{
				HeaderContentSHA256:            StreamingUnsignedTrailer,
				"Content-Encoding":             "aws-chunked",
				"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data)),
				"X-Amz-Trailer":                "x-amz-checksum-crc32",
			}
			delete(hdr, tt.missing)
			wire := unsignedChunkedForTest(data, 5, "x-amz-checksum-crc32:"+crc32Base64(data), false)
			r := sdkSigned(t, "PUT", "http://proxy.local/bkt/obj", hdr, wire, localCreds, ServiceS3, docTime)
			res, err := NewVerifier(testKeys).Verify(r, docTime)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			err = res.WrapPayload(func(b io.ReadCloser) (io.ReadCloser, error) { return NewMD5Reader(b, md5Base64(data)) })
			if !errors.Is(err, ErrMalformedAuth) {
				t.Fatalf("WrapPayload: %v, want ErrMalformedAuth", err)
			}
		})
	}
}

// TestUnsignedChunkReader drives the unsigned aws-chunked parser: valid
// layouts decode, malformed streams fail with ErrIncompleteBody without
// delivering the whole payload.
func TestUnsignedChunkReader(t *testing.T) {
	const data = "hello, world"
	crc := "x-amz-checksum-crc32:" + crc32Base64([]byte(data))
	good := string(unsignedChunkedForTest([]byte(data), 5, crc, false))
	tests := []struct {
		name     string
		stream   string
		want     int64 // x-amz-decoded-content-length
		maxChunk int
		names    []string
		err      error
	}{
		{"aws layout", good, 12, 0, nil, nil},
		{"minio layout", string(unsignedChunkedForTest([]byte(data), 5, crc, true)), 12, 0, nil, nil},
		{"one chunk", "c\r\n" + data + "\r\n0\r\n" + crc + "\r\n\r\n", 12, 0, nil, nil},
		{"upper-case hex", "C\r\n" + data + "\r\n0\r\n" + crc + "\r\n\r\n", 12, 0, nil, nil},
		{"empty payload", "0\r\n" + crc + "\r\n\r\n", 0, 0, nil, nil},
		{"two trailers", "0\r\n" + crc + "\r\nx-amz-checksum-sha1:abc\r\n\r\n", 0, 0, []string{"x-amz-checksum-crc32", "x-amz-checksum-sha1"}, nil},
		{"bad size", strings.Replace(good, "5\r\n", "g\r\n", 1), 12, 0, nil, ErrIncompleteBody},
		{"negative size", strings.Replace(good, "5\r\n", "-5\r\n", 1), 12, 0, nil, ErrIncompleteBody},
		{"signed chunk header", strings.Replace(good, "5\r\n", "5;chunk-signature="+strings.Repeat("a", 64)+"\r\n", 1), 12, 0, nil, ErrIncompleteBody},
		{"empty size", strings.Replace(good, "5\r\n", "\r\n", 1), 12, 0, nil, ErrIncompleteBody},
		{"huge size", "fffffffffffffff\r\n", 12, 0, nil, ErrIncompleteBody},
		{"chunk above the limit", good, 12, 4, nil, ErrIncompleteBody},
		{"longer than declared", good, 11, 0, nil, ErrIncompleteBody},
		{"shorter than declared", good, 13, 0, nil, ErrIncompleteBody},
		{"missing CRLF after data", strings.Replace(good, "hello\r\n", "hello", 1), 12, 0, nil, ErrIncompleteBody},
		{"wrong bytes after data", strings.Replace(good, "hello\r\n", "helloxx", 1), 12, 0, nil, ErrIncompleteBody},
		{"truncated in data", good[:6], 12, 0, nil, ErrIncompleteBody},
		{"truncated before final chunk", good[:strings.Index(good, "0\r\n")], 12, 0, nil, ErrIncompleteBody},
		{"truncated in trailer", good[:len(good)-8], 12, 0, nil, ErrIncompleteBody},
		{"missing final CRLF", good[:len(good)-2], 12, 0, nil, ErrIncompleteBody},
		{"no trailer", strings.Replace(good, crc+"\r\n", "", 1), 12, 0, nil, ErrIncompleteBody},
		{"undeclared trailer", strings.Replace(good, "crc32:", "sha256:", 1), 12, 0, nil, ErrIncompleteBody},
		{"trailer without colon", strings.Replace(good, "crc32:", "crc32=", 1), 12, 0, nil, ErrIncompleteBody},
		{"extra trailer", strings.Replace(good, crc+"\r\n", crc+"\r\nx-amz-meta-a:b\r\n", 1), 12, 0, nil, ErrIncompleteBody},
		{"trailing garbage", good + "x", 12, 0, nil, ErrIncompleteBody},
		{"trailer signature", strings.Replace(good, crc+"\r\n", crc+"\r\nx-amz-trailer-signature:"+strings.Repeat("a", 64)+"\r\n", 1), 12, 0, nil, ErrIncompleteBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := tt.names
			if names == nil {
				names = []string{"x-amz-checksum-crc32"}
			}
			maxChunk := tt.maxChunk
			if maxChunk == 0 {
				maxChunk = 1 << 20
			}
			for _, src := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{{"whole", func(r io.Reader) io.Reader { return r }}, {"one byte", iotest.OneByteReader}} {
				cr := newUnsignedChunkReader(io.NopCloser(src.wrap(strings.NewReader(tt.stream))), tt.want, maxChunk, names)
				out, err := io.ReadAll(cr)
				if !errors.Is(err, tt.err) {
					t.Fatalf("%s: err = %v, want %v", src.name, err, tt.err)
				}
				if err != nil {
					if int64(len(out)) >= tt.want && tt.want > 0 {
						t.Fatalf("%s: the whole payload was delivered before the error", src.name)
					}
					return
				}
				if int64(len(out)) != tt.want || tt.want > 0 && string(out) != data {
					t.Fatalf("%s: decoded %q", src.name, out)
				}
				if got := cr.trailerLines(); len(got) != len(names) {
					t.Fatalf("%s: trailers %q, want %d", src.name, got, len(names))
				}
			}
		})
	}
}

// TestWrapPayloadReencodedLength: the re-encoded unsigned stream is exactly
// as long as announced for payloads around the upstream chunk size.
func TestWrapPayloadReencodedLength(t *testing.T) {
	for _, size := range []int{1, upstreamChunkSize - 1, upstreamChunkSize, upstreamChunkSize + 1, 2 * upstreamChunkSize} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			data := bytes.Repeat([]byte{'q'}, size)
			res, err := NewVerifier(testKeys).Verify(unsignedTrailerRequest(t, data, true), docTime)
			if err != nil {
				t.Fatal(err)
			}
			wrapMD5(t, res, data)
			out, err := io.ReadAll(res.Body)
			if err != nil || int64(len(out)) != res.ContentLength {
				t.Fatalf("%d bytes, %v; ContentLength %d", len(out), err, res.ContentLength)
			}
			if got, _ := decodeUnsignedChunked(t, out); !bytes.Equal(got, data) {
				t.Fatal("payload differs")
			}
		})
	}
}
