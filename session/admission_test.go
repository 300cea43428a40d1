package session

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestClientBudget: one client asking for 200 cold buckets at once gets
// its own burst at once and its own rate for CreateWait, and every other
// request of it is refused at once with ErrClientThrottled; the global
// budget it leaves is there for another client, whose first CreateSession
// starts without waiting.
func TestClientBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: 10 * time.Millisecond}
		// Per client: the defaults, a quarter of the global 20/s burst 40.
		obs := &clientObserver{}
		c := New(f, Options{CreateRate: 20, CreateBurst: 40, CreateWait: 2 * time.Second, Observer: obs})
		defer c.Close()
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				start := time.Now()
				_, _, err := c.GetFor(t.Context(), key(fmt.Sprint("flood", i)), "flooder")
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrClientThrottled):
					refused.Add(1)
					if took := time.Since(start); took != 0 {
						t.Errorf("refused Get took %v, want an immediate answer", took)
					}
				default:
					t.Errorf("flooder Get: %v", err)
				}
			})
		}
		synctest.Wait() // every flooder Get is admitted, waiting or refused
		start := time.Now()
		if _, st, err := c.GetFor(t.Context(), key("victim"), "victim"); err != nil || st != Miss {
			t.Errorf("victim Get = %v, %v", st, err)
		} else if took := time.Since(start); took != f.delay {
			t.Errorf("victim's first Get took %v during the flood, want only the call's %v", took, f.delay)
		}
		wg.Wait()
		// 10 from the client's burst plus 5/s for the 2 s CreateWait.
		if got := ok.Load(); got < 19 || got > 21 {
			t.Errorf("flooder sessions = %d, want ≈20 (refused %d)", got, refused.Load())
		}
		if got := f.calls.Load(); got != ok.Load()+1 {
			t.Errorf("CreateSession calls = %d, want the flooder's %d and the victim's", got, ok.Load())
		}
		if got := obs.clientRefused.Load(); got != refused.Load() || obs.refused.Load() != refused.Load() {
			t.Errorf("Observer: %d client refusals, %d refusals; want %d of each", got, obs.refused.Load(), refused.Load())
		}
	})
}

// clientObserver is a countingObserver that also implements
// ClientObserver.
type clientObserver struct {
	countingObserver
	clientRefused atomic.Int64
}

func (o *clientObserver) ClientThrottled() { o.clientRefused.Add(1) }

// TestJoinTakesNoClientToken: requests that join a call in flight, or are
// served from the cache, take no token from the client's budget.
func TestJoinTakesNoClientToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{delay: 50 * time.Millisecond}
		c := New(f, Options{CreateRatePerClient: 1.0 / 3600, CreateBurstPerClient: 1})
		defer c.Close()
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if _, _, err := c.GetFor(t.Context(), key("b"), "c"); err != nil {
					t.Errorf("Get: %v", err)
				}
			})
		}
		wg.Wait()
		for range 100 {
			if _, st, err := c.GetFor(t.Context(), key("b"), "c"); err != nil || st != Hit {
				t.Fatalf("cached Get = %v, %v", st, err)
			}
		}
		if _, _, err := c.GetFor(t.Context(), key("other"), "c"); !errors.Is(err, ErrClientThrottled) {
			t.Errorf("second cold bucket = %v, want ErrClientThrottled (one token, spent once)", err)
		}
		if got := f.calls.Load(); got != 1 {
			t.Errorf("CreateSession calls = %d, want 1", got)
		}
	})
}

