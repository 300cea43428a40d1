package signing

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"net"
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

// BenchmarkCheckReaderLoopback measures hex-hashed bodies copied as the
// proxy's transport copies them: 32 KiB reads through the checking reader,
// each written to a loopback TCP connection (the upstream) drained by its
// own goroutine, from memory or from another loopback connection (the
// client) fed by its own goroutine. Unlike BenchmarkVerifyHashedBody, the
// consumer does I/O per read, so hashing can overlap with it; "inline"
// hashes every read on the reading goroutine, as before hashPipe.
func BenchmarkCheckReaderLoopback(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20, 16 << 20} {
		data := bytes.Repeat([]byte("s3xproxy"), size/8)
		sum := sha256.Sum256(data)
		for _, src := range []string{"mem", "tcp"} {
			for _, mode := range []struct {
				name      string
				asyncRead int
			}{{"async", asyncMinRead}, {"inline", math.MaxInt}} {
				b.Run(fmt.Sprintf("%dKiB/%s/%s", size>>10, src, mode.name), func(b *testing.B) {
					var client io.Reader
					if src == "tcp" {
						client = loopbackPair(b, func(c net.Conn) { // feeds the body, again and again
							for {
								if _, err := c.Write(data); err != nil {
									return
								}
							}
						})
					}
					upstream := loopbackPair(b, func(c net.Conn) { io.Copy(io.Discard, c) })
					buf := make([]byte, 32<<10)
					b.SetBytes(int64(len(data)))
					b.ReportAllocs()
					for b.Loop() {
						var body io.Reader = bytes.NewReader(data)
						if client != nil {
							body = io.LimitReader(client, int64(len(data)))
						}
						cr := newCheckReader(io.NopCloser(body), sha256.New(), sum[:], int64(len(data)), ErrContentSHA256Mismatch)
						cr.asyncRead = mode.asyncRead
						if _, err := io.CopyBuffer(struct{ io.Writer }{upstream}, struct{ io.Reader }{cr}, buf); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// loopbackPair returns one end of a loopback TCP connection whose other end
// is served by serve on its own goroutine. Both are closed at cleanup.
func loopbackPair(tb testing.TB, serve func(net.Conn)) net.Conn {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close(); <-done })
	return c
}
