package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeCreator answers CreateSession after delay with sessions of lifetime
// ttl, or with err(bucket) when that is non-nil. Safe for concurrent use.
type fakeCreator struct {
	ttl   time.Duration
	delay time.Duration
	err   func(bucket string) error

	calls     atomic.Int64
	cancelled atomic.Int64 // calls whose ctx ended before they answered
	mu        sync.Mutex
	starts    []time.Time // guarded by mu
}

func (f *fakeCreator) CreateSession(ctx context.Context, bucket string, mode Mode) (Credentials, error) {
	n := f.calls.Add(1)
	f.mu.Lock()
	f.starts = append(f.starts, time.Now())
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			f.cancelled.Add(1)
			return Credentials{}, &UpstreamError{Err: ctx.Err()}
		}
	}
	if f.err != nil {
		if err := f.err(bucket); err != nil {
			return Credentials{}, err
		}
	}
	ttl := f.ttl
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	return Credentials{
		AccessKeyID:     fmt.Sprintf("AK%d", n),
		SecretAccessKey: "secret",
		SessionToken:    "token",
		Expiration:      time.Now().Add(ttl),
	}, nil
}

func key(bucket string) Key { return Key{Identity: "id", Bucket: bucket, Mode: ReadWrite} }

// timedGet runs Get and reports how much (virtual) time it took.
func timedGet(t *testing.T, c *Cache, ctx context.Context, k Key) (Credentials, Status, time.Duration, error) {
	t.Helper()
	start := time.Now()
	creds, st, err := c.Get(ctx, k)
	return creds, st, time.Since(start), err
}

func TestColdKeySingleflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: 100 * time.Millisecond}
		c := New(f, Options{})
		defer c.Close()
		var wg sync.WaitGroup
		akids := make([]string, 200)
		for i := range akids {
			wg.Go(func() {
				creds, st, err := c.Get(t.Context(), key("b"))
				if err != nil || st != Miss {
					t.Errorf("Get = %v, %v; want Miss, nil", st, err)
				}
				akids[i] = creds.AccessKeyID
			})
		}
		wg.Wait()
		if got := f.calls.Load(); got != 1 {
			t.Errorf("CreateSession calls = %d, want 1", got)
		}
		for i, a := range akids {
			if a != "AK1" {
				t.Fatalf("caller %d got %q, want AK1", i, a)
			}
		}
		if _, st, _ := c.Get(t.Context(), key("b")); st != Hit {
			t.Errorf("next Get status = %v, want hit", st)
		}
	})
}

func TestSteadyTrafficNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{ttl: 5 * time.Second, delay: 50 * time.Millisecond}
		c := New(f, Options{RefreshBefore: 2 * time.Second})
		defer c.Close()
		if _, st, _, err := timedGet(t, c, t.Context(), key("b")); err != nil || st != Miss {
			t.Fatalf("first Get = %v, %v", st, err)
		}
		var refreshes int
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
			time.Sleep(100 * time.Millisecond)
			creds, st, took, err := timedGet(t, c, t.Context(), key("b"))
			if err != nil || took != 0 || st == Miss {
				t.Fatalf("at %v: Get = %v, took %v, err %v; want served from cache at once", time.Now(), st, took, err)
			}
			if !time.Now().Before(creds.Expiration.Add(-500 * time.Millisecond)) {
				t.Fatalf("at %v: served creds expiring at %v, inside the hard margin", time.Now(), creds.Expiration)
			}
			if st == Refresh {
				refreshes++
			}
		}
		// One call at start, then one every ~3.1 s (refresh 2 s before a 5 s
		// expiry, plus the 50 ms call and the 100 ms tick).
		if got := f.calls.Load(); got < 9 || got > 11 {
			t.Errorf("CreateSession calls in 30s = %d, want about 10", got)
		}
		if int64(refreshes) != f.calls.Load()-1 && int64(refreshes) != f.calls.Load()-2 {
			t.Errorf("Refresh statuses = %d, calls = %d", refreshes, f.calls.Load())
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for i := 1; i < len(f.starts); i++ {
			if gap := f.starts[i].Sub(f.starts[i-1]); gap < 2900*time.Millisecond || gap > 3300*time.Millisecond {
				t.Errorf("gap between calls %d and %d = %v, want ≈3s", i-1, i, gap)
			}
		}
	})
}

func TestCreateSessionStormIsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: 10 * time.Millisecond}
		obs := &countingObserver{}
		c := New(f, Options{CreateRate: 20, CreateBurst: 40, CreateWait: 2 * time.Second, Observer: obs})
		defer c.Close()
		start := time.Now()
		var ok, throttled atomic.Int64
		var wg sync.WaitGroup
		for i := range 500 {
			wg.Go(func() {
				_, _, took, err := timedGet(t, c, t.Context(), key(fmt.Sprintf("b%d", i)))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrThrottled):
					throttled.Add(1)
					if took != 0 {
						t.Errorf("throttled Get took %v, want an immediate answer", took)
					}
				default:
					t.Errorf("Get: %v", err)
				}
			})
		}
		wg.Wait()
		// 40 from the burst plus 20/s for the 2 s CreateWait.
		if got := ok.Load(); got < 79 || got > 81 {
			t.Errorf("successful Gets = %d, want ≈80", got)
		}
		if ok.Load()+throttled.Load() != 500 {
			t.Errorf("ok %d + throttled %d != 500", ok.Load(), throttled.Load())
		}
		if f.calls.Load() != ok.Load() {
			t.Errorf("CreateSession calls = %d, want %d (throttled ones never call)", f.calls.Load(), ok.Load())
		}
		f.mu.Lock()
		for i, s := range f.starts {
			// The i-th call (0-based) may start no earlier than the bucket allows.
			if allowed := 40 + 20*s.Sub(start).Seconds(); float64(i+1) > allowed+0.001 {
				t.Errorf("call %d started at +%v, above the rate", i, s.Sub(start))
			}
		}
		f.mu.Unlock()
		if obs.refused.Load() != throttled.Load() {
			t.Errorf("Observer refused = %d, want %d", obs.refused.Load(), throttled.Load())
		}
		if obs.waited.Load() != ok.Load()-40 {
			t.Errorf("Observer waited = %d, want %d", obs.waited.Load(), ok.Load()-40)
		}
	})
}

type countingObserver struct {
	creates, failures, waited, refused atomic.Int64
	mu                                 sync.Mutex
	codes                              []string
}

func (o *countingObserver) CreateSession(bucket string, mode Mode, code string, took time.Duration) {
	o.creates.Add(1)
	if code != "" {
		o.failures.Add(1)
	}
	o.mu.Lock()
	o.codes = append(o.codes, code)
	o.mu.Unlock()
}

func (o *countingObserver) Throttled(waited time.Duration, ok bool) {
	if ok {
		o.waited.Add(1)
	} else {
		o.refused.Add(1)
	}
}

// peekObserver looks into the cache from the Observer's CreateSession, with
// a context that lets Get serve only what the cache holds.
type peekObserver struct {
	c        *Cache
	key      Key
	mu       sync.Mutex
	creds    []string // AccessKeyID served, "" when Get would have waited
	statuses []Status
}

func (o *peekObserver) CreateSession(string, Mode, string, time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	creds, st, _ := o.c.Get(ctx, o.key)
	o.mu.Lock()
	o.creds, o.statuses = append(o.creds, creds.AccessKeyID), append(o.statuses, st)
	o.mu.Unlock()
}

func (*peekObserver) Throttled(time.Duration, bool) {}

// TestObserverSeesStoredSession: by the time the Observer hears of a
// CreateSession, its credentials are the ones the cache serves, for the
// first call and for a background refresh alike (a test or dashboard
// counting calls may rely on the session being in place).
func TestObserverSeesStoredSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{ttl: 5 * time.Second, delay: 10 * time.Millisecond}
		obs := &peekObserver{key: key("b")}
		c := New(f, Options{RefreshBefore: 2 * time.Second, Observer: obs})
		obs.c = c
		defer c.Close()
		if _, _, err := c.Get(t.Context(), key("b")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3500 * time.Millisecond) // inside the refresh window
		if _, st, err := c.Get(t.Context(), key("b")); err != nil || st != Refresh {
			t.Fatalf("Get in the refresh window = %v, %v", st, err)
		}
		time.Sleep(time.Second) // the refresh's call takes 10 ms
		synctest.Wait()
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if want := []string{"AK1", "AK2"}; !slices.Equal(obs.creds, want) {
			t.Errorf("the Observer found %q (statuses %v) in the cache; want %q", obs.creds, obs.statuses, want)
		}
	})
}