// TestGlobalQueueIsFair: when the global budget is spent, one client's
// waiters do not queue in front of another client's first call: each
// client waits for at most one global token at a time, so the second
// client waits behind one reservation, not fifty.
func TestGlobalQueueIsFair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{}
		c := New(f, Options{CreateRate: 1, CreateBurst: 1, CreateWait: 10 * time.Second,
			CreateRatePerClient: 1000, CreateBurstPerClient: 1000})
		defer c.Close()
		var wg sync.WaitGroup
		var floodOK atomic.Int64
		for i := range 50 {
			wg.Go(func() {
				if _, _, err := c.GetFor(t.Context(), key(fmt.Sprint("flood", i)), "flooder"); err == nil {
					floodOK.Add(1)
				} else if !errors.Is(err, ErrThrottled) {
					t.Errorf("flooder Get: %v", err)
				}
			})
		}
		synctest.Wait()
		start := time.Now()
		if _, _, err := c.GetFor(t.Context(), key("victim"), "victim"); err != nil {
			t.Errorf("victim Get: %v", err)
		} else if took := time.Since(start); took > 2*time.Second {
			t.Errorf("victim waited %v behind the flooder's queue, want at most 2 s (one reservation ahead)", took)
		}
		wg.Wait()
		if got := floodOK.Load(); got != 2 {
			t.Errorf("flooder sessions = %d, want 2 (the burst token and one waiter)", got)
		}
	})
}

// TestClientStateBounded: the per-client state is bounded by MaxClients,
// and clients whose budget is full again are forgotten.
func TestClientStateBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCreator{}
		c := New(f, Options{MaxClients: 100, CreateRate: 1e6, CreateBurst: 1e6,
			CreateRatePerClient: 1, CreateBurstPerClient: 2})
		defer c.Close()
		for i := range 1000 {
			if _, _, err := c.GetFor(t.Context(), key(fmt.Sprint("b", i)), fmt.Sprint("client", i)); err != nil {
				t.Fatal(err)
			}
			if n := c.adm.len(); n > 100 {
				t.Fatalf("%d clients tracked, want at most 100", n)
			}
		}
		time.Sleep(2 * time.Second) // every bucket full again
		if _, _, err := c.GetFor(t.Context(), key("late"), "late"); err != nil {
			t.Fatal(err)
		}
		if n := c.adm.len(); n != 1 {
			t.Errorf("%d clients tracked after they all went idle, want 1", n)
		}
	})
}

// TestAdmissionTimesOutOfOrder: Gets read the clock before they queue for
// the admission lock, so their times can arrive out of order. A time
// earlier than one already used must not make a limiter count the same
// second's token twice.
func TestAdmissionTimesOutOfOrder(t *testing.T) {
	a := newAdmission(withDefaults(Options{CreateRate: 1, CreateBurst: 1, CreateWait: time.Nanosecond,
		CreateRatePerClient: 1, CreateBurstPerClient: 1}))
	t0 := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	steps := []struct {
		at   time.Time
		want bool // admitted
	}{
		{t0, true},                    // the burst token
		{t0.Add(-time.Second), false}, // late arrival: refused, and must not rewind the bucket
		{t0, false},                   // no time has passed since the first
		{t0.Add(time.Second), true},   // one second's token
	}
	for i, s := range steps {
		_, _, err := a.reserveClient("c", s.at)
		if got := err == nil; got != s.want {
			t.Errorf("client step %d at %v: admitted %v, want %v", i, s.at.Sub(t0), got, s.want)
		}
	}
	a = newAdmission(withDefaults(Options{CreateRate: 1, CreateBurst: 1, CreateWait: time.Nanosecond}))
	for i, s := range steps {
		_, err := a.reserveGlobal(admit{}, s.at, time.Nanosecond)
		if got := err == nil; got != s.want {
			t.Errorf("global step %d at %v: admitted %v, want %v", i, s.at.Sub(t0), got, s.want)
		}
	}
}

// TestGetClockOutOfOrder is TestAdmissionTimesOutOfOrder through Get with
// an injected clock: a Get whose clock read is older than the previous
// one's must not hand the global bucket an extra token.
func TestGetClockOutOfOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	f := &fakeCreator{}
	c := New(f, Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		CreateRate: 1, CreateBurst: 1, CreateWait: time.Nanosecond})
	defer c.Close()
	steps := []struct {
		at   time.Time
		want bool
	}{{t0, true}, {t0.Add(-time.Second), false}, {t0, false}, {t0.Add(time.Second), true}}
	for i, s := range steps {
		set(s.at)
		_, _, err := c.Get(t.Context(), key(fmt.Sprint("b", i)))
		if got := err == nil; got != s.want {
			t.Errorf("step %d at %v: admitted %v (%v), want %v", i, s.at.Sub(t0), got, err, s.want)
		}
	}
}
