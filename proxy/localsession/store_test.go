package localsession

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestIssueLookupExpiry(t *testing.T) {
	s := NewStore(Options{})
	c, err := s.Issue("alice", "LEGACYKEY1", "data--usw2-az1--x-s3", ReadOnly, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.AccessKeyID, AccessKeyPrefix) || len(c.AccessKeyID) != 20 {
		t.Errorf("access key id %q: want %s prefix and 20 chars", c.AccessKeyID, AccessKeyPrefix)
	}
	if len(c.SecretAccessKey) != 40 || len(c.SessionToken) != 128 {
		t.Errorf("secret len %d token len %d, want 40 and 128", len(c.SecretAccessKey), len(c.SessionToken))
	}
	if want := t0.Add(5 * time.Minute); !c.Expiration.Equal(want) {
		t.Errorf("expiration %v, want %v", c.Expiration, want)
	}
	k, ok := s.LookupKey(c.AccessKeyID)
	if !ok {
		t.Fatal("issued key not found")
	}
	if k.SecretAccessKey != c.SecretAccessKey || k.SessionToken != c.SessionToken || !k.Expires.Equal(c.Expiration) {
		t.Errorf("lookup key %+v does not match credentials", k)
	}
	sess, _ := k.Principal.(*Session)
	if sess == nil || sess.Principal != "alice" || sess.AccessKeyID != "LEGACYKEY1" ||
		sess.Bucket != "data--usw2-az1--x-s3" || sess.Mode != ReadOnly {
		t.Errorf("principal %+v", k.Principal)
	}
	if _, ok := s.LookupKey("S3XLUNKNOWN"); ok {
		t.Error("unknown key found")
	}

	// Expired but not purged: still found, so the verifier can say ExpiredToken.
	s.Purge(t0.Add(5*time.Minute - time.Second))
	if _, ok := s.LookupKey(c.AccessKeyID); !ok {
		t.Error("key purged before expiry")
	}
	s.Purge(t0.Add(5 * time.Minute))
	if _, ok := s.LookupKey(c.AccessKeyID); ok || s.Len() != 0 {
		t.Errorf("key kept after expiry purge, len %d", s.Len())
	}
}

func TestIssueDistinctAndTTL(t *testing.T) {
	s := NewStore(Options{TTL: time.Minute})
	seen := map[string]bool{}
	for i := range 50 {
		c, err := s.Issue(nil, "K", "b--usw2-az1--x-s3", ReadWrite, t0)
		if err != nil {
			t.Fatal(err)
		}
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
		bucket string
		mode   Mode
	}{
		{"bad mode", Options{}, "b--usw2-az1--x-s3", "Admin"},
		{"empty bucket", Options{}, "", ReadOnly},
		{"rand fails", Options{Rand: bytes.NewReader(make([]byte, 5))}, "b--usw2-az1--x-s3", ReadOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(tt.opts)
			if _, err := s.Issue(nil, "K", tt.bucket, tt.mode, t0); err == nil {
				t.Fatal("want error")
			}
			if s.Len() != 0 {
				t.Errorf("len %d after failed issue", s.Len())
			}
		})
	}
}

func TestBound(t *testing.T) {
	s := NewStore(Options{MaxEntries: 3, TTL: time.Minute})
	var ids []string
	for i := range 5 {
		c, err := s.Issue(nil, "K", "b--usw2-az1--x-s3", ReadOnly, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.AccessKeyID)
	}
	if s.Len() != 3 {
		t.Fatalf("len %d, want 3", s.Len())
	}
	for i, id := range ids {
		_, ok := s.LookupKey(id)
		if want := i >= 2; ok != want {
			t.Errorf("key %d present=%v, want %v (oldest evicted first)", i, ok, want)
		}
	}
	// Issuing after every entry expired purges them all first.
	if _, err := s.Issue(nil, "K", "b--usw2-az1--x-s3", ReadOnly, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Errorf("len %d after expiry purge, want 1", s.Len())
	}
}

func TestConcurrent(t *testing.T) {
	s := NewStore(Options{MaxEntries: 100})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				now := t0.Add(time.Duration(i) * time.Second)
				c, err := s.Issue(g, "K", "b--usw2-az1--x-s3", ReadWrite, now)
				if err != nil {
					errs <- err
					return
				}
				if k, ok := s.LookupKey(c.AccessKeyID); ok && k.SessionToken != c.SessionToken {
					errs <- fmt.Errorf("token mismatch for %s", c.AccessKeyID)
					return
				}
				s.Purge(now)
				_ = s.Len()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.Len(); n > 100 {
		t.Errorf("len %d exceeds bound", n)
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

func TestPrincipalMapping(t *testing.T) {
	type cred struct {
		Buckets []string
		Write   bool
	}
	alice := &cred{Buckets: []string{"*"}, Write: true}
	s := NewStore(Options{Principal: func(sess *Session) any {
		c := *sess.Principal.(*cred)
		c.Buckets, c.Write = []string{sess.Bucket}, c.Write && sess.Mode == ReadWrite
		return &c
	}})
	c, err := s.Issue(alice, "LEGACYKEY1", "a--usw2-az1--x-s3", ReadOnly, t0)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.LookupKey(c.AccessKeyID)
	got, ok := k.Principal.(*cred)
	if !ok || got.Write || len(got.Buckets) != 1 || got.Buckets[0] != "a--usw2-az1--x-s3" {
		t.Fatalf("mapped principal %+v", k.Principal)
	}
	if alice.Buckets[0] != "*" || !alice.Write {
		t.Error("caller's identity modified")
	}
	sess, ok := s.Session(c.AccessKeyID)
	if !ok || sess.Principal != alice || sess.Mode != ReadOnly {
		t.Errorf("Session() = %+v, %v", sess, ok)
	}
	if _, ok := s.Session("nope"); ok {
		t.Error("unknown session found")
	}
}
