package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// keyMap is a KeyLookup over a map.
type keyMap map[string]Key

func (m keyMap) LookupKey(id string) (Key, bool) { k, ok := m[id]; return k, ok }

var testKeys = keyMap{
	docCreds.AccessKeyID: {SecretAccessKey: docCreds.SecretAccessKey, Principal: "doc"},
	"LOCALKEY":           {SecretAccessKey: "localsecret", Principal: "local"},
	"SESSKEY":            {SecretAccessKey: "sesssecret", SessionToken: "good-token", Expires: docTime.Add(5 * time.Minute), Principal: "sess"},
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// serverRequest turns a signed client request into what a net/http server
// hands a handler: RequestURI from the wire, Host, headers, body.
func serverRequest(t testing.TB, c *http.Request, body []byte) *http.Request {
	t.Helper()
	target := c.URL.RequestURI()
	if c.URL.RawPath != "" || c.URL.Opaque != "" {
		target = c.URL.EscapedPath()
		if c.URL.RawQuery != "" {
			target += "?" + c.URL.RawQuery
		}
	}
	r := httptest.NewRequest(c.Method, target, bytes.NewReader(body))
	r.Host = c.Host
	if r.Host == "" {
		r.Host = c.URL.Host
	}
	r.Header = c.Header.Clone()
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	return r
}

// sdkSigned signs a client request with the SDK's v4 signer as an S3 client
// does (path not re-escaped, x-amz-content-sha256 set).
func sdkSigned(t testing.TB, method, url string, hdr map[string]string, body []byte, creds aws.Credentials, service string, at time.Time) *http.Request {
	t.Helper()
	c := newReq(t, method, url, hdr)
	c.URL.RawPath = EncodePath(c.URL.Path)
	payload := c.Header.Get(HeaderContentSHA256)
	if payload == "" {
		payload = hexSHA256(body)
		c.Header.Set(HeaderContentSHA256, payload)
	}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, c, payload, service, "us-east-1", at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	return serverRequest(t, c, body)
}

// readAll reads a verified body to the end.
func readAll(t testing.TB, res *Result) ([]byte, error) {
	t.Helper()
	if res.Body == nil {
		return nil, nil
	}
	return io.ReadAll(res.Body)
}

func TestVerifyGoldenGetObject(t *testing.T) {
	r := httptest.NewRequest("GET", "/test.txt", nil)
	r.Host = "examplebucket.s3.amazonaws.com"
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set(HeaderContentSHA256, emptySHA256)
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	v := NewVerifier(testKeys)
	res, err := v.Verify(r, docTime.Add(time.Minute))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Type != AuthSigV4Header || res.AccessKeyID != docCreds.AccessKeyID || res.Principal != "doc" || res.Body != nil {
		t.Errorf("result = %+v", res)
	}
	r.Header.Set("Range", "bytes=0-10")
	_, err = v.Verify(r, docTime)
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("tampered Range: err = %v, want *MismatchError", err)
	}
	wantCR := "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-10\n" +
		"x-amz-content-sha256:" + emptySHA256 + "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" + emptySHA256
	if me.CanonicalRequest != wantCR {
		t.Errorf("canonical request:\n%s\nwant\n%s", me.CanonicalRequest, wantCR)
	}
	if !strings.HasPrefix(me.StringToSign, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n") {
		t.Errorf("string to sign %q", me.StringToSign)
	}
	if strings.Contains(err.Error(), docCreds.SecretAccessKey) || strings.Contains(me.StringToSign+me.CanonicalRequest, docCreds.SecretAccessKey) {
		t.Error("secret leaked into the error")
	}
}

