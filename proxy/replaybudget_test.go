package proxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReplayBudgetAcquire(t *testing.T) {
	type op struct {
		acquire int64 // > 0 TryAcquire, < 0 Release(-n)
		want    bool  // TryAcquire's result
	}
	tests := []struct {
		name   string
		limit  int64
		ops    []op
		inUse  int64
		denied uint64
	}{
		{"fits exactly", 10, []op{{4, true}, {6, true}}, 10, 0},
		{"over the limit is refused, not partly taken", 10, []op{{4, true}, {7, false}, {6, true}}, 10, 1},
		{"released budget is reusable", 10, []op{{10, true}, {1, false}, {-10, true}, {10, true}}, 10, 1},
		{"zero limit refuses everything but 0", 0, []op{{1, false}, {0, true}}, 0, 1},
		{"negative limit is zero", -5, []op{{1, false}}, 0, 1},
		{"nothing to take always fits", 1, []op{{1, true}, {0, true}}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewReplayBudget(tt.limit)
			for i, o := range tt.ops {
				if o.acquire < 0 {
					b.Release(-o.acquire)
					continue
				}
				if got := b.TryAcquire(o.acquire); got != o.want {
					t.Fatalf("op %d: TryAcquire(%d) = %v, want %v", i, o.acquire, got, o.want)
				}
			}
			if b.InUse() != tt.inUse || b.Denied() != tt.denied {
				t.Fatalf("in use %d denied %d, want %d and %d", b.InUse(), b.Denied(), tt.inUse, tt.denied)
			}
		})
	}
}

func TestReplayBudgetSetLimitKeepsHeldBytes(t *testing.T) {
	b := NewReplayBudget(100)
	if !b.TryAcquire(80) {
		t.Fatal("first acquire refused")
	}
	b.SetLimit(50)
	if b.TryAcquire(1) {
		t.Fatal("acquire over a lowered limit succeeded")
	}
	b.Release(80)
	if !b.TryAcquire(50) || b.TryAcquire(1) || b.Limit() != 50 {
		t.Fatalf("after release: in use %d limit %d", b.InUse(), b.Limit())
	}
}

func TestReplayBudgetReleaseTooMuchPanics(t *testing.T) {
	b := NewReplayBudget(10)
	b.TryAcquire(5)
	defer func() {
		if recover() == nil {
			t.Fatal("releasing more than acquired did not panic")
		}
	}()
	b.Release(6)
}

// TestReplayBudgetConcurrent: under contention the bytes held never exceed
// the limit, and everything acquired is released (run with -race).
func TestReplayBudgetConcurrent(t *testing.T) {
	const limit, workers, rounds = 1000, 16, 2000
	b := NewReplayBudget(limit)
	var held, peak, granted atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				n := 1 + r.Int64N(300)
				if !b.TryAcquire(n) {
					continue
				}
				granted.Add(1)
				h := held.Add(n)
				for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
				}
				runtime.Gosched() // hold it a while: others must find the budget short
				held.Add(-n)
				b.Release(n)
			}
		}()
	}
	wg.Wait()
	if peak.Load() > limit {
		t.Fatalf("peak held %d over the limit %d", peak.Load(), limit)
	}
	if b.InUse() != 0 {
		t.Fatalf("in use %d after every release, want 0", b.InUse())
	}
	if granted.Load() == 0 || b.Denied() == 0 {
		t.Fatalf("granted %d denied %d: contention not exercised", granted.Load(), b.Denied())
	}
}

// TestReplayBodyBudget: a replay buffer is charged to the budget (a known
// length up front, an unknown one per segment), a body that cannot get
// budget streams unchanged but is not replayable once read, and release
// gives the budget back exactly once on every path.
func TestReplayBodyBudget(t *testing.T) {
	body := strings.Repeat("x", 3*replaySegment+5) // four segments
	tests := []struct {
		name       string
		length     int64
		budget     int64
		read       int // bytes read before detach; -1 reads to EOF
		heldAfter  int64
		replayable bool
	}{
		{"known length reserves up front", int64(len(body)), 4 * replaySegment, -1, 4 * replaySegment, true},
		{"known length denied streams unbuffered", int64(len(body)), 4*replaySegment - 1, -1, 0, false},
		{"denied but never read is replayable", int64(len(body)), 0, 0, 0, true},
		{"unknown length takes segments as it grows", -1, 4 * replaySegment, -1, 4 * replaySegment, true},
		{"unknown length stops at the budget and gives it back", -1, 2 * replaySegment, -1, 0, false},
		{"over the per-request limit takes nothing", 1 << 30, 1 << 40, -1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := NewReplayBudget(tt.budget)
			b := newReplayBody(io.NopCloser(strings.NewReader(body)), tt.length, &call{}, replayPolicy{limit: 8 << 20, budget: budget})
			var got []byte
			if tt.read < 0 {
				var err error
				if got, err = io.ReadAll(b); err != nil || string(got) != body {
					t.Fatalf("read %d bytes, %v; want the body unchanged", len(got), err)
				}
			}
			if budget.InUse() != tt.heldAfter {
				t.Fatalf("budget held after reading: %d, want %d", budget.InUse(), tt.heldAfter)
			}
			replay, ok := b.detach()
			if ok != tt.replayable {
				t.Fatalf("replayable = %v, want %v", ok, tt.replayable)
			}
			if ok {
				if again, err := io.ReadAll(replay); err != nil || !bytes.Equal(again, []byte(body)) {
					t.Fatalf("replay gave %d bytes, %v", len(again), err)
				}
			}
			b.release()
			b.release()
			if budget.InUse() != 0 {
				t.Fatalf("budget held after release: %d, want 0", budget.InUse())
			}
		})
	}
}

// TestReplayBudgetDeniedStreams: a request that gets no replay budget is
// still forwarded intact; it is just not retried once its body was sent,
// and the expired session's error reaches the client unchanged.
func TestReplayBudgetDeniedStreams(t *testing.T) {
	up := &fakeUpstream{}
	budget := NewReplayBudget(0)
	sink := &recordSink{}
	_, srv := newTestProxy(t, up, func(o *Options) { o.ReplayBudget = budget; o.Observer = sink })
	put := func(path string, body []byte) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.DefaultClient.Do(sign(t, newReq(t, "PUT", srv.URL+path, body), body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp, got
	}
	body := bytes.Repeat([]byte("0123456789"), 10000)
	if resp, got := put("/data/streamed", body); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("PUT without budget: %d, %d bytes echoed; want 200 and the body", resp.StatusCode, len(got))
	}
	up.expire("tok-1")
	before := len(up.seen())
	if resp, got := put("/data/expired", body); resp.StatusCode != 400 || !bytes.Contains(got, []byte("ExpiredToken")) {
		t.Fatalf("PUT without budget on an expired session: %d %.100s; want the upstream's 400 ExpiredToken", resp.StatusCode, got)
	}
	if n := len(up.seen()) - before; n != 1 || sink.last().Retried {
		t.Fatalf("upstream saw %d attempts (retried %v), want 1 and no retry", n, sink.last().Retried)
	}
	if budget.InUse() != 0 || budget.Denied() != 2 {
		t.Fatalf("budget in use %d, denied %d after the requests; want 0 and 2", budget.InUse(), budget.Denied())
	}
}
