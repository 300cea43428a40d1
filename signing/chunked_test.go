package signing

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	minisigner "github.com/minio/minio-go/v7/pkg/signer"
)

// The chunked-upload example of the S3 API reference (sigv4-streaming.html):
// 65 KiB of 'a' in a 64 KiB and a 1 KiB chunk, seed signature and chunk
// signatures as published.
const (
	docSeedSig   = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	docChunk1Sig = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
	docChunk2Sig = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
	docFinalSig  = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
)

func docChunkedBody() []byte {
	var b bytes.Buffer
	b.WriteString("10000;chunk-signature=" + docChunk1Sig + "\r\n")
	b.Write(bytes.Repeat([]byte{'a'}, 65536))
	b.WriteString("\r\n400;chunk-signature=" + docChunk2Sig + "\r\n")
	b.Write(bytes.Repeat([]byte{'a'}, 1024))
	b.WriteString("\r\n0;chunk-signature=" + docFinalSig + "\r\n\r\n")
	return b.Bytes()
}

func docChunkedRequest(body []byte) *http.Request {
	r := httptest.NewRequest("PUT", "/examplebucket/chunkObject.txt", bytes.NewReader(body))
	r.Host = "s3.amazonaws.com"
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", "66824")
	r.Header.Set(HeaderContentSHA256, StreamingSignedPayload)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
		"Signature="+docSeedSig)
	return r
}

func TestChunkedGolden(t *testing.T) {
	body := docChunkedBody()
	if len(body) != 66824 {
		t.Fatalf("example body is %d bytes, the docs say 66824", len(body))
	}
	res, err := NewVerifier(testKeys).Verify(docChunkedRequest(body), docTime)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.ContentLength != 66560 || res.DecodedContentLength != 66560 || res.UpstreamContentSHA256 != UnsignedPayload || res.Trailer != "" {
		t.Errorf("result %+v", res)
	}
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte{'a'}, 66560)) {
		t.Fatalf("decoded %d bytes, not 66560 'a'", len(got))
	}
}

func TestChunkedTampered(t *testing.T) {
	good := docChunkedBody()
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 1
		return b
	}
	i2 := bytes.Index(good, []byte("400;"))
	iF := bytes.Index(good, []byte("0;chunk-signature="+docFinalSig))
	tests := []struct {
		name string
		body []byte
		max  int
		want error
	}{
		{"data in chunk 1", flip(200), 0, ErrSignatureDoesNotMatch},
		{"last byte of chunk 2", flip(iF - 3), 0, ErrSignatureDoesNotMatch},
		{"chunk 1 signature", bytes.Replace(good, []byte(docChunk1Sig), []byte(docChunk2Sig), 1), 0, ErrSignatureDoesNotMatch},
		{"final signature", bytes.Replace(good, []byte(docFinalSig), []byte(docChunk2Sig), 1), 0, ErrSignatureDoesNotMatch},
		{"chunks swapped sizes", bytes.Replace(good, []byte("400;"), []byte("3ff;"), 1), 0, ErrIncompleteBody},
		{"missing final chunk", good[:iF], 0, ErrIncompleteBody},
		{"missing final CRLF", good[:len(good)-2], 0, ErrIncompleteBody},
		{"trailing garbage", append(bytes.Clone(good), 'x'), 0, ErrIncompleteBody},
		{"cut in chunk 2 header", good[:i2+10], 0, ErrIncompleteBody},
		{"cut in chunk 1 data", good[:5000], 0, ErrIncompleteBody},
		{"chunk above the limit", good, 1024, ErrIncompleteBody},
		{"uppercase signature", bytes.Replace(good, []byte(docChunk1Sig), []byte(strings.ToUpper(docChunk1Sig)), 1), 0, ErrIncompleteBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(testKeys, func(o *VerifierOptions) { o.MaxChunkSize = tt.max })
			res, err := v.Verify(docChunkedRequest(tt.body), docTime)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := io.ReadAll(res.Body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(got) >= 66560 {
				t.Fatalf("consumer received the whole payload (%d bytes) before the error", len(got))
			}
		})
	}
	t.Run("every truncation fails", func(t *testing.T) {
		v := NewVerifier(testKeys)
		for cut := 0; cut < len(good); cut += 997 {
			res, err := v.Verify(docChunkedRequest(good[:cut]), docTime)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(res.Body); !errors.Is(err, ErrIncompleteBody) {
				t.Fatalf("cut at %d: err = %v", cut, err)
			}
		}
	})
}

