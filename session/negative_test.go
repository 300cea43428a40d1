package session

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// TestNegativeCache: a CreateSession answered NoSuchBucket, AccessDenied or
// InvalidBucketName is answered from memory for NegativeTTL (default 30 s)
// with the same error, without an upstream call and without a token (the
// global bucket here holds one token and refills one every 25 s), and is
// asked upstream again after the TTL. A transient failure keeps the short
// FailureTTL (default 5 s).
func TestNegativeCache(t *testing.T) {
	tests := []struct {
		name      string
		err       *UpstreamError
		wantCalls int64 // in 40 s of Gets every second (calls at 0 and after the TTL)
	}{
		{"NoSuchBucket", &UpstreamError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist"}, 2},
		{"AccessDenied", &UpstreamError{Status: 403, Code: "AccessDenied", Message: "Access Denied"}, 2},
		{"InvalidBucketName", &UpstreamError{Status: 400, Code: "InvalidBucketName", Message: "The specified bucket is not valid."}, 2},
		// Transient: FailureTTL, so 0, 5, 10, ... 35 s; each call needs a token.
		{"InternalError", &UpstreamError{Status: 500, Code: "InternalError", Message: "internal"}, 8},
		{"InvalidAccessKeyId", &UpstreamError{Status: 403, Code: "InvalidAccessKeyId", Message: "bad key"}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeCreator{err: func(string) error { return tt.err }}
				opts := Options{CreateRate: 1000, CreateBurst: 1000}
				if tt.wantCalls == 2 { // one token, the next one after 25 s
					opts = Options{CreateRate: 1.0 / 25, CreateBurst: 1}
				}
				c := New(f, opts)
				defer c.Close()
				var callsAt29 int64
				for s := range 40 {
					_, _, err := c.Get(t.Context(), key("missing"))
					var up *UpstreamError
					if !errors.As(err, &up) || *up != *tt.err {
						t.Fatalf("Get at +%ds = %v, want %v", s, err, tt.err)
					}
					if s == 29 {
						callsAt29 = f.calls.Load()
					}
					time.Sleep(time.Second)
				}
				if tt.wantCalls == 2 && callsAt29 != 1 {
					t.Errorf("CreateSession calls within the 30 s TTL = %d, want 1", callsAt29)
				}
				if got := f.calls.Load(); got != tt.wantCalls {
					t.Errorf("CreateSession calls in 40 s = %d, want %d", got, tt.wantCalls)
				}
			})
		})
	}
}

// TestNegativeCacheBounded: invented bucket names fill the negative cache
// up to MaxEntries at most, and never the session LRU, so they cannot push
// a session in use out.
func TestNegativeCacheBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nsb := &UpstreamError{Status: 404, Code: "NoSuchBucket"}
		f := &fakeCreator{err: func(b string) error {
			if b == "real" {
				return nil
			}
			return nsb
		}}
		c := New(f, Options{MaxEntries: 10, CreateRate: 1000, CreateBurst: 1000})
		defer c.Close()
		real, _, err := c.Get(t.Context(), key("real"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if _, _, err := c.Get(t.Context(), key(fmt.Sprint("invented", i))); !errors.Is(err, nsb) {
				t.Fatalf("Get invented%d = %v, want NoSuchBucket", i, err)
			}
		}
		if got, st, err := c.Get(t.Context(), key("real")); err != nil || st != Hit || got != real {
			t.Errorf("session in use after 100 invented names: %v %v, want a hit on the same session", st, err)
		}
		c.mu.Lock()
		n := c.negative.len()
		c.mu.Unlock()
		if n > 10 || c.Len() != 1 {
			t.Errorf("negative entries %d (max 10), session entries %d (want 1)", n, c.Len())
		}
	})
}

// TestThrottledLeavesNoEntry: a Get refused for lack of a token leaves
// nothing in the session LRU.
func TestThrottledLeavesNoEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{}
		c := New(f, Options{CreateRate: 1, CreateBurst: 5, CreateWait: time.Nanosecond, MaxEntries: 100})
		defer c.Close()
		for i := range 50 {
			_, _, _ = c.Get(t.Context(), key(fmt.Sprint("b", i)))
		}
		if got := c.Len(); got != 5 {
			t.Errorf("entries after 5 sessions and 45 throttled Gets = %d, want 5", got)
		}
	})
}

// TestForgetBucket: a bucket created after a NoSuchBucket was remembered
// is usable at once once ForgetBucket is called for it (the proxy calls it
// after a successful CreateBucket), and other buckets keep their failures.
func TestForgetBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		missing := &UpstreamError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
		exists := map[string]bool{}
		f := &fakeCreator{err: func(bucket string) error {
			if exists[bucket] {
				return nil
			}
			return missing
		}}
		c := New(f, Options{})
		defer c.Close()
		for _, b := range []string{"fresh", "other"} {
			if _, _, err := c.Get(t.Context(), key(b)); !errors.Is(err, missing) {
				t.Fatalf("Get %s = %v, want NoSuchBucket", b, err)
			}
		}
		exists["fresh"], exists["other"] = true, true
		c.ForgetBucket("fresh")
		if _, _, err := c.Get(t.Context(), key("fresh")); err != nil {
			t.Errorf("Get after ForgetBucket = %v, want a session", err)
		}
		if _, _, err := c.Get(t.Context(), key("other")); !errors.Is(err, missing) {
			t.Errorf("Get of another bucket = %v, want its remembered NoSuchBucket", err)
		}
	})
}
