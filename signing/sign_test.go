package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// AWS documentation example credentials
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
var (
	docCreds = aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	docTime  = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
)

type authParts struct{ credential, signedHeaders, signature string }

func parseAuthForTest(t *testing.T, h string) authParts {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		t.Fatalf("Authorization %q: no algorithm", h)
	}
	var p authParts
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Credential":
			p.credential = v
		case "SignedHeaders":
			p.signedHeaders = v
		case "Signature":
			p.signature = v
		}
	}
	return p
}

func newReq(t testing.TB, method, rawURL string, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

// TestSignGolden checks the S3 SigV4 header-auth examples published in the
// S3 API reference (sig-v4-header-based-auth.html), with both signers.
func TestSignGolden(t *testing.T) {
	tests := []struct {
		name, method, url string
		hdr               map[string]string
		signedHeaders     string
		signature         string
	}{
		{
			name: "GET object with range", method: "GET",
			url:           "https://examplebucket.s3.amazonaws.com/test.txt",
			hdr:           map[string]string{"Range": "bytes=0-9", HeaderContentSHA256: emptySHA256},
			signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
			signature:     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		},
		{
			name: "PUT object", method: "PUT",
			url: "https://examplebucket.s3.amazonaws.com/test$file.text",
			hdr: map[string]string{
				"Date":                "Fri, 24 May 2013 00:00:00 GMT",
				"X-Amz-Storage-Class": "REDUCED_REDUNDANCY",
				HeaderContentSHA256:   "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			},
			signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			signature:     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		},
		{
			name: "GET bucket lifecycle", method: "GET",
			url:           "https://examplebucket.s3.amazonaws.com/?lifecycle",
			hdr:           map[string]string{HeaderContentSHA256: emptySHA256},
			signedHeaders: "host;x-amz-content-sha256;x-amz-date",
			signature:     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		},
		{
			name: "GET bucket list objects", method: "GET",
			url:           "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
			hdr:           map[string]string{HeaderContentSHA256: emptySHA256},
			signedHeaders: "host;x-amz-content-sha256;x-amz-date",
			signature:     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		},
	}
	for _, tt := range tests {
		for _, sdk := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sdk=%v", tt.name, sdk), func(t *testing.T) {
				req := newReq(t, tt.method, tt.url, tt.hdr)
				req.URL.RawPath = EncodePath(req.URL.Path)
				s := NewSigner(func(o *SignerOptions) { o.UseSDK = sdk })
				if err := s.SignIAM(req, docCreds, ServiceS3, "us-east-1", docTime); err != nil {
					t.Fatal(err)
				}
				p := parseAuthForTest(t, req.Header.Get("Authorization"))
				if want := "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"; p.credential != want {
					t.Errorf("credential = %q, want %q", p.credential, want)
				}
				if p.signedHeaders != tt.signedHeaders {
					t.Errorf("signed headers = %q, want %q", p.signedHeaders, tt.signedHeaders)
				}
				if p.signature != tt.signature {
					t.Errorf("signature = %q, want %q", p.signature, tt.signature)
				}
				if got := req.Header.Get("X-Amz-Date"); got != "20130524T000000Z" {
					t.Errorf("X-Amz-Date = %q", got)
				}
			})
		}
	}
}

