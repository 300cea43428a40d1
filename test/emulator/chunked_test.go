package emulator

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// AWS documentation examples: "Signature Calculations for the
// Authorization Header: Transferring Payload in Multiple Chunks" and the
// trailer variant (sigv4-streaming.html, sigv4-streaming-trailers.html).
const (
	docSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	docAmzDate = "20130524T000000Z"
	docScope   = "20130524/us-east-1/s3/aws4_request"
)

func docKey() []byte {
	var kc keyCache
	return kc.get(docSecret, "20130524", "us-east-1", "s3")
}

// docBody builds 64 KiB + 1 KiB of 'a' as signed aws-chunked with the
// given chunk signatures and optional trailer lines.
func docBody(sigs [3]string, trailer string) []byte {
	var b bytes.Buffer
	for i, n := range []int{65536, 1024} {
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n%s\r\n", n, sigs[i], strings.Repeat("a", n))
	}
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", sigs[2])
	b.WriteString(trailer)
	b.WriteString("\r\n")
	return b.Bytes()
}

func TestChunkedReader(t *testing.T) {
	plainSigs := [3]string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	trailerSigs := [3]string{
		"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
		"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
		"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
	}
	const plainSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	const trailerSeed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
	const goodTrailer = "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
	tampered := plainSigs
	tampered[1] = strings.Repeat("0", 64)
	full := strings.Repeat("a", 66560)
	tests := []struct {
		name     string
		mode     string
		seed     string
		body     []byte
		want     int64
		trailers []string
		wantErr  string // S3 code, or "EOF" for an unexpected EOF
		wantTr   string
	}{
		{name: "doc signed", mode: streamSigned, seed: plainSeed, body: docBody(plainSigs, ""), want: 66560},
		{name: "doc signed trailer", mode: streamSignedTr, seed: trailerSeed, body: docBody(trailerSigs, goodTrailer), want: 66560,
			trailers: []string{"x-amz-checksum-crc32c"}, wantTr: "sOO8/Q=="},
		{name: "tampered chunk signature", mode: streamSigned, seed: plainSeed, body: docBody(tampered, ""), want: 66560, wantErr: "SignatureDoesNotMatch"},
		{name: "wrong seed", mode: streamSigned, seed: trailerSeed, body: docBody(plainSigs, ""), want: 66560, wantErr: "SignatureDoesNotMatch"},
		{name: "tampered trailer signature", mode: streamSignedTr, seed: trailerSeed, want: 66560, trailers: []string{"x-amz-checksum-crc32c"},
			body: docBody(trailerSigs, strings.Replace(goodTrailer, "d81f", "d81e", 1)), wantErr: "SignatureDoesNotMatch"},
		{name: "tampered trailer value", mode: streamSignedTr, seed: trailerSeed, want: 66560, trailers: []string{"x-amz-checksum-crc32c"},
			body: docBody(trailerSigs, strings.Replace(goodTrailer, "sOO8", "sOO9", 1)), wantErr: "SignatureDoesNotMatch"},
		{name: "decoded length too small", mode: streamSigned, seed: plainSeed, body: docBody(plainSigs, ""), want: 66559, wantErr: "InvalidRequest"},
		{name: "decoded length too large", mode: streamSigned, seed: plainSeed, body: docBody(plainSigs, ""), want: 70000, wantErr: "IncompleteBody"},
		{name: "unsigned trailer", mode: streamUnsTr, body: []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n"), want: 3,
			trailers: []string{"x-amz-checksum-crc32"}, wantTr: "NSRBwg=="},
		{name: "unsigned undeclared trailer", mode: streamUnsTr, body: []byte("3\r\nabc\r\n0\r\nx-amz-checksum-sha1:NSRBwg==\r\n\r\n"), want: 3,
			trailers: []string{"x-amz-checksum-crc32"}, wantErr: "MalformedTrailerError"},
		{name: "truncated data", mode: streamUnsTr, body: []byte("10\r\nabc"), want: 16, trailers: []string{"x-amz-checksum-crc32"}, wantErr: "EOF"},
		{name: "bad size", mode: streamUnsTr, body: []byte("zz\r\nabc\r\n"), want: 3, trailers: []string{"x-amz-checksum-crc32"}, wantErr: "IncompleteBody"},
		{name: "missing chunk crlf", mode: streamUnsTr, body: []byte("3\r\nabcX\n0\r\n\r\n"), want: 3, trailers: []string{"x-amz-checksum-crc32"}, wantErr: "IncompleteBody"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cr := newChunkedReader(bytes.NewReader(tc.body), tc.mode, tc.want, tc.trailers)
			if cr.signed {
				cr.setSigning(docKey(), docAmzDate, docScope, tc.seed)
			}
			got, err := io.ReadAll(cr)
			var se *s3Error
			switch {
			case tc.wantErr == "EOF":
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("err = %v, want unexpected EOF", err)
				}
			case tc.wantErr != "":
				if !errors.As(err, &se) || se.Code != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case tc.mode != streamUnsTr && string(got) != full:
				t.Fatalf("decoded %d bytes, want 66560 x 'a'", len(got))
			}
			if tc.wantTr != "" && cr.trailerValue(tc.trailers[0]) != tc.wantTr {
				t.Fatalf("trailer = %q, want %q", cr.trailerValue(tc.trailers[0]), tc.wantTr)
			}
		})
	}
}

func TestChecksumVectors(t *testing.T) {
	// CRC-64/NVME check value (Rocksoft model catalogue): "123456789" -> 0xae8b14860a799888.
	h := newChecksum(algCRC64NVME)
	h.Write([]byte("123456789"))
	if got := binary.BigEndian.Uint64(h.Sum(nil)); got != 0xae8b14860a799888 {
		t.Errorf("CRC64NVME check = %x, want ae8b14860a799888", got)
	}
	// The AWS trailer example: CRC32C of 66560 'a' is sOO8/Q==.
	c := newChecksum(algCRC32C)
	c.Write(bytes.Repeat([]byte("a"), 66560))
	if got := sumBase64(c); got != "sOO8/Q==" {
		t.Errorf("CRC32C = %s, want sOO8/Q==", got)
	}
	s := newChecksum(algSHA256)
	if got := hex.EncodeToString(s.Sum(nil)); got != emptySHA256 {
		t.Errorf("SHA256('') = %s", got)
	}
	crc := newChecksum("crc32")
	crc.Write([]byte("abc"))
	if got := sumBase64(crc); got != "NSRBwg==" {
		t.Errorf("CRC32(abc) = %s, want NSRBwg==", got)
	}
}
