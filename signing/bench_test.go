package signing

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// BenchmarkVerifyHeader measures SigV4 header verification of a typical SDK
// GET (no body): parse, canonical request, signature, compare.
func BenchmarkVerifyHeader(b *testing.B) {
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	r := sdkSigned(b, "GET", "http://proxy.local:8080/bucket/photos/2026/cat%20picture.jpg?partNumber=1",
		map[string]string{"Range": "bytes=0-1023", "User-Agent": "aws-sdk-go-v2/1.0", "Amz-Sdk-Invocation-Id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
		nil, creds, ServiceS3, docTime)
	v := NewVerifier(testKeys)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, docTime); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyHashedBody measures a PUT with a hex payload hash: the
// verification plus streaming the body through the hashing reader.
func BenchmarkVerifyHashedBody(b *testing.B) {
	data := bytes.Repeat([]byte("s3xproxy"), 1<<17) // 1 MiB
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	r := sdkSigned(b, "PUT", "http://proxy.local/bucket/key", nil, data, creds, ServiceS3, docTime)
	v := NewVerifier(testKeys)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(data))
		res, err := v.Verify(r, docTime)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{res.Body}, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSHA256 is the floor for BenchmarkVerifyHashedBody.
func BenchmarkSHA256(b *testing.B) {
	data := bytes.Repeat([]byte("s3xproxy"), 1<<17)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}
