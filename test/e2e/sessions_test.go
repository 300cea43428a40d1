package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/signing"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// clock is a manual clock shared by the emulator and the proxy.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// get sends a signed GET for key on the data alias and returns the status.
func (e *env) get(t *testing.T, key string) (int, []byte) {
	t.Helper()
	status, body, _ := do(t, signedRequest(t, "GET", e.url("/"+aliasData+"/"+key), rwKey, rwSecret, nil, time.Now(), nil))
	return status, body
}

// waitFor polls cond for up to 10 s. It bounds a wait for background work
// (a session refresh); it never asserts a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// createCounter is a session.Observer counting finished CreateSession
// calls (reported just before the cache stores their result).
type createCounter struct{ n atomic.Int64 }

func (c *createCounter) CreateSession(string, session.Mode, string, time.Duration) { c.n.Add(1) }
func (c *createCounter) Throttled(time.Duration, bool)                             {}

// TestColdBucketOneCreateSession: 200 concurrent requests on a bucket with
// no session make exactly one CreateSession.
func TestColdBucketOneCreateSession(t *testing.T) {
	e := newEnv(t, envConfig{})
	var wg sync.WaitGroup
	statuses := make([]int, 200)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = e.get(t, "cold/missing")
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusNotFound {
			t.Fatalf("request %d: status %d, want 404 NoSuchKey from upstream", i, s)
		}
	}
	st := e.emu.Stats()
	if n := st.CreateSessions[bucketData+"/ReadWrite"]; n != 1 || total(st.CreateSessions) != 1 {
		t.Fatalf("CreateSession calls %v, want exactly 1", st.CreateSessions)
	}
	if st.SessionRequests["GetObject"] != 200 {
		t.Fatalf("session-signed GetObject = %d, want 200", st.SessionRequests["GetObject"])
	}
}

// TestSessionRefreshSteadyTraffic: with a 5 s session and a 2 s refresh
// window, 30 s of steady traffic (manual clock, a request every 500 ms)
// never waits on CreateSession after the first request, and makes about
// one CreateSession per 3 s.
func TestSessionRefreshSteadyTraffic(t *testing.T) {
	clk := &clock{t: time.Now()}
	created := &createCounter{}
	e := newEnv(t, envConfig{
		emu: emulator.Options{SessionTTL: 5 * time.Second, Now: clk.Now},
		proxy: func(o *proxy.Options) {
			o.Sessions = session.Options{RefreshBefore: 2 * time.Second, Now: clk.Now, Observer: created}
		},
	})
	const steps = 60
	for i := 0; i < steps; i++ {
		before := created.n.Load()
		if status, body := e.get(t, "steady/missing"); status != http.StatusNotFound {
			t.Fatalf("step %d: status %d: %s", i, status, body)
		}
		recs := e.recs.all()
		last := recs[len(recs)-1]
		if i > 0 && last.Session == session.Miss {
			t.Fatalf("step %d (t=+%v): request waited on CreateSession (session %q)", i, time.Duration(i)*500*time.Millisecond, last.Session)
		}
		if last.Retried {
			t.Fatalf("step %d: request was retried: the session expired before its refresh", i)
		}
		if last.Session == session.Refresh {
			// Let the background refresh land before the clock moves on.
			waitFor(t, "background refresh", func() bool { return created.n.Load() > before })
		}
		clk.Advance(500 * time.Millisecond)
	}
	n := total(e.emu.Stats().CreateSessions)
	// 30 s / (5 s TTL - 2 s window) = 10 periods, plus the first call.
	if n < 9 || n > 12 {
		t.Fatalf("CreateSession calls = %d over 30 s, want about 11 (one per 3 s)", n)
	}
}