func TestSignSessionHeaders(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "SESSIONKEY", SecretAccessKey: "sessionsecret", SessionToken: "TOKEN-1"}
	for _, sdk := range []bool{false, true} {
		t.Run(fmt.Sprintf("sdk=%v", sdk), func(t *testing.T) {
			req := newReq(t, "GET", "https://b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com/k", map[string]string{
				"Authorization":       "AWS4-HMAC-SHA256 stale",
				"X-Amz-Date":          "19990101T000000Z",
				HeaderSecurityToken:   "iam-token",
				HeaderS3SessionToken:  "old-token",
				"User-Agent":          "legacy/1.0",
				"X-Amz-Meta-Whatever": "  a   b  ",
			})
			s := NewSigner(func(o *SignerOptions) { o.UseSDK = sdk })
			now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
			if err := s.SignSession(req, creds, "us-west-2", now); err != nil {
				t.Fatal(err)
			}
			h := req.Header
			if got := h.Get(HeaderS3SessionToken); got != "TOKEN-1" {
				t.Errorf("session token = %q", got)
			}
			if _, ok := h[HeaderSecurityToken]; ok {
				t.Errorf("X-Amz-Security-Token still present: %q", h.Get(HeaderSecurityToken))
			}
			if got := h.Get(HeaderContentSHA256); got != UnsignedPayload {
				t.Errorf("payload = %q, want UNSIGNED-PAYLOAD", got)
			}
			if got := h.Get("X-Amz-Date"); got != "20261127T100000Z" {
				t.Errorf("X-Amz-Date = %q", got)
			}
			if n := len(h.Values("Authorization")); n != 1 {
				t.Fatalf("%d Authorization headers", n)
			}
			p := parseAuthForTest(t, h.Get("Authorization"))
			if want := "SESSIONKEY/20261127/us-west-2/s3express/aws4_request"; p.credential != want {
				t.Errorf("credential = %q, want %q", p.credential, want)
			}
			if want := "host;x-amz-content-sha256;x-amz-date;x-amz-meta-whatever;x-amz-s3session-token"; p.signedHeaders != want {
				t.Errorf("signed headers = %q, want %q", p.signedHeaders, want)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		req := newReq(t, "GET", "https://h/k", nil)
		err := NewSigner().SignSession(req, aws.Credentials{AccessKeyID: "a", SecretAccessKey: "b"}, "r", time.Now())
		if err != ErrNoSessionToken {
			t.Fatalf("err = %v, want ErrNoSessionToken", err)
		}
	})
}

func TestSignIAMTokenHeaders(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		wantToken bool
	}{
		{"temporary credentials", "sts-token", true},
		{"long-term credentials", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newReq(t, "GET", "https://h/?session", map[string]string{
				HeaderS3SessionToken: "stale", HeaderSecurityToken: "stale"})
			creds := aws.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK", SessionToken: tt.token}
			if err := NewSigner().SignIAM(req, creds, ServiceS3Express, "us-west-2", docTime); err != nil {
				t.Fatal(err)
			}
			if _, ok := req.Header[HeaderS3SessionToken]; ok {
				t.Error("x-amz-s3session-token kept")
			}
			got, ok := req.Header[HeaderSecurityToken]
			if ok != tt.wantToken || ok && got[0] != tt.token {
				t.Errorf("X-Amz-Security-Token = %q (present %v), want %q", got, ok, tt.token)
			}
			p := parseAuthForTest(t, req.Header.Get("Authorization"))
			if tt.wantToken != strings.Contains(p.signedHeaders, "x-amz-security-token") {
				t.Errorf("signed headers %q", p.signedHeaders)
			}
		})
	}
}

// randomRequest builds a request with random path, query and headers from
// alphabets that stress encoding, trimming and ordering.
func randomRequest(t testing.TB, rng *rand.Rand) *http.Request {
	t.Helper()
	const pathChars = "aZ09-._~/ +%$&=?#é!*'()[]:@,;\x01"
	const valChars = "aZ09 -_~+/=&%é:,\t"
	pick := func(alpha string, n int) string {
		b := make([]byte, 0, n)
		for range n {
			b = append(b, alpha[rng.IntN(len(alpha))])
		}
		return string(b)
	}
	path := "/" + pick(pathChars, rng.IntN(20))
	q := url.Values{}
	for i := range rng.IntN(5) {
		q.Set(fmt.Sprintf("%s%d", pick(valChars, rng.IntN(4)), i), pick(valChars, rng.IntN(6)))
	}
	methods := []string{"GET", "PUT", "HEAD", "POST", "DELETE"}
	req, err := http.NewRequest(methods[rng.IntN(len(methods))], "https://bucket.example.com:"+[]string{"443", "8443"}[rng.IntN(2)], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Path = path
	req.URL.RawPath = EncodePath(path)
	req.URL.RawQuery = strings.ReplaceAll(q.Encode(), "+", []string{"+", "%20"}[rng.IntN(2)])
	names := []string{"X-Amz-Meta-A", "X-Amz-Meta-B", "Content-Type", "Range", "X-Amz-Checksum-Crc32",
		"If-Match", "User-Agent", "Expect", "Content-Md5", "X-Amzn-Trace-Id", "Cache-Control"}
	for range rng.IntN(6) {
		req.Header.Add(names[rng.IntN(len(names))], pick(valChars, rng.IntN(10)))
	}
	if rng.IntN(2) == 0 {
		req.Header.Set(HeaderContentSHA256, emptySHA256)
	}
	req.ContentLength = int64(rng.IntN(3) * 1000)
	return req
}

// TestSignMatchesSDK holds the built-in signer to the SDK's SignHTTP on many
// random requests, for both session and IAM auth.
func TestSignMatchesSDK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fast, sdk := NewSigner(), NewSigner(func(o *SignerOptions) { o.UseSDK = true })
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret/+key", SessionToken: "tok en"}
	n := 2000
	if testing.Short() {
		n = 200
	}
	for i := range n {
		a := randomRequest(t, rng)
		b := a.Clone(a.Context())
		now := docTime.Add(time.Duration(rng.Int64N(int64(400 * 24 * time.Hour))))
		var errA, errB error
		if i%2 == 0 {
			errA = fast.SignSession(a, creds, "us-west-2", now)
			errB = sdk.SignSession(b, creds, "us-west-2", now)
		} else {
			errA = fast.SignIAM(a, creds, ServiceS3Express, "eu-west-1", now)
			errB = sdk.SignIAM(b, creds, ServiceS3Express, "eu-west-1", now)
		}
		if errA != nil || errB != nil {
			t.Fatalf("errors: %v, %v", errA, errB)
		}
		if ga, gb := a.Header.Get("Authorization"), b.Header.Get("Authorization"); ga != gb {
			t.Fatalf("request %d (%s %s?%s %v):\n fast %s\n sdk  %s", i, a.Method, a.URL.RawPath, a.URL.RawQuery, a.Header, ga, gb)
		}
		if a.Host != b.Host {
			t.Fatalf("host %q vs %q", a.Host, b.Host)
		}
	}
}