func TestVerifyGoldenPutObject(t *testing.T) {
	body := []byte("Welcome to Amazon S3.")
	mk := func(b []byte) *http.Request {
		r := httptest.NewRequest("PUT", "/test%24file.text", bytes.NewReader(b))
		r.Host = "examplebucket.s3.amazonaws.com"
		r.Header.Set("Date", "Fri, 24 May 2013 00:00:00 GMT")
		r.Header.Set("X-Amz-Date", "20130524T000000Z")
		r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
		r.Header.Set(HeaderContentSHA256, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
		return r
	}
	v := NewVerifier(testKeys)
	res, err := v.Verify(mk(body), docTime)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, res)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("body = %q, %v", got, err)
	}
	if res.ContentLength != int64(len(body)) || res.UpstreamContentSHA256 != UnsignedPayload {
		t.Errorf("result %+v", res)
	}
	// Same signature, different body: the hash check fails the last Read.
	tampered := []byte("Welcome to Amazon S4.")
	res, err = v.Verify(mk(tampered), docTime)
	if err != nil {
		t.Fatal(err)
	}
	got, err = readAll(t, res)
	if !errors.Is(err, ErrContentSHA256Mismatch) {
		t.Fatalf("err = %v, want ErrContentSHA256Mismatch", err)
	}
	if len(got) >= len(tampered) {
		t.Errorf("consumer got all %d bytes before the mismatch", len(got))
	}
}

