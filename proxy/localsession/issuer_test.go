package localsession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
	"github.com/s3xproxy/s3xproxy/signing"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const testBucket = "data--usw2-az1--x-s3"

// ids is a fixed set of local credentials, as the proxy's keyring.
type ids map[string]signing.Key

func (m ids) LookupKey(id string) (signing.Key, bool) { k, ok := m[id]; return k, ok }

func testIDs() ids {
	return ids{
		"LEGACYKEY1": {SecretAccessKey: "secret-1", Principal: "alice"},
		"LEGACYKEY2": {SecretAccessKey: "secret-2", Principal: "bob"},
		"TOKENKEY":   {SecretAccessKey: "s", SessionToken: "t", Principal: "sts"},
	}
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newIssuer(t testing.TB, id signing.KeyLookup, keys ...[]byte) *Issuer {
	t.Helper()
	s, err := New(Options{Keys: keys, Identities: id})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issue(t testing.TB, s *Issuer, akid string, mode Mode) Credentials {
	t.Helper()
	c, err := s.Issue(akid, testBucket, mode, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssueOpen(t *testing.T) {
	s := newIssuer(t, testIDs(), key(1))
	for _, mode := range []Mode{ReadOnly, ReadWrite} {
		c := issue(t, s, "LEGACYKEY1", mode)
		if !strings.HasPrefix(c.AccessKeyID, AccessKeyPrefix) || len(c.AccessKeyID) != 20 {
			t.Errorf("access key id %q: want %s prefix and 20 chars", c.AccessKeyID, AccessKeyPrefix)
		}
		if len(c.SecretAccessKey) != 40 || c.SessionToken == "" || len(c.SessionToken) > 200 {
			t.Errorf("secret len %d token len %d", len(c.SecretAccessKey), len(c.SessionToken))
		}
		if want := t0.Add(DefaultTTL); !c.Expiration.Equal(want) {
			t.Errorf("expiration %v, want %v", c.Expiration, want)
		}
		sess, secret, err := s.Open(c.AccessKeyID, c.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		if secret != c.SecretAccessKey {
			t.Error("derived secret differs from the issued one")
		}
		want := Session{Principal: "alice", AccessKeyID: "LEGACYKEY1", Bucket: testBucket, Mode: mode, Expires: c.Expiration}
		if *sess != want {
			t.Errorf("session %+v, want %+v", *sess, want)
		}
		k, err := s.LookupTokenKey(c.AccessKeyID, c.SessionToken)
		if err != nil || k.SecretAccessKey != c.SecretAccessKey || k.SessionToken != c.SessionToken || !k.Expires.Equal(c.Expiration) {
			t.Errorf("LookupTokenKey %+v %v", k, err)
		}
	}
}

func TestIssueDistinctAndTTL(t *testing.T) {
	s, err := New(Options{TTL: time.Minute, Identities: testIDs()})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 50 {
		c := issue(t, s, "LEGACYKEY1", ReadWrite)
		for _, v := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
			if seen[v] {
				t.Fatalf("issue %d repeated a value", i)
			}
			seen[v] = true
		}
		if !c.Expiration.Equal(t0.Add(time.Minute)) {
			t.Fatalf("expiration %v", c.Expiration)
		}
	}
}

func TestIssueErrors(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		akid   string
		bucket string
		mode   Mode
		want   error
	}{
		{"bad mode", Options{}, "LEGACYKEY1", testBucket, "Admin", ErrInvalidMode},
		{"empty bucket", Options{}, "LEGACYKEY1", "", ReadOnly, nil},
		{"anonymous", Options{}, "", testBucket, ReadOnly, ErrNoIdentity},
		{"unknown identity", Options{}, "anonymous", testBucket, ReadOnly, ErrNoIdentity},
		{"identity with a token", Options{}, "TOKENKEY", testBucket, ReadOnly, ErrNoIdentity},
		{"rand fails", Options{Keys: [][]byte{key(1)}, Rand: bytes.NewReader(make([]byte, 3))}, "LEGACYKEY1", testBucket, ReadOnly, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Identities = testIDs()
			s, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Issue(tt.akid, tt.bucket, tt.mode, t0)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no Identities: want error")
	}
	if _, err := New(Options{Identities: testIDs(), Keys: [][]byte{key(1), make([]byte, 31)}}); err == nil || !strings.Contains(err.Error(), "key 1") {
		t.Errorf("short key: %v", err)
	}
}

// TestTamperEveryByte flips each byte (and each character) of the access
// key id and token: every change is refused.
func TestTamperEveryByte(t *testing.T) {
	s := newIssuer(t, testIDs(), key(1))
	c := issue(t, s, "LEGACYKEY1", ReadWrite)
	raw, err := tokenEncoding.DecodeString(c.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(raw)
			b[i] ^= bit
			tok := tokenEncoding.EncodeToString(b)
			if _, _, err := s.Open(c.AccessKeyID, tok); !errors.Is(err, ErrBadToken) {
				t.Fatalf("token byte %d ^%#x: %v, want ErrBadToken", i, bit, err)
			}
		}
	}
	for _, tok := range []string{"", c.SessionToken[:len(c.SessionToken)-1], c.SessionToken + "A", c.SessionToken + "\n",
		"A" + c.SessionToken, strings.Repeat("A", 2000), c.SessionToken[:20] + "\r\n" + c.SessionToken[20:]} {
		if _, _, err := s.Open(c.AccessKeyID, tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("token %.30q...: %v, want ErrBadToken", tok, err)
		}
	}
	for i := len(AccessKeyPrefix); i < len(c.AccessKeyID); i++ {
		for _, r := range []byte("AZ27") {
			if c.AccessKeyID[i] == r {
				continue
			}
			akid := c.AccessKeyID[:i] + string(r) + c.AccessKeyID[i+1:]
			_, _, err := s.Open(akid, c.SessionToken)
			if err == nil {
				t.Fatalf("access key id char %d -> %c accepted", i, r)
			}
		}
	}
	for _, akid := range []string{"", "S3XL", "LEGACYKEY1", "s3xl" + c.AccessKeyID[4:], c.AccessKeyID + "A", c.AccessKeyID[:19]} {
		if _, _, err := s.Open(akid, c.SessionToken); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("access key id %q: %v, want ErrUnknownKey", akid, err)
		}
	}
	// Another session's token with this access key id: the token is
	// bound to its own id.
	other := issue(t, s, "LEGACYKEY1", ReadWrite)
	if _, _, err := s.Open(c.AccessKeyID, other.SessionToken); !errors.Is(err, ErrBadToken) {
		t.Errorf("swapped token: %v, want ErrBadToken", err)
	}
}

func TestWrongKeyAndRotation(t *testing.T) {
	id := testIDs()
	oldKey, newKey := key(1), key(2)
	before := newIssuer(t, id, oldKey)
	c := issue(t, before, "LEGACYKEY1", ReadWrite)

	if _, _, err := newIssuer(t, id, newKey).Open(c.AccessKeyID, c.SessionToken); err == nil {
		t.Fatal("a session opened under another key")
	}
	rotated := newIssuer(t, id, newKey, oldKey)
	if _, secret, err := rotated.Open(c.AccessKeyID, c.SessionToken); err != nil || secret != c.SecretAccessKey {
		t.Fatalf("old session after rotation [new, old]: %v", err)
	}
	fresh := issue(t, rotated, "LEGACYKEY1", ReadWrite)
	if _, _, err := newIssuer(t, id, newKey).Open(fresh.AccessKeyID, fresh.SessionToken); err != nil {
		t.Fatalf("new key does not open what the rotated issuer sealed: %v", err)
	}
	if _, _, err := before.Open(fresh.AccessKeyID, fresh.SessionToken); err == nil {
		t.Fatal("the rotated issuer sealed with the old key")
	}
	// Old key dropped: its sessions end.
	if _, _, err := newIssuer(t, id, newKey).Open(c.AccessKeyID, c.SessionToken); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old session after the old key was dropped: %v", err)
	}
}

// TestKeysColliding: two keys whose id byte collides still open their own
// sessions (every key that vouches for the access key id is tried).
func TestKeysColliding(t *testing.T) {
	first, err := newSealKey(key(1))
	if err != nil {
		t.Fatal(err)
	}
	var other []byte
	for i := 2; ; i++ {
		k := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 16)
		sk, _ := newSealKey(k)
		if sk.id == first.id {
			other = k
			break
		}
	}
	id := testIDs()
	c := issue(t, newIssuer(t, id, other), "LEGACYKEY1", ReadOnly)
	if _, _, err := newIssuer(t, id, key(1), other).Open(c.AccessKeyID, c.SessionToken); err != nil {
		t.Fatal(err)
	}
}

