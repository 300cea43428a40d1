package signing

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// noHeaderSigned signs a request as curl --aws-sigv4 before 8.x does: the
// canonical request ends with the hex SHA-256 of signedBody, and no
// x-amz-content-sha256 header is sent. The server request carries sentBody.
func noHeaderSigned(t testing.TB, method string, signedBody, sentBody []byte, creds aws.Credentials) *http.Request {
	t.Helper()
	c := newReq(t, method, "http://proxy.local/b/k", nil)
	c.URL.RawPath = EncodePath(c.URL.Path)
	err := v4.NewSigner().SignHTTP(context.Background(), creds, c, hexSHA256(signedBody), ServiceS3, "us-east-1", docTime,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	if c.Header.Get(HeaderContentSHA256) != "" {
		t.Fatal("the signer added x-amz-content-sha256")
	}
	return serverRequest(t, c, sentBody)
}

// TestVerifyDeferredPayload covers SigV4 header auth without
// x-amz-content-sha256: a body-less request is checked at once against the
// hash of no bytes; a body's signature is checked at its end, the final
// byte withheld until it matches, and the Result stays SignaturePending
// until then (and for ever after a mismatch).
func TestVerifyDeferredPayload(t *testing.T) {
	good := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	bad := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "wrong"}
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: goes through the hash pipe
	small := []byte("hello")
	tampered := append(append([]byte(nil), body[:len(body)-1]...), 'X')
	tests := []struct {
		name             string
		method           string
		signed, sent     []byte
		creds            aws.Credentials
		verifyErr        error // from Verify
		readErr          error // from reading Body
		pendingBeforeEOF bool
	}{
		{"GET no body", "GET", nil, nil, good, nil, nil, false},
		{"GET no body wrong key", "GET", nil, nil, bad, ErrSignatureDoesNotMatch, nil, false},
		{"PUT small", "PUT", small, small, good, nil, nil, true},
		{"PUT large", "PUT", body, body, good, nil, nil, true},
		{"PUT empty signed as empty", "PUT", nil, nil, good, nil, nil, false},
		{"PUT wrong key", "PUT", body, body, bad, nil, ErrSignatureDoesNotMatch, true},
		{"PUT wrong key small", "PUT", small, small, bad, nil, ErrSignatureDoesNotMatch, true},
		{"PUT tampered last byte", "PUT", body, tampered, good, nil, ErrSignatureDoesNotMatch, true},
		{"PUT body signed empty (curl -T)", "PUT", nil, small, good, nil, ErrContentSHA256Required, true},
		{"PUT large body signed empty", "PUT", nil, body, good, nil, ErrContentSHA256Required, true},
		{"PUT body signed empty wrong key", "PUT", nil, small, bad, nil, ErrSignatureDoesNotMatch, true},
		{"unknown key", "PUT", small, small, aws.Credentials{AccessKeyID: "NOPE", SecretAccessKey: "x"}, ErrInvalidAccessKeyID, nil, false},
	}
	v := NewVerifier(testKeys)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := noHeaderSigned(t, tt.method, tt.signed, tt.sent, tt.creds)
			res, err := v.Verify(r, docTime)
			if !errors.Is(err, tt.verifyErr) || (err == nil) != (tt.verifyErr == nil) {
				t.Fatalf("Verify: %v, want %v", err, tt.verifyErr)
			}
			if err != nil {
				return
			}
			if got := res.SignaturePending(); got != tt.pendingBeforeEOF {
				t.Fatalf("SignaturePending before the body: %v, want %v", got, tt.pendingBeforeEOF)
			}
			var got []byte
			if res.Body != nil {
				got, _, err = readChecked(res.Body, 4096)
				if err == io.EOF {
					err = nil
				}
			}
			if !errors.Is(err, tt.readErr) || (err == nil) != (tt.readErr == nil) {
				t.Fatalf("read: %v, want %v", err, tt.readErr)
			}
			if tt.readErr != nil {
				var m *MismatchError
				if errors.Is(tt.readErr, ErrSignatureDoesNotMatch) && (!errors.As(err, &m) || m.AccessKeyID != "LOCALKEY" || m.CanonicalRequest == "") {
					t.Errorf("read error %#v, want a *MismatchError with the canonical request", err)
				}
				if len(got) >= len(tt.sent) {
					t.Errorf("read %d of %d bytes before the mismatch, want the last withheld", len(got), len(tt.sent))
				}
				if !res.SignaturePending() {
					t.Error("SignaturePending false after a mismatch")
				}
				return
			}
			if !bytes.Equal(got, tt.sent) {
				t.Fatalf("read %d bytes, want the %d sent", len(got), len(tt.sent))
			}
			if res.SignaturePending() {
				t.Error("SignaturePending true after the body matched")
			}
		})
	}
}