// TestVerifySDKRoundTrip verifies requests signed by the SDK's signer and by
// our own signer over paths and queries that stress canonicalization.
func TestVerifySDKRoundTrip(t *testing.T) {
	paths := []string{"/b/plain", "/b/with space", "/b/a+b", "/b/100%", "/b/é/ü", "/b//double//slash/",
		"/b/~tilde", "/b/!$&'()*,;=:@", "/", "/b/%2F-literal-percent-2F"}
	queries := []string{"", "?uploads", "?list-type=2&prefix=a%2Fb&delimiter=%2F", "?prefix=a+b", "?x-id=GetObject&partNumber=1"}
	v := NewVerifier(testKeys)
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	for _, p := range paths {
		for _, q := range queries {
			for _, ours := range []bool{false, true} {
				name := p + q
				if ours {
					name += "/ours"
				}
				t.Run(name, func(t *testing.T) {
					u := "http://proxy.local:8080" + EncodePath(p) + q
					body := []byte("payload")
					var r *http.Request
					if ours {
						c := newReq(t, "PUT", u, map[string]string{"X-Amz-Meta-K": " v  w ", HeaderContentSHA256: hexSHA256(body)})
						c.URL.RawPath = EncodePath(c.URL.Path)
						if err := NewSigner().SignIAM(c, creds, ServiceS3, "eu-west-3", docTime); err != nil {
							t.Fatal(err)
						}
						r = serverRequest(t, c, body)
					} else {
						r = sdkSigned(t, "PUT", u, map[string]string{"X-Amz-Meta-K": " v  w "}, body, creds, ServiceS3, docTime)
					}
					res, err := v.Verify(r, docTime)
					if err != nil {
						t.Fatalf("Verify(%s): %v", r.RequestURI, err)
					}
					if got, err := readAll(t, res); err != nil || string(got) != "payload" {
						t.Fatalf("body %q, %v", got, err)
					}
				})
			}
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	url := "http://proxy.local/b/k"
	signed := func(hdr map[string]string, c aws.Credentials) *http.Request {
		return sdkSigned(t, "GET", url, hdr, nil, c, ServiceS3, docTime)
	}
	sess := aws.Credentials{AccessKeyID: "SESSKEY", SecretAccessKey: "sesssecret"}
	tests := []struct {
		name string
		req  func() *http.Request
		now  time.Time
		opts func(*VerifierOptions)
		want error
	}{
		{"wrong secret", func() *http.Request {
			return signed(nil, aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "wrong"})
		}, docTime, nil, ErrSignatureDoesNotMatch},
		{"unknown key", func() *http.Request {
			return signed(nil, aws.Credentials{AccessKeyID: "NOPE", SecretAccessKey: "x"})
		}, docTime, nil, ErrInvalidAccessKeyID},
		{"clock skew", func() *http.Request { return signed(nil, creds) }, docTime.Add(16 * time.Minute), nil, ErrRequestTimeTooSkewed},
		{"clock skew allowed", func() *http.Request { return signed(nil, creds) }, docTime.Add(14 * time.Minute), nil, nil},
		{"custom skew", func() *http.Request { return signed(nil, creds) }, docTime.Add(2 * time.Minute),
			func(o *VerifierOptions) { o.MaxSkew = time.Minute }, ErrRequestTimeTooSkewed},
		{"scope date not request date", func() *http.Request {
			r := signed(nil, creds)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20130524/", "/20130523/", 1))
			return r
		}, docTime, nil, ErrMalformedAuth},
		{"unsigned x-amz header added", func() *http.Request {
			r := signed(nil, creds)
			r.Header.Set("X-Amz-Copy-Source", "/other/key")
			return r
		}, docTime, nil, ErrHeadersNotSigned},
		{"unsigned other header is fine", func() *http.Request {
			r := signed(nil, creds)
			r.Header.Set("User-Agent", "changed")
			return r
		}, docTime, nil, nil},
		{"tampered query", func() *http.Request {
			r := signed(nil, creds)
			r.RequestURI += "?delete"
			return r
		}, docTime, nil, ErrSignatureDoesNotMatch},
		{"tampered host", func() *http.Request {
			r := signed(nil, creds)
			r.Host = "evil.local"
			return r
		}, docTime, nil, ErrSignatureDoesNotMatch},
		{"session token ok", func() *http.Request {
			return signed(map[string]string{HeaderS3SessionToken: "good-token"}, sess)
		}, docTime, nil, nil},
		{"session token missing", func() *http.Request { return signed(nil, sess) }, docTime, nil, ErrInvalidToken},
		{"session token wrong", func() *http.Request {
			return signed(map[string]string{HeaderS3SessionToken: "bad-token"}, sess)
		}, docTime, nil, ErrInvalidToken},
		{"session expired", func() *http.Request {
			return signed(map[string]string{HeaderS3SessionToken: "good-token"}, sess)
		}, docTime.Add(5 * time.Minute), nil, ErrExpiredToken},
		{"token on a key without one", func() *http.Request {
			return signed(map[string]string{HeaderS3SessionToken: "x"}, creds)
		}, docTime, nil, ErrInvalidToken},
		{"sigv2 disabled", func() *http.Request {
			r := httptest.NewRequest("GET", "/b/k", nil)
			r.Header.Set("Authorization", "AWS LOCALKEY:c2lnbmF0dXJl")
			return r
		}, docTime, nil, ErrUnsupportedAuth},
		{"sigv2 query disabled", func() *http.Request {
			return httptest.NewRequest("GET", "/b/k?AWSAccessKeyId=LOCALKEY&Signature=x&Expires=1", nil)
		}, docTime, nil, ErrUnsupportedAuth},
		{"sigv4a", func() *http.Request {
			r := httptest.NewRequest("GET", "/b/k", nil)
			r.Header.Set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=x")
			return r
		}, docTime, nil, ErrUnsupportedAuth},
		{"token without signature", func() *http.Request {
			r := httptest.NewRequest("GET", "/b/k", nil)
			r.Header.Set(HeaderS3SessionToken, "t")
			return r
		}, docTime, nil, ErrMissingAuth},
		{"header and query auth", func() *http.Request {
			r := signed(nil, creds)
			r.RequestURI += "?X-Amz-Signature=00"
			return r
		}, docTime, nil, ErrMalformedAuth},
		{"two authorization headers", func() *http.Request {
			r := signed(nil, creds)
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return r
		}, docTime, nil, ErrMalformedAuth},
		{"bad x-amz-content-sha256", func() *http.Request {
			return signed(map[string]string{HeaderContentSHA256: "nope"}, creds)
		}, docTime, nil, ErrMalformedAuth},
		{"hash of missing body", func() *http.Request {
			return signed(map[string]string{HeaderContentSHA256: hexSHA256([]byte("x"))}, creds)
		}, docTime, nil, ErrContentSHA256Mismatch},
		{"no x-amz-date", func() *http.Request {
			r := signed(nil, creds)
			r.Header.Del("X-Amz-Date")
			return r
		}, docTime, nil, ErrMalformedAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fns []func(*VerifierOptions)
			if tt.opts != nil {
				fns = append(fns, tt.opts)
			}
			_, err := NewVerifier(testKeys, fns...).Verify(tt.req(), tt.now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyAnonymous(t *testing.T) {
	r := httptest.NewRequest("PUT", "/b/k", strings.NewReader("abc"))
	res, err := NewVerifier(testKeys).Verify(r, docTime)
	if err != nil || res.Type != AuthAnonymous || res.UpstreamContentSHA256 != UnsignedPayload || res.ContentLength != 3 {
		t.Fatalf("res %+v err %v", res, err)
	}
	if got, _ := readAll(t, res); string(got) != "abc" {
		t.Errorf("body %q", got)
	}
}

func TestVerifyUnsignedTrailerPassThrough(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "LOCALKEY", SecretAccessKey: "localsecret"}
	wire := []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n")
	r := sdkSigned(t, "PUT", "http://p/b/k", map[string]string{
		HeaderContentSHA256:            StreamingUnsignedTrailer,
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Decoded-Content-Length": "3",
		"X-Amz-Trailer":                "x-amz-checksum-crc32",
	}, wire, creds, ServiceS3, docTime)
	res, err := NewVerifier(testKeys).Verify(r, docTime)
	if err != nil {
		t.Fatal(err)
	}
	if res.UpstreamContentSHA256 != StreamingUnsignedTrailer || res.DecodedContentLength != 3 ||
		res.Trailer != "x-amz-checksum-crc32" || res.ContentLength != int64(len(wire)) {
		t.Errorf("result %+v", res)
	}
	if got, _ := readAll(t, res); !bytes.Equal(got, wire) {
		t.Errorf("body %q", got)
	}
}

func TestParseAuthorizationV4(t *testing.T) {
	sig := strings.Repeat("a", 64)
	good := "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig
	tests := []struct {
		name, h string
		ok      bool
	}{
		{"good", good, true},
		{"no spaces", strings.ReplaceAll(good, ", ", ","), true},
		{"reordered", "AWS4-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=host, Credential=AK/20130524/r/s3express/aws4_request", true},
		{"akid with slash-free scope", "AWS4-HMAC-SHA256 Credential=A/K/20130524/r/s3/aws4_request,SignedHeaders=host,Signature=" + sig, true},
		{"missing signature", "AWS4-HMAC-SHA256 Credential=AK/20130524/r/s3/aws4_request, SignedHeaders=host", false},
		{"duplicate field", good + ", Signature=" + sig, false},
		{"unknown field", good + ", Foo=bar", false},
		{"short signature", strings.Replace(good, sig, sig[:63], 1), false},
		{"upper hex signature", strings.Replace(good, sig, strings.Repeat("A", 64), 1), false},
		{"bad service", strings.Replace(good, "/s3/", "/ec2/", 1), false},
		{"bad terminator", strings.Replace(good, "aws4_request", "aws4_reques", 1), false},
		{"bad date", strings.Replace(good, "20130524", "2013052x", 1), false},
		{"short credential", "AWS4-HMAC-SHA256 Credential=20130524/r/s3/aws4_request,SignedHeaders=host,Signature=" + sig, false},
		{"no host signed", strings.Replace(good, "host;", "", 1), false},
		{"uppercase signed header", strings.Replace(good, "host;x-amz-date", "host;X-Amz-Date", 1), false},
		{"empty signed header", strings.Replace(good, "host;x-amz-date", "host;;x-amz-date", 1), false},
		{"field without =", good + ", junk", false},
		{"empty", "AWS4-HMAC-SHA256 ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseAuthorizationV4(tt.h)
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrMalformedAuth) {
				t.Fatalf("parse(%q) err = %v, want ok=%v", tt.h, err, tt.ok)
			}
		})
	}
}