// TestFailureIsCached: a transient failure (here 500 InternalError) is
// cached for FailureTTL; permanent ones are TestNegativeCache's.
func TestFailureIsCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		denied := &UpstreamError{Status: 500, Code: "InternalError", Message: "We encountered an internal error."}
		f := &fakeCreator{delay: 20 * time.Millisecond, err: func(string) error { return denied }}
		obs := &countingObserver{}
		c := New(f, Options{FailureTTL: 5 * time.Second, Observer: obs})
		defer c.Close()
		for range 120 { // 12 s of Gets every 100 ms
			_, _, err := c.Get(t.Context(), key("b"))
			var up *UpstreamError
			if !errors.As(err, &up) || up.Code != "InternalError" {
				t.Fatalf("Get error = %v, want InternalError", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Calls at 0, ~5.02 s and ~10.04 s: once per FailureTTL, never in a loop.
		if got := f.calls.Load(); got != 3 {
			t.Errorf("CreateSession calls in 12 s = %d, want 3", got)
		}
		if obs.failures.Load() != 3 || obs.codes[0] != "InternalError" {
			t.Errorf("Observer failures = %d codes %v", obs.failures.Load(), obs.codes)
		}
		// Another key is not affected by this key's failure cache.
		f.err = nil
		if _, _, err := c.Get(t.Context(), key("other")); err != nil {
			t.Errorf("other key: %v", err)
		}
	})
}

// TestNoWaitNoFailureCache: a negative CreateWait refuses at once a
// CreateSession with no token at hand, and a negative FailureTTL keeps no
// failure (config's "create_wait: 0s" and "failure_ttl: 0"); zero would
// mean the defaults, a 2 s wait and a 5 s cache.
func TestNoWaitNoFailureCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(&fakeCreator{}, Options{CreateRate: 1, CreateBurst: 1, CreateWait: -1})
		defer c.Close()
		if _, _, err := c.Get(t.Context(), key("a")); err != nil {
			t.Fatalf("first Get: %v", err)
		}
		start := time.Now()
		if _, _, err := c.Get(t.Context(), key("b")); !errors.Is(err, ErrThrottled) || time.Since(start) != 0 {
			t.Errorf("second Get = %v after %v, want ErrThrottled at once", err, time.Since(start))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		failed := &UpstreamError{Status: 500, Code: "InternalError", Message: "We encountered an internal error."}
		f := &fakeCreator{err: func(string) error { return failed }}
		c := New(f, Options{FailureTTL: -1})
		defer c.Close()
		for range 3 {
			if _, _, err := c.Get(t.Context(), key("b")); !errors.Is(err, failed) {
				t.Fatalf("Get = %v, want the upstream failure", err)
			}
		}
		if got := f.calls.Load(); got != 3 {
			t.Errorf("CreateSession calls = %d, want 3 (no failure cached)", got)
		}
	})
}

func TestInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: 10 * time.Millisecond}
		c := New(f, Options{})
		defer c.Close()
		k := key("b")
		first, _, _ := c.Get(t.Context(), k)
		c.Invalidate(k, Credentials{AccessKeyID: "someone-else"})
		if got, st, _ := c.Get(t.Context(), k); st != Hit || got.AccessKeyID != first.AccessKeyID {
			t.Errorf("after Invalidate of other creds: %v %q, want hit %q", st, got.AccessKeyID, first.AccessKeyID)
		}
		c.Invalidate(Key{Identity: "id", Bucket: "b", Mode: ReadOnly}, first) // other key
		if _, st, _ := c.Get(t.Context(), k); st != Hit {
			t.Errorf("after Invalidate of another key: %v, want hit", st)
		}
		// 50 requests fail with the same session at once: one new session.
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				c.Invalidate(k, first)
				got, _, err := c.Get(t.Context(), k)
				if err != nil || got.AccessKeyID == first.AccessKeyID {
					t.Errorf("retry Get = %q, %v; want new creds", got.AccessKeyID, err)
				}
			})
		}
		wg.Wait()
		if got := f.calls.Load(); got != 2 {
			t.Errorf("CreateSession calls = %d, want 2", got)
		}
	})
}

func TestLRUBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{}
		c := New(f, Options{MaxEntries: 3})
		defer c.Close()
		for _, b := range []string{"k1", "k2", "k3", "k1", "k4"} {
			if _, _, err := c.Get(t.Context(), key(b)); err != nil {
				t.Fatal(err)
			}
		}
		if c.Len() != 3 {
			t.Errorf("Len = %d, want 3", c.Len())
		}
		for _, tt := range []struct {
			bucket string
			want   Status
		}{{"k1", Hit}, {"k4", Hit}, {"k3", Hit}, {"k2", Miss}} {
			if _, st, _ := c.Get(t.Context(), key(tt.bucket)); st != tt.want {
				t.Errorf("Get(%s) = %v, want %v", tt.bucket, st, tt.want)
			}
		}
		if c.Len() != 3 {
			t.Errorf("Len = %d, want 3", c.Len())
		}
	})
}

func TestIdleEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{ttl: 5 * time.Minute}
		c := New(f, Options{IdleTTL: time.Minute, RefreshBefore: 60 * time.Second})
		defer c.Close()
		c.Get(t.Context(), key("idle"))
		c.Get(t.Context(), key("busy"))
		for range 12 { // 6 minutes: busy used every 30 s, idle never
			time.Sleep(30 * time.Second)
			if _, _, err := c.Get(t.Context(), key("busy")); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // let a background refresh finish
		}
		if c.Len() != 1 {
			t.Errorf("Len = %d, want 1 (idle key dropped)", c.Len())
		}
		// busy: 1 + one refresh; idle: 1, never refreshed.
		if got := f.calls.Load(); got != 3 {
			t.Errorf("CreateSession calls = %d, want 3", got)
		}
		if _, st, _ := c.Get(t.Context(), key("idle")); st != Miss {
			t.Errorf("Get(idle) = %v, want miss", st)
		}
		time.Sleep(time.Minute)
		if c.Len() != 0 {
			t.Errorf("Len after a minute without Gets = %d, want 0", c.Len())
		}
	})
}

func TestRefreshSurvivesCancelledRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{ttl: 5 * time.Minute, delay: time.Second}
		c := New(f, Options{})
		defer c.Close()
		first, _, _ := c.Get(t.Context(), key("b"))
		time.Sleep(4*time.Minute + 30*time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		got, st, err := c.Get(ctx, key("b"))
		cancel()
		if err != nil || st != Refresh || got.AccessKeyID != first.AccessKeyID {
			t.Fatalf("Get in window = %q %v %v, want old creds with refresh", got.AccessKeyID, st, err)
		}
		time.Sleep(2 * time.Second)
		if f.cancelled.Load() != 0 {
			t.Error("the refresh was cancelled with the request")
		}
		got, st, _ = c.Get(t.Context(), key("b"))
		if st != Hit || got.AccessKeyID == first.AccessKeyID {
			t.Errorf("after refresh: %q %v, want new creds, hit", got.AccessKeyID, st)
		}
	})
}

func TestWaiterHonoursOwnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: 5 * time.Second}
		c := New(f, Options{})
		defer c.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, _, took, err := timedGet(t, c, ctx, key("b"))
		if !errors.Is(err, context.DeadlineExceeded) || took != time.Second {
			t.Fatalf("Get = %v after %v, want deadline exceeded after 1s", err, took)
		}
		// The call goes on for the next caller.
		_, st, took, err := timedGet(t, c, t.Context(), key("b"))
		if err != nil || st != Miss || took != 4*time.Second {
			t.Errorf("second Get = %v %v after %v, want the same call's result after 4s", st, err, took)
		}
		if f.calls.Load() != 1 || f.cancelled.Load() != 0 {
			t.Errorf("calls %d cancelled %d, want 1 0", f.calls.Load(), f.cancelled.Load())
		}
	})
}

func TestCreateTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: time.Hour}
		c := New(f, Options{CreateTimeout: 2 * time.Second, FailureTTL: 5 * time.Second})
		defer c.Close()
		_, _, took, err := timedGet(t, c, t.Context(), key("b"))
		if !errors.Is(err, context.DeadlineExceeded) || took != 2*time.Second {
			t.Fatalf("Get = %v after %v, want deadline exceeded after 2s", err, took)
		}
		if _, _, took, err := timedGet(t, c, t.Context(), key("b")); err == nil || took != 0 {
			t.Errorf("second Get = %v after %v, want the cached failure at once", err, took)
		}
	})
}

func TestHardMargin(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration
		sleep   time.Duration
		refresh time.Duration
		want    Status
	}{
		{"5m session 6s before expiry", 5 * time.Minute, 4*time.Minute + 54*time.Second, time.Second, Hit},
		{"5m session 4s before expiry", 5 * time.Minute, 4*time.Minute + 56*time.Second, time.Second, Miss},
		{"5s session 0.6s before expiry", 5 * time.Second, 4400 * time.Millisecond, 100 * time.Millisecond, Hit},
		{"5s session 0.4s before expiry", 5 * time.Second, 4600 * time.Millisecond, 100 * time.Millisecond, Miss},
		{"refresh window clamped to half the life", 5 * time.Second, 2600 * time.Millisecond, time.Minute, Refresh},
		{"before half the life no refresh", 5 * time.Second, 2400 * time.Millisecond, time.Minute, Hit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeCreator{ttl: tt.ttl}
				c := New(f, Options{RefreshBefore: tt.refresh})
				defer c.Close()
				c.Get(t.Context(), key("b"))
				time.Sleep(tt.sleep)
				if _, st, err := c.Get(t.Context(), key("b")); st != tt.want || err != nil {
					t.Errorf("Get = %v, %v; want %v", st, err, tt.want)
				}
			})
		})
	}
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: time.Hour}
		c := New(f, Options{CreateTimeout: 2 * time.Hour})
		errc := make(chan error)
		go func() {
			_, _, err := c.Get(t.Context(), key("b"))
			errc <- err
		}()
		synctest.Wait()
		c.Close()
		if err := <-errc; err == nil {
			t.Error("Get in flight at Close succeeded")
		}
		if f.cancelled.Load() != 1 {
			t.Errorf("in-flight call not cancelled by Close")
		}
		if _, _, err := c.Get(t.Context(), key("b")); !errors.Is(err, ErrClosed) {
			t.Errorf("Get after Close = %v, want ErrClosed", err)
		}
		c.Close()
	})
}

func TestInjectedClockThrottle(t *testing.T) {
	// Without synctest: an injected clock drives the token bucket.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := &fakeCreator{}
	c := New(f, Options{Now: clock, CreateRate: 1, CreateBurst: 2, CreateWait: time.Nanosecond})
	defer c.Close()
	var errs []error
	for i := range 4 {
		_, _, err := c.Get(context.Background(), key(fmt.Sprint(i)))
		errs = append(errs, err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrThrottled) || !errors.Is(errs[3], ErrThrottled) {
		t.Fatalf("errors = %v, want nil nil throttled throttled", errs)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if _, _, err := c.Get(context.Background(), key("2")); err != nil {
		t.Errorf("after 1s of injected time: %v", err)
	}
}

func TestExpiredOnArrivalIsCachedFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{ttl: -time.Minute}
		c := New(f, Options{FailureTTL: 5 * time.Second})
		defer c.Close()
		for range 10 {
			if _, _, err := c.Get(t.Context(), key("b")); !errors.Is(err, ErrExpiredOnArrival) {
				t.Fatalf("Get = %v, want ErrExpiredOnArrival", err)
			}
		}
		if got := f.calls.Load(); got != 1 {
			t.Errorf("CreateSession calls = %d, want 1", got)
		}
	})
}