func BenchmarkSignSession(b *testing.B) {
	creds := aws.Credentials{AccessKeyID: "SESSIONKEYEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SessionToken: strings.Repeat("t", 300)}
	for _, sdk := range []bool{false, true} {
		b.Run(fmt.Sprintf("sdk=%v", sdk), func(b *testing.B) {
			s := NewSigner(func(o *SignerOptions) { o.UseSDK = sdk })
			base := newReq(b, "GET", "https://bucket--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com/photos/2026/cat%20picture.jpg?partNumber=1", map[string]string{
				"Range": "bytes=0-1023", "Accept-Encoding": "identity"})
			req := base.Clone(base.Context())
			// As the proxy sends it (see SignSession): RawPath holds the
			// encoded path, so the signer takes it as is.
			req.URL.RawPath = EncodePath(req.URL.Path)
			// The headers are reset by assigning canonical keys to
			// pre-built value slices, so the loop measures the signer and
			// not Header.Set. The signer never writes into a value slice,
			// it only replaces them (see values), so sharing them is safe.
			rangeV, aeV := []string{"bytes=0-1023"}, []string{"identity"}
			b.ReportAllocs()
			for b.Loop() {
				clear(req.Header)
				req.Header["Range"] = rangeV
				req.Header["Accept-Encoding"] = aeV
				if err := s.SignSession(req, creds, "us-west-2", docTime); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHMACKey checks hmacKey, which starts from a derived key's saved pad
// states, against crypto/hmac, and its fallback when the states are missing.
func TestHMACKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sc := getScratch()
	defer putScratch(sc)
	for i := range 300 {
		k := deriveKey(fmt.Sprintf("secret-%d", i), [8]byte([]byte("20260101")), "us-west-2", ServiceS3Express)
		if i%10 == 0 {
			k.innerState, k.outerState = nil, nil
		}
		msg := make([]byte, rng.IntN(300))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		m := hmac.New(sha256.New, k.key[:])
		m.Write(msg)
		want := m.Sum(nil)
		for range 2 { // twice: the scratch hash must be reset by the restore
			sc.hmacKey(k, msg)
			if string(sc.sum[:]) != string(want) {
				t.Fatalf("key %d, %d-byte message: hmacKey = %x, want %x", i, len(msg), sc.sum, want)
			}
		}
	}
}

// TestDateString checks that the reused X-Amz-Date string follows the time.
func TestDateString(t *testing.T) {
	s := NewSigner()
	for _, tm := range []time.Time{docTime, docTime, docTime.Add(time.Second), docTime} {
		d := amzDate(tm)
		if got, want := s.dateString(&d), tm.UTC().Format(amzDateFormat); got != want {
			t.Fatalf("dateString(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestAmzDate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	loc := time.FixedZone("X", -7*3600)
	for range 1000 {
		tm := time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)).In(loc)
		got := amzDate(tm)
		if want := tm.UTC().Format(amzDateFormat); string(got[:]) != want {
			t.Fatalf("amzDate(%v) = %s, want %s", tm, got, want)
		}
	}
}

// TestSignConcurrentKeyCache signs with many keys, days and regions at once
// through a tiny key cache (constant eviction) and checks every signature
// against the SDK. Run with -race.
func TestSignConcurrentKeyCache(t *testing.T) {
	fast := NewSigner(func(o *SignerOptions) { o.KeyCacheSize = 2 })
	// A fresh SDK signer per request: the SDK's own derived-key cache is keyed
	// by region and service and checks only the access key id, so one AKID
	// with two secrets (as here) gets the wrong key from it.
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 100 {
				creds := aws.Credentials{AccessKeyID: fmt.Sprintf("AK%d", i%5), SecretAccessKey: fmt.Sprintf("secret-%d-%d", g, i%3), SessionToken: "t"}
				now := docTime.Add(time.Duration(i%4) * 24 * time.Hour)
				region := []string{"us-west-2", "eu-west-1"}[i%2]
				a := newReq(t, "GET", "https://h.example.com/k", nil)
				b := a.Clone(a.Context())
				if err := fast.SignSession(a, creds, region, now); err != nil {
					done <- err
					return
				}
				if err := NewSigner(func(o *SignerOptions) { o.UseSDK = true }).SignSession(b, creds, region, now); err != nil {
					done <- err
					return
				}
				if a.Header.Get("Authorization") != b.Header.Get("Authorization") {
					done <- fmt.Errorf("goroutine %d request %d: signatures differ", g, i)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
