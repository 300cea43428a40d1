package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// chunkSigner produces aws-chunked chunk and trailer signatures; it is
// checked against the AWS documentation vectors in TestChunkSignerVectors.
type chunkSigner struct {
	key     []byte
	amzDate string
	scope   string
	prev    string
}

func (s *chunkSigner) sign(chunk []byte) string {
	h := sha256.Sum256(chunk)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + s.amzDate + "\n" + s.scope + "\n" + s.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(h[:])
	s.prev = hex.EncodeToString(hmacSHA256(s.key, []byte(sts)))
	return s.prev
}

func (s *chunkSigner) signTrailer(canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + s.amzDate + "\n" + s.scope + "\n" + s.prev + "\n" + hex.EncodeToString(h[:])
	return hex.EncodeToString(hmacSHA256(s.key, []byte(sts)))
}

// encodeChunks builds a signed (s != nil) or unsigned aws-chunked body.
func encodeChunks(s *chunkSigner, chunks [][]byte, trailers [][2]string) []byte {
	var b bytes.Buffer
	for _, c := range append(chunks, nil) {
		fmt.Fprintf(&b, "%x", len(c))
		if s != nil {
			b.WriteString(";chunk-signature=" + s.sign(c))
		}
		b.WriteString("\r\n")
		if len(c) > 0 {
			b.Write(c)
			b.WriteString("\r\n")
		}
	}
	var canon strings.Builder
	for _, kv := range trailers {
		b.WriteString(kv[0] + ":" + kv[1] + "\r\n")
		canon.WriteString(kv[0] + ":" + kv[1] + "\n")
	}
	if s != nil && len(trailers) > 0 {
		b.WriteString("x-amz-trailer-signature:" + s.signTrailer(canon.String()) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func TestChunkSignerVectors(t *testing.T) {
	s := &chunkSigner{key: docKey(), amzDate: docAmzDate, scope: docScope, prev: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"}
	got := []string{s.sign(bytes.Repeat([]byte("a"), 65536)), s.sign(bytes.Repeat([]byte("a"), 1024)), s.sign(nil)}
	want := []string{"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("chunk signatures %v, want %v", got, want)
	}
	s = &chunkSigner{key: docKey(), amzDate: docAmzDate, scope: docScope, prev: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"}
	s.sign(bytes.Repeat([]byte("a"), 65536))
	s.sign(bytes.Repeat([]byte("a"), 1024))
	s.sign(nil)
	if got := s.signTrailer("x-amz-checksum-crc32c:sOO8/Q==\n"); got != "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435" {
		t.Fatalf("trailer signature %s", got)
	}
}

// TestStreamingUploads sends aws-chunked PutObjects through the handler
// with session credentials: signed, signed with trailer, unsigned with
// trailer; good and tampered.
func TestStreamingUploads(t *testing.T) {
	clock := newClock()
	e := startPlain(t, clock)
	sess := createSession(t, e, clock.Now, testBucket, "")
	data := randBytes(200_000)
	chunks := [][]byte{data[:65536], data[65536:131072], data[131072:]}
	crc := checksumOfBytes(algCRC32C, data)
	tests := []struct {
		name     string
		mode     string
		trailers [][2]string
		mutate   func([]byte) []byte
		decoded  int
		status   int
		code     string
	}{
		{name: "signed", mode: streamSigned, status: 200},
		{name: "signed trailer", mode: streamSignedTr, trailers: [][2]string{{"x-amz-checksum-crc32c", crc}}, status: 200},
		{name: "unsigned trailer", mode: streamUnsTr, trailers: [][2]string{{"x-amz-checksum-crc32c", crc}}, status: 200},
		{name: "unsigned trailer wrong checksum", mode: streamUnsTr, trailers: [][2]string{{"x-amz-checksum-crc32c", "AAAAAA=="}}, status: 400, code: "BadDigest"},
		{name: "signed trailer wrong checksum", mode: streamSignedTr, trailers: [][2]string{{"x-amz-checksum-crc32c", "AAAAAA=="}}, status: 400, code: "BadDigest"},
		{name: "signed flipped byte", mode: streamSigned, status: 403, code: "SignatureDoesNotMatch", mutate: func(b []byte) []byte {
			i := bytes.Index(b, []byte("\r\n")) + 100
			b[i] ^= 1
			return b
		}},
		{name: "decoded length mismatch", mode: streamUnsTr, trailers: [][2]string{{"x-amz-checksum-crc32c", crc}}, decoded: len(data) + 1, status: 400, code: "IncompleteBody"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := clock.Now()
			key := "stream/" + strings.ReplaceAll(tc.name, " ", "-")
			var s *chunkSigner
			if tc.mode != streamUnsTr {
				s = &chunkSigner{amzDate: at.UTC().Format(amzDateFormat), scope: at.UTC().Format("20060102") + "/" + testRegion + "/s3express/aws4_request"}
				var kc keyCache
				s.key = kc.get(sess.secret, at.UTC().Format("20060102"), testRegion, "s3express")
			}
			// Encoded length does not depend on signature values.
			placeholder := encodeChunks(&chunkSigner{key: []byte("k")}, chunks, tc.trailers)
			if s == nil {
				placeholder = encodeChunks(nil, chunks, tc.trailers)
			}
			decoded := tc.decoded
			if decoded == 0 {
				decoded = len(data)
			}
			h := map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": strconv.Itoa(decoded)}
			if len(tc.trailers) > 0 {
				h["X-Amz-Trailer"] = tc.trailers[0][0]
			}
			rr := rawReq{method: "PUT", path: "/" + key, body: placeholder, creds: sess, hash: tc.mode, header: h, at: at,
				after: func(r *http.Request) {
					if s != nil {
						a := r.Header.Get("Authorization")
						s.prev = a[strings.LastIndex(a, "=")+1:]
					}
					body := encodeChunks(s, chunks, tc.trailers)
					if tc.mutate != nil {
						body = tc.mutate(body)
					}
					if len(body) != len(placeholder) {
						t.Fatalf("encoded length changed: %d vs %d", len(body), len(placeholder))
					}
					r.Body = io.NopCloser(bytes.NewReader(body))
				}}
			res := rr.do(t, e, clock.Now)
			if res.status != tc.status || res.code != tc.code {
				t.Fatalf("PUT: %d %s, want %d %s\n%s", res.status, res.code, tc.status, tc.code, res.body)
			}
			get := rawReq{path: "/" + key, creds: sess, header: map[string]string{"X-Amz-Checksum-Mode": "ENABLED"}}.do(t, e, clock.Now)
			if tc.status != 200 {
				if get.status != 404 {
					t.Fatalf("rejected upload was stored: %d", get.status)
				}
				return
			}
			if get.status != 200 || !bytes.Equal(get.body, data) {
				t.Fatalf("GET: %d, equal %v", get.status, bytes.Equal(get.body, data))
			}
			if len(tc.trailers) > 0 && get.header.Get("X-Amz-Checksum-Crc32c") != crc {
				t.Fatalf("stored checksum %q, want %q", get.header.Get("X-Amz-Checksum-Crc32c"), crc)
			}
			if ce := get.header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding %q stored; aws-chunked must be dropped", ce)
			}
		})
	}
}