// TestRevocation: the issuing credential is checked against the current
// identities on every open.
func TestRevocation(t *testing.T) {
	id := testIDs()
	c := issue(t, newIssuer(t, id, key(1)), "LEGACYKEY1", ReadWrite)
	tests := []struct {
		name string
		edit func(ids)
		want error
	}{
		{"unchanged", func(ids) {}, nil},
		{"other keys changed", func(m ids) { delete(m, "LEGACYKEY2") }, nil},
		{"principal changed", func(m ids) { m["LEGACYKEY1"] = signing.Key{SecretAccessKey: "secret-1", Principal: "alice2"} }, nil},
		{"removed", func(m ids) { delete(m, "LEGACYKEY1") }, ErrRevoked},
		{"secret rotated", func(m ids) { m["LEGACYKEY1"] = signing.Key{SecretAccessKey: "secret-1b", Principal: "alice"} }, ErrRevoked},
		{"became a token key", func(m ids) { m["LEGACYKEY1"] = signing.Key{SecretAccessKey: "secret-1", SessionToken: "x"} }, ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := testIDs()
			tt.edit(now)
			sess, _, err := newIssuer(t, now, key(1)).Open(c.AccessKeyID, c.SessionToken)
			if !errors.Is(err, tt.want) || (err == nil && sess.Principal != now["LEGACYKEY1"].Principal) {
				t.Fatalf("got %v (%+v), want %v", err, sess, tt.want)
			}
		})
	}
}

