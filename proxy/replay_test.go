package proxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReplayBodyDetach(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		length     int64
		limit      int64
		read       int // bytes read before detach; -1 reads to EOF
		replayable bool
	}{
		{"never read", "hello world", 11, 4, 0, true},
		{"read to EOF within the limit", "hello world", 11, 64, -1, true},
		{"read to EOF, unknown length, within the limit", "hello world", -1, 64, -1, true},
		{"read to EOF beyond the limit", "hello world", 11, 4, -1, false},
		{"unknown length overflowing the limit", "hello world", -1, 4, -1, false},
		{"partly read within the limit", "hello world", 11, 64, 5, true},
		{"partly read beyond the limit", "hello world", 11, 4, 5, false},
		{"empty body read to EOF", "", 0, 64, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &call{}
			b := newReplayBody(io.NopCloser(strings.NewReader(tt.body)), tt.length, c, replayPolicy{limit: tt.limit})
			switch {
			case tt.read < 0:
				if got, err := io.ReadAll(b); err != nil || string(got) != tt.body {
					t.Fatalf("first read: %q %v", got, err)
				}
			case tt.read > 0:
				if _, err := io.ReadFull(b, make([]byte, tt.read)); err != nil {
					t.Fatal(err)
				}
			}
			replay, ok := b.detach()
			if ok != tt.replayable {
				t.Fatalf("replayable = %v, want %v", ok, tt.replayable)
			}
			if _, err := b.Read(make([]byte, 1)); !errors.Is(err, errDetached) {
				t.Fatalf("read after detach: %v, want errDetached", err)
			}
			if !ok {
				return
			}
			got, err := io.ReadAll(replay)
			if err != nil || string(got) != tt.body {
				t.Fatalf("replay gave %q %v, want %q", got, err, tt.body)
			}
			if want := int64(len(tt.body)); tt.read == 0 && c.bytesIn.Load() != want {
				t.Fatalf("bytes counted %d, want %d", c.bytesIn.Load(), want)
			}
		})
	}
}

func TestReplayBodyNil(t *testing.T) {
	if b := newReplayBody(nil, 0, &call{}, replayPolicy{limit: 10}); b != nil {
		t.Fatal("nil body wrapped")
	}
	if b := newReplayBody(http.NoBody, 0, &call{}, replayPolicy{limit: 10}); b != nil {
		t.Fatal("http.NoBody wrapped")
	}
	var b *replayBody
	if r, ok := b.detach(); r != nil || !ok {
		t.Fatalf("nil detach = %v, %v; want nil, true", r, ok)
	}
}

func TestReplayBodyRecordsReadError(t *testing.T) {
	boom := errors.New("payload hash mismatch")
	c := &call{}
	b := newReplayBody(io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{boom})), 10, c, replayPolicy{limit: 64})
	_, err := io.ReadAll(b)
	if !errors.Is(err, boom) || !errors.Is(c.bodyError(), boom) {
		t.Fatalf("read error %v, recorded %v; want %v", err, c.bodyError(), boom)
	}
	if _, ok := b.detach(); ok {
		t.Fatal("a body that failed mid-way is replayable")
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestHandlersAndShims checks the seams the compatibility layer plugs into:
// a Handler answers its operation (and may call Upstream), a Shim edits the
// outbound request, operations without a handler get 501.
func TestHandlersAndShims(t *testing.T) {
	up := &fakeUpstream{}
	var p *Proxy
	sink := &recordSink{}
	p, srv := newTestProxy(t, up, func(o *Options) {
		o.Observer = sink
		o.Shims = []RequestShim{func(r *Request) error {
			if r.Header.Get("X-Test-Refuse") != "" {
				return errors.New("refused")
			}
			r.Header.Del("X-Amz-Acl")
			r.Header.Set("X-Shimmed", r.Op.Name)
			return nil
		}}
		o.Handlers = map[string]Handler{"ListObjects": func(w http.ResponseWriter, r *Request) error {
			req, _ := http.NewRequestWithContext(r.In.Context(), "GET", "http://ignored/from-handler?list-type=2", nil)
			resp, err := p.Upstream(r.In.Context(), req, UpstreamTarget{Target: r.Target, Auth: SignSession, Mode: "ReadWrite"})
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			w.Header().Set("X-Handled", r.Op.Name)
			_, err = io.Copy(w, resp.Body)
			return err
		}}
	})
	send := func(method, path string, hdr http.Header) (*http.Response, string) {
		t.Helper()
		req := newReq(t, method, srv.URL+path, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(sign(t, req, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, _ := send("GET", "/data/k", http.Header{"X-Amz-Acl": {"private"}})
	if s := up.seen(); resp.StatusCode != 200 || s[len(s)-1].Header.Get("X-Shimmed") != "GetObject" || s[len(s)-1].Header.Get("X-Amz-Acl") != "" {
		t.Fatalf("shim not applied: %d %v", resp.StatusCode, s[len(s)-1].Header)
	}
	if resp, body := send("GET", "/data/k", http.Header{"X-Test-Refuse": {"yes"}}); resp.StatusCode != 500 || !strings.Contains(body, "InternalError") {
		t.Fatalf("refusing shim: %d %s", resp.StatusCode, body)
	}
	resp, _ = send("GET", "/data?prefix=a", nil)
	s := up.seen()
	if resp.Header.Get("X-Handled") != "ListObjects" || s[len(s)-1].RequestURI != "/from-handler?list-type=2" || s[len(s)-1].Host != testHost {
		t.Fatalf("handler: header %q, upstream saw %+v", resp.Header.Get("X-Handled"), s[len(s)-1])
	}
	if rec := sink.last(); rec.Operation != "ListObjects" || rec.Session != "hit" || rec.Upstream <= 0 {
		t.Fatalf("handler's record: %+v, want its Upstream call's session and latency", rec)
	}
	if resp, body := send("POST", "/", nil); resp.StatusCode != 405 || !strings.Contains(body, "<Code>MethodNotAllowed</Code>") {
		t.Fatalf("POST on the service: %d %s", resp.StatusCode, body)
	}
}

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