type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

// minioChunked signs data as minio-go does for a streaming upload, with a
// CRC32 checksum trailer when trailer is set.
func minioChunked(t testing.TB, data []byte, trailer bool, at time.Time) (*http.Request, []byte) {
	t.Helper()
	c, err := http.NewRequest("PUT", "http://proxy.local/bkt/obj", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if trailer {
		c.Trailer = http.Header{"x-amz-checksum-crc32": {crc32Base64(data)}}
	}
	c = minisigner.StreamingSignV4(c, "LOCALKEY", "localsecret", "", "us-east-1", int64(len(data)), at, sha256Hasher{sha256.New()})
	wire, err := io.ReadAll(c.Body)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(wire)) != c.ContentLength && len(data) > 0 { // minio declares 0 for an empty payload
		t.Fatalf("minio stream is %d bytes, declared %d", len(wire), c.ContentLength)
	}
	return serverRequest(t, c, wire), wire
}

func crc32Base64(b []byte) string {
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(s[:])
}

// decodeUnsignedChunked parses an unsigned aws-chunked stream strictly.
func decodeUnsignedChunked(t testing.TB, b []byte) (data []byte, trailers []string) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	for {
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("chunk header %q: %v", line, err)
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(line, "\r\n"), 16, 64)
		if err != nil {
			t.Fatalf("chunk size %q", line)
		}
		if n == 0 {
			break
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(br, chunk); err != nil || string(chunk[n:]) != "\r\n" {
			t.Fatalf("chunk data: %v", err)
		}
		data = append(data, chunk[:n]...)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("trailer line %q: %v", line, err)
		}
		if line == "\r\n" {
			break
		}
		trailers = append(trailers, strings.TrimSuffix(line, "\r\n"))
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("%d bytes after the stream", len(rest))
	}
	return data, trailers
}

func TestChunkedMinio(t *testing.T) {
	v := NewVerifier(testKeys)
	for _, size := range []int{0, 1, 65535, 65536, 65537, 200000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		t.Run(fmt.Sprintf("plain/%d", size), func(t *testing.T) {
			r, _ := minioChunked(t, data, false, docTime)
			res, err := v.Verify(r, docTime)
			if err != nil {
				t.Fatal(err)
			}
			if size == 0 != (res.Body == nil) {
				t.Fatalf("body %v for a payload of %d bytes", res.Body, size)
			}
			got, err := readAll(t, res)
			if err != nil || !bytes.Equal(got, data) || res.ContentLength != int64(size) {
				t.Fatalf("got %d bytes, %v; content-length %d", len(got), err, res.ContentLength)
			}
		})
		t.Run(fmt.Sprintf("trailer/%d", size), func(t *testing.T) {
			r, _ := minioChunked(t, data, true, docTime)
			res, err := v.Verify(r, docTime)
			if err != nil {
				t.Fatal(err)
			}
			if res.UpstreamContentSHA256 != StreamingUnsignedTrailer || res.Trailer != "x-amz-checksum-crc32" || res.DecodedContentLength != int64(size) {
				t.Fatalf("result %+v", res)
			}
			wire, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(wire)) != res.ContentLength {
				t.Fatalf("upstream stream is %d bytes, ContentLength says %d", len(wire), res.ContentLength)
			}
			got, trailers := decodeUnsignedChunked(t, wire)
			if !bytes.Equal(got, data) {
				t.Fatalf("decoded %d bytes, want %d", len(got), size)
			}
			if want := "x-amz-checksum-crc32:" + crc32Base64(data); len(trailers) != 1 || trailers[0] != want {
				t.Fatalf("trailers %q, want %q", trailers, want)
			}
		})
	}
	t.Run("tampered trailer", func(t *testing.T) {
		data := []byte("some data for the trailer test")
		r, wire := minioChunked(t, data, true, docTime)
		good := crc32Base64(data)
		bad := crc32Base64([]byte("other"))
		wire = bytes.Replace(wire, []byte(good), []byte(bad), 1)
		r.Body = io.NopCloser(bytes.NewReader(wire))
		res, err := v.Verify(r, docTime)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(res.Body)
		if !errors.Is(err, ErrSignatureDoesNotMatch) {
			t.Fatalf("err = %v, want ErrSignatureDoesNotMatch", err)
		}
		if bytes.Contains(out, []byte("0\r\n")) && bytes.HasSuffix(out, []byte("\r\n\r\n")) {
			t.Fatalf("complete upstream stream emitted despite the bad trailer: %q", out)
		}
	})
	t.Run("undeclared trailer", func(t *testing.T) {
		r, _ := minioChunked(t, []byte("x"), true, docTime)
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-sha256")
		res, err := v.Verify(r, docTime)
		if err == nil {
			_, err = io.ReadAll(res.Body)
		}
		if err == nil {
			t.Fatal("undeclared trailer accepted")
		}
	})
}

