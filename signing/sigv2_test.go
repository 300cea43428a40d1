package signing

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	minisigner "github.com/minio/minio-go/v7/pkg/signer"
)

func johnsmithBucket(r *http.Request) string {
	b, _ := strings.CutSuffix(r.Host, ".s3.amazonaws.com")
	if b == r.Host {
		return ""
	}
	return b
}

// TestSigV2Golden checks the SigV2 examples of the S3 developer guide
// (RESTAuthentication.html, bucket johnsmith).
func TestSigV2Golden(t *testing.T) {
	tests := []struct {
		name, method, target, date, ctype, auth string
	}{
		{"object GET", "GET", "/photos/puppy.jpg", "Tue, 27 Mar 2007 19:36:42 +0000", "", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
		{"object PUT", "PUT", "/photos/puppy.jpg", "Tue, 27 Mar 2007 21:15:45 +0000", "image/jpeg", "AWS AKIAIOSFODNN7EXAMPLE:MyyxeRY7whkBe+bq8fHCL/2kKUg="},
		{"list", "GET", "/?prefix=photos&max-keys=50&marker=puppy", "Tue, 27 Mar 2007 19:42:41 +0000", "", "AWS AKIAIOSFODNN7EXAMPLE:htDYFYduRNen8P9ZfE/s9SuKy0U="},
	}
	v := NewVerifier(testKeys, func(o *VerifierOptions) { o.SigV2 = true; o.VirtualHostBucket = johnsmithBucket })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Host = "johnsmith.s3.amazonaws.com"
			r.Header.Set("Date", tt.date)
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			r.Header.Set("Authorization", tt.auth)
			now, _ := time.Parse(time.RFC1123Z, tt.date)
			res, err := v.Verify(r, now.Add(time.Minute))
			if err != nil {
				var me *MismatchError
				if errors.As(err, &me) {
					t.Logf("string to sign %q", me.StringToSign)
				}
				t.Fatalf("Verify: %v", err)
			}
			if res.Type != AuthSigV2Header || res.AccessKeyID != docCreds.AccessKeyID {
				t.Errorf("result %+v", res)
			}
			if _, err := v.Verify(r, now.Add(time.Hour)); !errors.Is(err, ErrRequestTimeTooSkewed) {
				t.Errorf("skewed: err = %v", err)
			}
		})
	}
}

// TestSigV2Minio checks SigV2 header and query auth against minio-go's
// SigV2 signer, path-style.
func TestSigV2Minio(t *testing.T) {
	v := NewVerifier(testKeys, func(o *VerifierOptions) { o.SigV2 = true })
	now := time.Now() // minio-go's SigV2 signer stamps the current time
	tests := []struct {
		name, method, url string
		hdr               map[string]string
	}{
		{"get", "GET", "http://proxy.local/bkt/a%20key", nil},
		{"put with amz headers", "PUT", "http://proxy.local/bkt/k", map[string]string{
			"Content-Type": "text/plain", "X-Amz-Meta-Color": "blue", "x-amz-meta-multi": "a", "Content-Md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}},
		{"sub-resources", "GET", "http://proxy.local/bkt/k?uploadId=abc&partNumber=2&foo=bar", nil},
		{"uploads", "POST", "http://proxy.local/bkt/k?uploads", nil},
	}
	for _, tt := range tests {
		for _, query := range []bool{false, true} {
			name := tt.name
			if query {
				name += "/query"
			}
			t.Run(name, func(t *testing.T) {
				c, err := http.NewRequest(tt.method, tt.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, val := range tt.hdr {
					c.Header.Set(k, val)
				}
				if query {
					c = minisigner.PreSignV2(*c, "LOCALKEY", "localsecret", 600, false)
				} else {
					c = minisigner.SignV2(*c, "LOCALKEY", "localsecret", false)
				}
				r := serverRequest(t, c, nil)
				res, err := v.Verify(r, now)
				if err != nil {
					var me *MismatchError
					if errors.As(err, &me) {
						t.Logf("string to sign %q", me.StringToSign)
					}
					t.Fatalf("Verify(%s): %v", r.RequestURI, err)
				}
				want := AuthSigV2Header
				if query {
					want = AuthSigV2Query
				}
				if res.Type != want {
					t.Errorf("type %v, want %v", res.Type, want)
				}
				// Any change to a signed part must fail.
				r2 := serverRequest(t, c, nil)
				r2.Method = "DELETE"
				if _, err := v.Verify(r2, now); !errors.Is(err, ErrSignatureDoesNotMatch) {
					t.Errorf("tampered method: err = %v", err)
				}
				if query {
					if _, err := v.Verify(serverRequest(t, c, nil), now.Add(11*time.Minute)); !errors.Is(err, ErrRequestExpired) {
						t.Errorf("expired: err = %v", err)
					}
				}
			})
		}
	}
}

func TestSigV2Errors(t *testing.T) {
	v := NewVerifier(testKeys, func(o *VerifierOptions) { o.SigV2 = true })
	tests := []struct {
		name, target, auth string
		want               error
	}{
		{"no colon", "/b/k", "AWS LOCALKEY", ErrMalformedAuth},
		{"not base64", "/b/k", "AWS LOCALKEY:!!!", ErrMalformedAuth},
		{"short signature", "/b/k", "AWS LOCALKEY:c2ln", ErrMalformedAuth},
		{"unknown key", "/b/k", "AWS NOKEY:" + strings.Repeat("A", 27) + "=", ErrInvalidAccessKeyID},
		{"query missing expires", "/b/k?AWSAccessKeyId=LOCALKEY&Signature=" + strings.Repeat("A", 27) + "%3D", "", ErrMalformedAuth},
		{"query duplicate", "/b/k?AWSAccessKeyId=LOCALKEY&AWSAccessKeyId=X&Signature=x&Expires=1", "", ErrMalformedAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, bytes.NewReader(nil))
			r.Header.Set("Date", docTime.Format(http.TimeFormat))
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if _, err := v.Verify(r, docTime); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