// TestSessionExpiredBehindBack: sessions the emulator expires are retried
// once with a new session and the client sees success; a body that cannot
// be replayed gets the upstream error unchanged.
func TestSessionExpiredBehindBack(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.ReplayBuffer = 64 << 10 }})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "expire/k", []byte("v1"))

	tests := []struct {
		name    string
		method  string
		body    []byte
		hdr     http.Header
		status  int
		retried bool
	}{
		{"GET", "GET", nil, nil, 200, true},
		{"HEAD", "HEAD", nil, nil, 200, true},
		{"small PUT from the replay buffer", "PUT", payload(10<<10, 1), nil, 200, true},
		{"large PUT not replayable", "PUT", payload(256<<10, 2), nil, 400, false},
		{"large PUT with 100-continue", "PUT", payload(256<<10, 3), http.Header{"Expect": {"100-continue"}}, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ExpireSessions()
			e.emu.ResetStats()
			key := "expire/" + tt.name
			if tt.method == "GET" || tt.method == "HEAD" {
				key = "expire/k"
			}
			req := signedRequest(t, tt.method, e.url("/"+aliasData+"/"+signing.EncodePath(key)), rwKey, rwSecret, tt.body, time.Now(), tt.hdr)
			status, body, _ := do(t, req)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.status == 400 && s3Code(body) != "ExpiredToken" {
				t.Fatalf("unreplayable request: got %s, want the upstream ExpiredToken unchanged", body)
			}
			recs := e.recs.all()
			if got := recs[len(recs)-1].Retried; got != tt.retried {
				t.Fatalf("retried = %v, want %v", got, tt.retried)
			}
			st := e.emu.Stats()
			if tt.retried && total(st.CreateSessions) != 1 {
				t.Fatalf("CreateSession calls %v, want 1 new session", st.CreateSessions)
			}
			if tt.status == 200 && tt.method == "PUT" {
				if got := rw.get(t, aliasData, key); !bytes.Equal(got, tt.body) {
					t.Fatalf("stored object differs from the PUT body (%d vs %d bytes)", len(got), len(tt.body))
				}
			}
		})
	}
}

// TestCreateSessionStorm: one request on each of 500 cold buckets is held
// to the configured CreateSession rate; the excess gets 503 SlowDown.
func TestCreateSessionStorm(t *testing.T) {
	const buckets, rate, burst = 500, 50.0, 10
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Sessions = session.Options{CreateRate: rate, CreateBurst: burst, CreateWait: 20 * time.Millisecond}
	}})
	names := make([]string, buckets)
	for i := range names {
		names[i] = fmt.Sprintf("storm%03d--usw2-az1--x-s3", i)
		e.emu.CreateBucket(names[i])
	}
	start := time.Now()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			req := signedRequest(t, "GET", e.url("/"+name+"/missing"), rwKey, rwSecret, nil, time.Now(), nil)
			status, body, _ := do(t, req)
			mu.Lock()
			counts[fmt.Sprintf("%d %s", status, s3Code(body))]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	created := total(e.emu.Stats().CreateSessions)
	allowed := int64(burst + rate*elapsed.Seconds() + 1)
	if created > allowed {
		t.Fatalf("%d CreateSession calls in %v, rate allows at most %d", created, elapsed, allowed)
	}
	if counts["404 NoSuchKey"] != int(created) || counts["503 SlowDown"] != buckets-int(created) {
		t.Fatalf("outcomes %v with %d sessions created; want NoSuchKey for each session, SlowDown for the rest", counts, created)
	}
	if counts["503 SlowDown"] == 0 {
		t.Fatal("no request was throttled")
	}
}

// TestCreateSessionAccessDenied: a CreateSession refused with AccessDenied
// reaches the client as 403 AccessDenied and is not retried in a loop.
func TestCreateSessionAccessDenied(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Sessions = session.Options{FailureTTL: time.Minute}
	}})
	e.emu.SetFaults(emulator.Faults{FailCreateSession: 100})
	for i := 0; i < 5; i++ {
		status, body := e.get(t, "denied/k")
		if status != http.StatusForbidden || s3Code(body) != "AccessDenied" {
			t.Fatalf("request %d: got %d %s, want 403 AccessDenied", i, status, body)
		}
	}
	st := e.emu.Stats()
	if n := st.Rejections["AccessDenied"]; n != 1 {
		t.Fatalf("emulator refused %d CreateSession calls, want 1 (failure cached, no retry loop)", n)
	}
	if n := total(st.Requests) - st.Requests["CreateSession"]; n != 0 {
		t.Fatalf("%d data requests reached the emulator without a session", n)
	}
	assertNoSecretsLogged(t, e)
}

// TestSessionExpiredBehindBackHandler: a call a handler makes through
// Proxy.Upstream (here the ListObjectsV2 page) is retried once with a new
// session too, re-signed from the header it was given.
func TestSessionExpiredBehindBackHandler(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "expire-list/k", []byte("v1"))
	e.emu.ExpireSessions()
	e.emu.ResetStats()
	body, _ := rw.must(t, 200, "GET", aliasData, "", "list-type=2&prefix=expire-list/", nil, nil)
	if !bytes.Contains(body, []byte("<Key>expire-list/k</Key>")) {
		t.Fatalf("listing misses the object: %s", body)
	}
	recs := e.recs.all()
	if rec := recs[len(recs)-1]; !rec.Retried || rec.Operation != "ListObjectsV2" {
		t.Fatalf("record %+v, want a retried ListObjectsV2", rec)
	}
	if st := e.emu.Stats(); total(st.CreateSessions) != 1 {
		t.Fatalf("CreateSession calls %v, want 1 new session", st.CreateSessions)
	}
}