func BenchmarkChunkedDecode(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	r, wire := minioChunked(b, data, false, docTime)
	v := NewVerifier(testKeys)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	buf := make([]byte, 32<<10)
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(wire))
		res, err := v.Verify(r, docTime)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{res.Body}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChunkedAWSTrailerFormat decodes a signed-trailer stream in the layout
// of the S3 docs ("name:value\r\n" then the signature line), as opposed to
// minio-go's "name:value\n\r\n", through the re-encoder.
func TestChunkedAWSTrailerFormat(t *testing.T) {
	for _, data := range []string{"", "hello, world", strings.Repeat("z", 1001)} {
		t.Run(fmt.Sprint(len(data)), func(t *testing.T) {
			line := "x-amz-checksum-crc32:" + crc32Base64([]byte(data))
			stream := signChunkedForTest([]byte(data), 100, line)
			chain := docChain()
			cr := newChunkReader(io.NopCloser(bytes.NewReader(stream)), &chain, int64(len(data)), 1<<20, []string{"x-amz-checksum-crc32"})
			enc := newUnsignedChunkEncoder(cr, int64(len(data)), 64)
			out, err := io.ReadAll(enc)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(out)) != enc.length() {
				t.Fatalf("%d bytes, length() %d", len(out), enc.length())
			}
			got, trailers := decodeUnsignedChunked(t, out)
			if string(got) != data || len(trailers) != 1 || trailers[0] != line {
				t.Fatalf("got %q %q", got, trailers)
			}
		})
	}
	t.Run("no trailer", func(t *testing.T) {
		chain := docChain()
		cr := newChunkReader(io.NopCloser(bytes.NewReader(signChunkedForTest([]byte("abc"), 2, ""))), &chain, 3, 1<<20, nil)
		if got, err := io.ReadAll(cr); err != nil || string(got) != "abc" {
			t.Fatalf("%q %v", got, err)
		}
	})
	t.Run("empty payload bad final signature fails in Verify", func(t *testing.T) {
		r, wire := minioChunked(t, nil, false, docTime)
		i := bytes.Index(wire, []byte("signature=")) + len("signature=")
		wire[i] ^= 1
		r.Body = io.NopCloser(bytes.NewReader(wire))
		if _, err := NewVerifier(testKeys).Verify(r, docTime); !errors.Is(err, ErrSignatureDoesNotMatch) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestChunkedSmallReads drives decoder and re-encoder with a one-byte
// source and tiny read buffers.
func TestChunkedSmallReads(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 7000)
	for _, trailer := range []bool{false, true} {
		t.Run(fmt.Sprint("trailer=", trailer), func(t *testing.T) {
			r, wire := minioChunked(t, data, trailer, docTime)
			r.Body = io.NopCloser(iotest.OneByteReader(bytes.NewReader(wire)))
			res, err := NewVerifier(testKeys).Verify(r, docTime)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			buf := make([]byte, 3)
			for {
				n, err := res.Body.Read(buf)
				out = append(out, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if int64(len(out)) != res.ContentLength {
				t.Fatalf("%d bytes, ContentLength %d", len(out), res.ContentLength)
			}
			if trailer {
				out, _ = decodeUnsignedChunked(t, out)
			}
			if !bytes.Equal(out, data) {
				t.Fatal("payload differs")
			}
		})
	}
}
