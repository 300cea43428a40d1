package signing

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	minisigner "github.com/minio/minio-go/v7/pkg/signer"
)

// tokenKeys is a TokenKeyLookup whose secret is derived from the token, as
// stateless session credentials are; it records what it was asked.
type tokenKeys struct {
	mu   sync.Mutex
	seen [][2]string
}

func (k *tokenKeys) LookupKey(string) (Key, bool) { return Key{}, false }

func (k *tokenKeys) LookupTokenKey(akid, token string) (Key, error) {
	k.mu.Lock()
	k.seen = append(k.seen, [2]string{akid, token})
	k.mu.Unlock()
	switch {
	case akid != "TOKKEY":
		return Key{}, ErrInvalidAccessKeyID
	case token == "" || token == "bad":
		return Key{}, ErrInvalidToken
	}
	return Key{SecretAccessKey: "secret-of-" + token, SessionToken: token, Principal: token}, nil
}

func (k *tokenKeys) last() [2]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.seen) == 0 {
		return [2]string{}
	}
	return k.seen[len(k.seen)-1]
}

// TestTokenKeyLookup: every auth form hands the presented token to a
// TokenKeyLookup, whose errors come back as they are; a secret derived
// from another token does not verify; duplicated token headers are
// refused.
func TestTokenKeyLookup(t *testing.T) {
	keys := &tokenKeys{}
	v := NewVerifier(keys, func(o *VerifierOptions) { o.SigV2 = true })
	now := time.Now().UTC().Truncate(time.Second)
	v4header := func(token, secretOf string, extra ...string) *http.Request {
		c := newReq(t, "GET", "http://proxy.local/bkt/k", nil)
		c.Header.Set(HeaderS3SessionToken, token)
		for _, x := range extra {
			c.Header.Add(HeaderS3SessionToken, x)
		}
		c.Header.Set(HeaderContentSHA256, emptySHA256)
		creds := aws.Credentials{AccessKeyID: "TOKKEY", SecretAccessKey: "secret-of-" + secretOf}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, c, emptySHA256, ServiceS3Express, "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		return serverRequest(t, c, nil)
	}
	presigned := func(token string) *http.Request {
		c := newReq(t, "GET", "http://proxy.local/bkt/k?X-Amz-Expires=60&X-Amz-S3session-Token="+url.QueryEscape(token), nil)
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "TOKKEY", SecretAccessKey: "secret-of-" + token},
			c, UnsignedPayload, ServiceS3Express, "us-east-1", now)
		if err != nil {
			t.Fatal(err)
		}
		return serverRequest(t, newReq(t, "GET", u, nil), nil)
	}
	sigv2 := func(token string) *http.Request {
		c := newReq(t, "GET", "http://proxy.local/bkt/k", nil)
		c.Header.Set(HeaderS3SessionToken, token)
		return serverRequest(t, minisigner.SignV2(*c, "TOKKEY", "secret-of-"+token, false), nil)
	}
	tests := []struct {
		name  string
		r     *http.Request
		token string // what the lookup must have been given
		want  error
	}{
		{"v4 header", v4header("tok-1", "tok-1"), "tok-1", nil},
		{"v4 header, secret of another token", v4header("tok-1", "tok-2"), "tok-1", ErrSignatureDoesNotMatch},
		{"v4 header, lookup refuses the token", v4header("bad", "bad"), "bad", ErrInvalidToken},
		{"v4 header, no token", v4header("", ""), "", ErrInvalidToken},
		{"v4 header, token twice", v4header("tok-1", "tok-1", "tok-2"), "", ErrInvalidToken},
		{"presigned query", presigned("tok-3"), "tok-3", nil},
		{"sigv2 header", sigv2("tok-4"), "tok-4", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(keys.seen)
			res, err := v.Verify(tt.r, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err == nil && res.Principal != tt.token {
				t.Errorf("principal %v, want %q", res.Principal, tt.token)
			}
			asked := len(keys.seen) > before
			if tt.token == "" && tt.name == "v4 header, token twice" {
				if asked {
					t.Error("the lookup was asked with one of several tokens")
				}
				return
			}
			if !asked || keys.last() != [2]string{"TOKKEY", tt.token} {
				t.Errorf("lookup asked %v, want TOKKEY with %q", keys.last(), tt.token)
			}
		})
	}
}
