package signing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"
)

// Fuzz targets. Seed corpora live in testdata/fuzz/<target>; run one with
//
//	go test ./signing -run '^$' -fuzz '^FuzzParseAuthorizationV4$' -fuzztime 2m -parallel 1

// knownErr reports whether err is classified by one of the package's
// sentinels, as every verification error must be.
func knownErr(err error) bool {
	for _, s := range []error{ErrMissingAuth, ErrMalformedAuth, ErrUnsupportedAuth, ErrInvalidAccessKeyID,
		ErrSignatureDoesNotMatch, ErrRequestTimeTooSkewed, ErrRequestExpired, ErrContentSHA256Mismatch,
		ErrBadDigest, ErrInvalidDigest, ErrIncompleteBody, ErrInvalidToken, ErrExpiredToken, ErrHeadersNotSigned} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParseAuthorizationV4(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	f.Add("AWS4-HMAC-SHA256 Credential=A/B/20130524/r/s3express/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64))
	f.Add("AWS4-HMAC-SHA256 ,,,=")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorizationV4(h)
		if err != nil {
			if !errors.Is(err, ErrMalformedAuth) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if a.akid == "" || len(a.date) != 8 || !listContainsLower(a.signedHeaders, "host") ||
			a.service != ServiceS3 && a.service != ServiceS3Express || !isLowerHex(string(a.signature[:])) {
			t.Fatalf("accepted inconsistent auth %+v from %q", a, h)
		}
		// The whole verifier must classify whatever follows.
		r := httptest.NewRequest("GET", "/b/k", nil)
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", a.date+"T000000Z")
		if _, err := NewVerifier(testKeys).Verify(r, docTime); err != nil && !knownErr(err) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func FuzzParseSigV2(f *testing.F) {
	f.Add("AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=", "/photos/puppy.jpg", "")
	f.Add("", "/b/k", "AWSAccessKeyId=LOCALKEY&Expires=1175139620&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D")
	f.Add("AWS a:b:c", "/b/k", "uploadId=1&partNumber=2&acl")
	f.Fuzz(func(t *testing.T, auth, path, query string) {
		if _, _, err := parseAuthorizationV2(auth); err != nil && !errors.Is(err, ErrMalformedAuth) {
			t.Fatalf("unclassified error %v", err)
		}
		if _, _, _, err := parseV2Query(query); err != nil && !errors.Is(err, ErrMalformedAuth) {
			t.Fatalf("unclassified error %v", err)
		}
		target := "/" + strings.TrimLeft(path, "/")
		if query != "" {
			target += "?" + query
		}
		r, err := http.NewRequest("GET", "http://h"+target, nil)
		if err != nil {
			return
		}
		r.RequestURI = target
		r.Header.Set("Date", "Thu, 24 May 2013 00:00:00 GMT")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		v := NewVerifier(testKeys, func(o *VerifierOptions) { o.SigV2 = true })
		if _, err := v.Verify(r, docTime); err != nil && !knownErr(err) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func FuzzPresignQuery(f *testing.F) {
	f.Add(strings.TrimPrefix(docPresignURL, "/test.txt?"))
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=LOCALKEY%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=00&X-Amz-S3session-Token=t&x-amz-meta-a=b")
	f.Add("X-Amz-Signature=&&=&%zz")
	f.Fuzz(func(t *testing.T, query string) {
		p, err := parsePresignQuery(query)
		if err == nil {
			_, exp, err := parsePresign(p)
			if err == nil && (exp <= 0 || exp > maxPresignExpires*1e9) {
				t.Fatalf("accepted expiry %v", exp)
			}
		}
		if _, err := canonicalQueryParams(nil, query, isPresignSignature); err != nil && !errors.Is(err, errBadEscape) {
			t.Fatalf("canonical query: %v", err)
		}
		r := httptest.NewRequest("GET", "/test.txt", nil)
		r.RequestURI = "/test.txt?" + query
		r.Host = "examplebucket.s3.amazonaws.com"
		res, err := NewVerifier(testKeys).Verify(r, docTime)
		if err != nil && !knownErr(err) {
			t.Fatalf("unclassified error %v", err)
		}
		if err == nil && res.Type == AuthSigV4Query && query != strings.TrimPrefix(docPresignURL, "/test.txt?") {
			// Only a correctly signed URL may pass; the fuzzer cannot forge one.
			t.Logf("accepted %q", query)
		}
	})
}

// FuzzChunkedDecoder feeds arbitrary streams to the signed aws-chunked
// decoder under the chunked-upload example's signing chain (and, with
// trailer set, through the unsigned re-encoder). The fuzzer cannot forge
// signatures, so a stream that decodes without error must carry one of the
// payloads signed in the seeds.
func FuzzChunkedDecoder(f *testing.F) {
	// The 66 KiB documentation example is left to TestChunkedGolden: it
	// would slow the fuzzer down by orders of magnitude.
	f.Add(signChunkedForTest([]byte("hello, world"), 5, ""), int64(12), false)
	f.Add(signChunkedForTest(nil, 5, ""), int64(0), false)
	f.Add(signChunkedForTest([]byte("hello, world"), 5, "x-amz-checksum-crc32:"+crc32Base64([]byte("hello, world"))), int64(12), true)
	f.Add(signChunkedForTest(nil, 5, "x-amz-checksum-crc32:AAAAAA=="), int64(0), true)
	f.Add([]byte("0;chunk-signature="+strings.Repeat("a", 64)+"\r\nx-amz-checksum-crc32:NSRBwg==\n\r\nx-amz-trailer-signature:"+strings.Repeat("d", 64)+"\r\n\r\n"), int64(0), true)
	valid := map[string]bool{"hello, world": true, "": true}
	f.Fuzz(func(t *testing.T, body []byte, decoded int64, trailer bool) {
		if decoded < 0 || decoded > 1<<20 {
			return
		}
		chain := docChain()
		var names []string
		if trailer {
			names = []string{"x-amz-checksum-crc32"}
		}
		cr := newChunkReader(io.NopCloser(bytes.NewReader(body)), &chain, decoded, 1<<17, names)
		var out []byte
		var err error
		if trailer {
			enc := newUnsignedChunkEncoder(cr, decoded, 7)
			out, err = io.ReadAll(enc)
			if err == nil && int64(len(out)) != enc.length() {
				t.Fatalf("encoded %d bytes, length() %d", len(out), enc.length())
			}
			if err == nil {
				out, _ = decodeUnsignedChunked(t, out)
			}
		} else {
			out, err = io.ReadAll(cr)
		}
		if err != nil {
			if !knownErr(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if int64(len(out)) != decoded || !valid[string(out)] {
			t.Fatalf("forged stream accepted: %q gave %d bytes", body, len(out))
		}
	})
}

// signChunkedForTest signs data as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD
// stream under docChain, in chunks of size, with a signed trailer line when
// trailer is set.
func signChunkedForTest(data []byte, size int, trailer string) []byte {
	chain := docChain()
	sign := func(alg string, hashes ...[]byte) string {
		sc := getScratch()
		defer putScratch(sc)
		b := []byte(alg + "\n" + chain.amzDate + "\n" + chain.key.scope + "\n" + string(chain.prev[:]))
		for _, h := range hashes {
			b = append(append(b, '\n'), h...)
		}
		sc.hmacSum(&chain.key.key, b)
		sig := hex.EncodeToString(sc.sum[:])
		copy(chain.prev[:], sig)
		return sig
	}
	hashHex := func(b []byte) []byte {
		s := sha256.Sum256(b)
		return []byte(hex.EncodeToString(s[:]))
	}
	var out bytes.Buffer
	for len(data) > 0 {
		n := min(size, len(data))
		fmt.Fprintf(&out, "%x;chunk-signature=%s\r\n%s\r\n", n, sign(algorithmPayload, emptyHashBytes, hashHex(data[:n])), data[:n])
		data = data[n:]
	}
	fmt.Fprintf(&out, "0;chunk-signature=%s\r\n", sign(algorithmPayload, emptyHashBytes, emptyHashBytes))
	if trailer == "" {
		out.WriteString("\r\n")
		return out.Bytes()
	}
	fmt.Fprintf(&out, "%s\r\nx-amz-trailer-signature:%s\r\n\r\n", trailer, sign(algorithmTrailer, hashHex([]byte(trailer+"\n"))))
	return out.Bytes()
}

// docChain is the signing chain of the chunked-upload example.
func docChain() chunkChain {
	var date [8]byte
	copy(date[:], "20130524")
	c := chunkChain{key: deriveKey(docCreds.SecretAccessKey, date, "us-east-1", ServiceS3), amzDate: "20130524T000000Z"}
	copy(c.prev[:], docSeedSig)
	return c
}

// FuzzChunkedParser fuzzes the aws-chunked parser and re-encoder with
// signature checks off, as a client with a valid key could sign any stream.
// Whatever decodes must have the declared length, and the re-encoded stream
// must be well-formed and exactly as long as announced.
func FuzzChunkedParser(f *testing.F) {
	f.Add(signChunkedForTest([]byte("hello, world"), 5, ""), int64(12), false)
	f.Add(signChunkedForTest([]byte("hello, world"), 5, "x-amz-checksum-crc32:"+crc32Base64([]byte("hello, world"))), int64(12), true)
	f.Add(signChunkedForTest(nil, 5, "x-amz-checksum-crc32:AAAAAA=="), int64(0), true)
	f.Add([]byte("1;chunk-signature="+strings.Repeat("a", 64)+"\r\nx\r\n0;chunk-signature="+strings.Repeat("a", 64)+
		"\r\nx-amz-checksum-crc32:NSRBwg==\n\r\nx-amz-trailer-signature:"+strings.Repeat("d", 64)+"\r\n\r\n"), int64(1), true)
	f.Fuzz(func(t *testing.T, body []byte, decoded int64, trailer bool) {
		if decoded < 0 || decoded > 1<<20 {
			return
		}
		chain := docChain()
		chain.skipVerify = true
		var names []string
		if trailer {
			names = []string{"x-amz-checksum-crc32"}
		}
		cr := newChunkReader(io.NopCloser(bytes.NewReader(body)), &chain, decoded, 1<<16, names)
		if !trailer {
			out, err := io.ReadAll(cr)
			if err != nil && !knownErr(err) {
				t.Fatalf("unclassified error %v", err)
			}
			if err == nil && int64(len(out)) != decoded {
				t.Fatalf("decoded %d bytes, declared %d", len(out), decoded)
			}
			return
		}
		checkReencoded(t, newUnsignedChunkEncoder(cr, decoded, 5), decoded)
	})
}

// FuzzUnsignedChunkedParser fuzzes the unsigned aws-chunked parser (a
// client's STREAMING-UNSIGNED-PAYLOAD-TRAILER stream, decoded for
// Result.WrapPayload) and the re-encoder over a wrapped payload reader.
// Whatever decodes must have the declared length, and the re-encoded stream
// must be well-formed, carry the trailer and be exactly as long as announced.
func FuzzUnsignedChunkedParser(f *testing.F) {
	data := []byte("hello, world")
	crc := "x-amz-checksum-crc32:" + crc32Base64(data)
	f.Add(unsignedChunkedForTest(data, 5, crc, false), int64(12))
	f.Add(unsignedChunkedForTest(data, 5, crc, true), int64(12))
	f.Add(unsignedChunkedForTest(nil, 5, "x-amz-checksum-crc32:AAAAAA==", false), int64(0))
	f.Add([]byte("1\r\nx\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\n\r\n"), int64(1))
	f.Fuzz(func(t *testing.T, body []byte, decoded int64) {
		if decoded < 0 || decoded > 1<<20 {
			return
		}
		cr := newUnsignedChunkReader(io.NopCloser(bytes.NewReader(body)), decoded, 1<<16, []string{"x-amz-checksum-crc32"})
		enc := newUnsignedChunkEncoder(cr, decoded, 5)
		enc.src = io.NopCloser(iotest.HalfReader(cr)) // as wrapped by WrapPayload
		checkReencoded(t, enc, decoded)
	})
}

// checkReencoded reads enc to its end: a failure must be a classified
// error; a success must be exactly enc.length() bytes of well-formed
// aws-chunked carrying decoded bytes and the one crc32 trailer.
func checkReencoded(t *testing.T, enc *unsignedChunkEncoder, decoded int64) {
	t.Helper()
	out, err := io.ReadAll(enc)
	if err != nil {
		if !knownErr(err) {
			t.Fatalf("unclassified error %v", err)
		}
		return
	}
	if int64(len(out)) != enc.length() {
		t.Fatalf("encoded %d bytes, length() %d", len(out), enc.length())
	}
	data, trailers := decodeUnsignedChunked(t, out)
	if int64(len(data)) != decoded || len(trailers) != 1 || !strings.HasPrefix(trailers[0], "x-amz-checksum-crc32:") {
		t.Fatalf("re-encoded stream: %d bytes, trailers %q", len(data), trailers)
	}
}

// FuzzCheckReader reads a body through the hashing reader with the read
// sizes of sizes (cycled, 1 to 256 bytes each; 32 KiB if empty), a declared
// length off by delta (-128: unknown), a digest corrupted or not, and reads
// of asyncRead+1 bytes or more hashed on another goroutine through a ring
// of ring bytes (0: the default) whose worker starts once start bytes wait
// (0: the default for the length). Only the exact
// body under the right digest may pass, with every byte then io.EOF; any
// other ends with a classified error on a Read that returns no bytes, the
// body's last byte never delivered. The synctest bubble fails if a
// goroutine outlives the reader.
func FuzzCheckReader(f *testing.F) {
	f.Add([]byte(strings.Repeat("0123456789", 100)), []byte{31, 0, 255}, int8(0), false, uint8(15), uint8(0), uint8(0))
	f.Add([]byte(strings.Repeat("0123456789", 100)), []byte{}, int8(-128), true, uint8(0), uint8(7), uint8(40))
	f.Add([]byte(strings.Repeat("0123456789", 100)), []byte{200, 3}, int8(-128), false, uint8(0), uint8(100), uint8(80))
	f.Add([]byte("x"), []byte{0}, int8(1), false, uint8(0), uint8(1), uint8(0))
	f.Add([]byte("hello, world"), []byte{2}, int8(-3), false, uint8(1), uint8(0), uint8(40))
	f.Add([]byte{}, []byte{}, int8(0), true, uint8(0), uint8(0), uint8(80))
	f.Fuzz(func(t *testing.T, body, sizes []byte, delta int8, corrupt bool, asyncRead, ring, start uint8) {
		length := int64(-1)
		if delta != -128 {
			length = max(int64(len(body))+int64(delta), 0)
		}
		want := sha256.Sum256(body)
		if corrupt {
			want[len(body)%32] ^= 1
		}
		synctest.Test(t, func(t *testing.T) {
			cr := newCheckReader(io.NopCloser(bytes.NewReader(body)), sha256.New(), want[:], length, ErrContentSHA256Mismatch)
			cr.asyncRead, cr.asyncBody, cr.ringSize, cr.pipeStart = int(asyncRead)+1, 0, int(ring), int64(start)
			var got []byte
			buf := make([]byte, 32<<10)
			for i := 0; ; i++ {
				p := buf
				if len(sizes) > 0 {
					p = buf[:int(sizes[i%len(sizes)])+1]
				}
				n, err := cr.Read(p)
				got = append(got, p[:n]...)
				if err == nil {
					continue
				}
				ok := !corrupt && (length < 0 || length == int64(len(body)))
				limit := int64(len(body)) // the failing Read keeps the last byte of these back
				if length >= 0 {
					limit = min(limit, length)
				}
				switch {
				case !bytes.HasPrefix(body, got):
					t.Fatalf("received %d bytes that are not a prefix of the body", len(got))
				case ok && (err != io.EOF || len(got) != len(body)):
					t.Fatalf("received %d of %d bytes, %v", len(got), len(body), err)
				case !ok && (!knownErr(err) || n != 0 || len(got) > 0 && int64(len(got)) >= limit):
					t.Fatalf("failed check: received %d of %d bytes (length %d), last Read %d, %v", len(got), len(body), length, n, err)
				}
				return
			}
		})
	})
}

// FuzzParseAmzDate: parseAmzDate accepts exactly what time.Parse accepts
// for amzDateFormat, and to the same instant.
func FuzzParseAmzDate(f *testing.F) {
	for _, s := range []string{"20260102T030405Z", "20240229T235959Z", "20230229T000000Z",
		"20261301T000000Z", "20260100T000000Z", "20260101T240000Z", "20260101T236000Z",
		"20260101T000060Z", "2026010 T000000Z", "20260101t000000Z", "20260101T000000z",
		"+0260101T000000Z", "00000101T000000Z", "20260431T000000Z", "20260101T000000", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := time.Parse(amzDateFormat, s)
		got, gerr := parseAmzDate(s)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: time.Parse err %v, parseAmzDate err %v", s, werr, gerr)
		}
		if werr == nil && !got.Equal(want) {
			t.Fatalf("%q: time.Parse %v, parseAmzDate %v", s, want, got)
		}
	})
}