// TestLookupTokenKeyErrors maps every failure to the signing sentinel the
// proxy answers with.
func TestLookupTokenKeyErrors(t *testing.T) {
	s := newIssuer(t, testIDs(), key(1))
	c := issue(t, s, "LEGACYKEY1", ReadWrite)
	revoked := newIssuer(t, ids{}, key(1))
	tests := []struct {
		name        string
		s           *Issuer
		akid, token string
		want        error
	}{
		{"not a session id", s, "LEGACYKEY1", c.SessionToken, signing.ErrInvalidAccessKeyID},
		{"forged id", s, AccessKeyPrefix + "AAAAAAAAAAAAAAAA", c.SessionToken, signing.ErrInvalidAccessKeyID},
		{"no token", s, c.AccessKeyID, "", signing.ErrInvalidToken},
		{"garbage token", s, c.AccessKeyID, "!!", signing.ErrInvalidToken},
		{"revoked", revoked, c.AccessKeyID, c.SessionToken, signing.ErrInvalidAccessKeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.s.LookupTokenKey(tt.akid, tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifierExpiry signs requests with a session, as an S3 Express SDK
// does, and verifies them with signing.Verifier at injected times: valid
// until Expiration, ExpiredToken from then on.
func TestVerifierExpiry(t *testing.T) {
	s := newIssuer(t, testIDs(), key(1))
	c := issue(t, s, "LEGACYKEY1", ReadOnly)
	v := signing.NewVerifier(s)
	tests := []struct {
		at   time.Time
		want error
	}{
		{t0, nil},
		{c.Expiration.Add(-time.Second), nil},
		{c.Expiration, signing.ErrExpiredToken},
		{c.Expiration.Add(time.Hour), signing.ErrExpiredToken},
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.TimeOnly), func(t *testing.T) {
			r := signedRequest(t, c, c.SessionToken, tt.at)
			res, err := v.Verify(r, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err == nil {
				sess, ok := res.Principal.(*Session)
				if !ok || sess.Bucket != testBucket || sess.Mode != ReadOnly || res.AccessKeyID != c.AccessKeyID {
					t.Fatalf("result %+v", res)
				}
			}
		})
	}
	// The token header twice (signed as such): refused, not guessed.
	r := signedRequest(t, c, c.SessionToken, t0, c.SessionToken)
	if _, err := v.Verify(r, t0); !errors.Is(err, signing.ErrInvalidToken) {
		t.Fatalf("duplicated token header: %v", err)
	}
}

func signedRequest(t *testing.T, c Credentials, token string, at time.Time, extraTokens ...string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", "http://proxy/"+testBucket+"/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set(signing.HeaderS3SessionToken, token)
	for _, x := range extraTokens {
		r.Header.Add(signing.HeaderS3SessionToken, x)
	}
	sum := sha256.Sum256(nil)
	hash := hex.EncodeToString(sum[:])
	r.Header.Set(signing.HeaderContentSHA256, hash)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		r, hash, signing.ServiceS3Express, "us-west-2", at)
	if err != nil {
		t.Fatal(err)
	}
	r.RequestURI = r.URL.RequestURI()
	return r
}

func TestConcurrent(t *testing.T) {
	s := newIssuer(t, testIDs(), key(1))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				c, err := s.Issue("LEGACYKEY2", testBucket, ReadWrite, t0)
				if err == nil {
					_, _, err = s.Open(c.AccessKeyID, c.SessionToken)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCheck(t *testing.T) {
	ro := &Session{Bucket: "a--usw2-az1--x-s3", Mode: ReadOnly}
	rw := &Session{Bucket: "a--usw2-az1--x-s3", Mode: ReadWrite}
	tests := []struct {
		name   string
		sess   *Session
		bucket string
		write  bool
		want   error
	}{
		{"rw read", rw, "a--usw2-az1--x-s3", false, nil},
		{"rw write", rw, "a--usw2-az1--x-s3", true, nil},
		{"ro read", ro, "a--usw2-az1--x-s3", false, nil},
		{"ro write", ro, "a--usw2-az1--x-s3", true, ErrReadOnly},
		{"other bucket", rw, "b--usw2-az1--x-s3", false, ErrWrongBucket},
		{"nil session", nil, "a--usw2-az1--x-s3", false, ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.sess, tt.bucket, tt.write)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err != nil {
				if e := s3err.From(err); e.Status != 403 || e.Code != "AccessDenied" {
					t.Errorf("got %d %s, want 403 AccessDenied", e.Status, e.Code)
				}
			}
		})
	}
}

func TestModeFor(t *testing.T) {
	tests := []struct {
		requested string
		canWrite  bool
		want      Mode
		status    int
	}{
		{"", true, ReadWrite, 0},
		{"", false, ReadOnly, 0},
		{"ReadOnly", true, ReadOnly, 0},
		{"ReadWrite", true, ReadWrite, 0},
		{"ReadWrite", false, "", 403},
		{"readwrite", true, "", 400},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%v", tt.requested, tt.canWrite), func(t *testing.T) {
			got, err := ModeFor(tt.requested, tt.canWrite)
			if tt.status != 0 {
				if e := s3err.From(err); err == nil || e.Status != tt.status {
					t.Fatalf("got %v (%v), want status %d", got, err, tt.status)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
}

// BenchmarkLookupTokenKey is the per-request cost of a stateless session:
// decode, AES-GCM open, identity re-check, secret derivation.
func BenchmarkLookupTokenKey(b *testing.B) {
	s := newIssuer(b, testIDs(), key(1), key(2))
	c := issue(b, s, "LEGACYKEY1", ReadWrite)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.LookupTokenKey(c.AccessKeyID, c.SessionToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	s := newIssuer(b, testIDs(), key(1))
	b.ReportAllocs()
	for b.Loop() {
		issue(b, s, "LEGACYKEY1", ReadWrite)
	}
}