// TestVerifyPayloadHeaderHostile: an x-amz-content-sha256 sent empty or
// twice is malformed, never taken as absent (which would defer the check)
// nor as one of its values.
func TestVerifyPayloadHeaderHostile(t *testing.T) {
	body := []byte("some bytes")
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	tests := []struct {
		name   string
		values []string
	}{
		{"empty", []string{""}},
		{"repeated", []string{hexSHA256(body), hexSHA256(body)}},
		{"repeated, first empty", []string{"", hexSHA256(body)}},
		{"repeated unsigned", []string{UnsignedPayload, hexSHA256(body)}},
	}
	v := NewVerifier(testKeys)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newReq(t, "PUT", "http://proxy.local/b/k", nil)
			c.URL.RawPath = EncodePath(c.URL.Path)
			c.Header[HeaderContentSHA256] = tt.values
			err := v4.NewSigner().SignHTTP(context.Background(), creds, c, hexSHA256(body), ServiceS3, "us-east-1", docTime,
				func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(serverRequest(t, c, body), docTime)
			if !errors.Is(err, ErrMalformedAuth) {
				t.Fatalf("Verify: %v, want ErrMalformedAuth", err)
			}
		})
	}
}

// TestVerifyDeferredPending checks that the final byte of a no-header body
// is withheld until the signature matched: a consumer that stops one byte
// short sees SignaturePending and never gets the byte.
func TestVerifyDeferredPending(t *testing.T) {
	body := []byte("some bytes")
	r := noHeaderSigned(t, "PUT", body, body, aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"})
	res, err := NewVerifier(testKeys).Verify(r, docTime)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, len(body)-1)
	n, err := res.Body.Read(p)
	if err != nil || n >= len(body)-1 || !res.SignaturePending() {
		t.Fatalf("first read: %d bytes, %v, pending %v; want fewer than %d, nil, true", n, err, res.SignaturePending(), len(body)-1)
	}
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(p[:n])+string(rest) != string(body) || res.SignaturePending() {
		t.Fatalf("rest %q, %v, pending %v", rest, err, res.SignaturePending())
	}
}

// FuzzDeferredPayload: a SigV4 request without x-amz-content-sha256 passes
// only when the body sent is the body signed; otherwise the Read that ends
// it fails with ErrSignatureDoesNotMatch (or ErrContentSHA256Required for a
// signed empty payload) and returns no bytes, the body's last byte is
// never delivered, and the Result stays SignaturePending.
func FuzzDeferredPayload(f *testing.F) {
	f.Add([]byte("hello"), uint16(0), byte(0), uint8(0))
	f.Add(bytes.Repeat([]byte("0123456789"), 20000), uint16(65535), byte(1), uint8(200))
	f.Add(bytes.Repeat([]byte("ab"), 100000), uint16(7), byte(0x80), uint8(3))
	f.Add([]byte{}, uint16(0), byte(1), uint8(0))
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	v := NewVerifier(testKeys)
	f.Fuzz(func(t *testing.T, signed []byte, at uint16, flip byte, readSize uint8) {
		sent := append([]byte(nil), signed...)
		if len(sent) > 0 {
			sent[int(at)%len(sent)] ^= flip
		}
		res, err := v.Verify(noHeaderSigned(t, "PUT", signed, sent, creds), docTime)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if res.Body == nil {
			if len(sent) != 0 || res.SignaturePending() {
				t.Fatalf("no body for %d bytes, pending %v", len(sent), res.SignaturePending())
			}
			return
		}
		buf := make([]byte, int(readSize)+1)
		var got []byte
		for {
			n, err := res.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err == nil {
				continue
			}
			same := bytes.Equal(signed, sent)
			switch {
			case !bytes.HasPrefix(sent, got):
				t.Fatalf("received %d bytes that are not a prefix of the body", len(got))
			case same && (err != io.EOF || len(got) != len(sent) || res.SignaturePending()):
				t.Fatalf("matching body: %d of %d bytes, %v, pending %v", len(got), len(sent), err, res.SignaturePending())
			case !same && (n != 0 || len(got) >= len(sent) || !res.SignaturePending() ||
				!errors.Is(err, ErrSignatureDoesNotMatch) && !errors.Is(err, ErrContentSHA256Required)):
				t.Fatalf("tampered body: %d of %d bytes, last Read %d, %v, pending %v", len(got), len(sent), n, err, res.SignaturePending())
			}
			return
		}
	})
}

// BenchmarkVerifyDeferredBody is BenchmarkVerifyHashedBody without
// x-amz-content-sha256: the same hashing reader, the signature checked at
// the end of the body.
func BenchmarkVerifyDeferredBody(b *testing.B) {
	data := bytes.Repeat([]byte("s3xproxy"), 1<<17) // 1 MiB
	r := noHeaderSigned(b, "PUT", data, data, aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"})
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
		if res.SignaturePending() {
			b.Fatal("signature still pending")
		}
	}
}
