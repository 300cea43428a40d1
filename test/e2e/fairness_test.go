package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/session"
)

// TestCreateSessionFloodFairness: a read-write "*" identity asks for
// invented directory bucket names from 64 goroutines for 3 s, while a
// second identity, cold, runs steady PUT/GET traffic on its own bucket.
// The second identity sees no error: the flooder spends only its own
// CreateSession budget (sessions defaults: 20/s burst 40 globally, 5/s
// burst 10 per identity), and its refusals neither take global tokens nor
// queue in front of the victim's first CreateSession.
func TestCreateSessionFloodFairness(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s flood")
	}
	const (
		flooders = 64
		flood    = 3 * time.Second
	)
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) { o.AccessLog = false }})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: flooders}}
	defer client.CloseIdleConnections()

	var floodCodes sync.Map // "status code" -> *atomic.Int64
	count := func(k string) {
		v, _ := floodCodes.LoadOrStore(k, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	start := time.Now()
	stop := start.Add(flood)
	var wg sync.WaitGroup
	for range flooders {
		wg.Go(func() {
			for time.Now().Before(stop) {
				name := fmt.Sprintf("x%016x--usw2-az1--x-s3", rand.Uint64())
				req := signedRequest(t, "GET", e.url("/"+name+"/k"), rwKey, rwSecret, nil, time.Now(), nil)
				resp, err := client.Do(req)
				if err != nil {
					count("transport error")
					continue
				}
				body := readAll(resp)
				count(fmt.Sprintf("%d %s", resp.StatusCode, s3Code(body)))
			}
		})
	}

	// The victim starts once the flood is on, so its first request needs a
	// CreateSession in the middle of it.
	time.Sleep(500 * time.Millisecond)
	var latencies []time.Duration
	var victimErrors []string
	victim := &http.Client{Transport: &http.Transport{}}
	defer victim.CloseIdleConnections()
	for i := 0; time.Now().Before(stop) || i < 10; i++ {
		key := fmt.Sprintf("/%s/fair/%d", aliasData, i/2)
		method, body := "PUT", []byte(fmt.Sprint("v", i/2))
		if i%2 == 1 {
			method, body = "GET", nil
		}
		req := signedRequest(t, method, e.url(key), narrowKey, narrowSecret, body, time.Now(), nil)
		begin := time.Now()
		resp, err := victim.Do(req)
		if err != nil {
			victimErrors = append(victimErrors, fmt.Sprintf("%s %s: %v", method, key, err))
			continue
		}
		got := readAll(resp)
		latencies = append(latencies, time.Since(begin))
		if resp.StatusCode != http.StatusOK {
			victimErrors = append(victimErrors, fmt.Sprintf("%s %s: %d %s", method, key, resp.StatusCode, s3Code(got)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	elapsed := time.Since(start)

	codes := map[string]int64{}
	floodCodes.Range(func(k, v any) bool { codes[k.(string)] = v.(*atomic.Int64).Load(); return true })
	st := e.emu.Stats()
	creates := st.Requests["CreateSession"]
	var inProxy []time.Duration // the victim's time inside the proxy
	for _, rec := range e.recs.all() {
		if rec.Identity == narrowKey {
			inProxy = append(inProxy, rec.Total)
		}
	}
	t.Logf("flood %v: flooder outcomes %v; CreateSession calls at the emulator %d (%v)",
		elapsed.Round(time.Millisecond), codes, creates, st.CreateSessions)
	t.Logf("victim: %d requests; client-side p50 %v p99 %v max %v; in-proxy p50 %v p99 %v max %v",
		len(latencies), pct(latencies, 0.50), pct(latencies, 0.99), pct(latencies, 1),
		pct(inProxy, 0.50), pct(inProxy, 0.99), pct(inProxy, 1))

	if len(victimErrors) > 0 {
		t.Errorf("victim saw %d errors during the flood (first: %q)", len(victimErrors), victimErrors[0])
	}
	if codes["503 SlowDown"] == 0 {
		t.Errorf("the flooder was never throttled: %v", codes)
	}
	// The flooder's own budget: burst 10 plus 5/s, and the victim's one.
	if limit := int64(10 + 5*elapsed.Seconds() + 1 + 1); creates > limit {
		t.Errorf("%d CreateSession calls reached the emulator in %v, the flooder's budget allows %d", creates, elapsed, limit)
	}
	if n := st.CreateSessions[bucketData+"/"+string(session.ReadWrite)]; n != 1 {
		t.Errorf("victim's CreateSession calls = %d, want 1", n)
	}
}

// pct returns the p-quantile of ds (sorted in place), 0 for none.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// readAll reads and closes a response body.
func readAll(resp *http.Response) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// TestUnauthorizedBucketNoCreateSession: a request for a bucket the
// identity may not use, or with an access it does not have, is refused
// before routing reaches the session cache: no CreateSession (and nothing
// else) reaches the emulator. The last row is the control: an allowed
// request does make one.
func TestUnauthorizedBucketNoCreateSession(t *testing.T) {
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.DenyUnlisted = true
		o.Allow = []string{bucketData, bucketOther}
	}})
	tests := []struct {
		name        string
		method      string
		path        string
		key, secret string // "" anonymous
		status      int
		creates     int64
	}{
		{"narrow identity, other bucket", "GET", "/" + bucketOther + "/k", narrowKey, narrowSecret, 403, 0},
		{"narrow identity, real name of its alias", "PUT", "/" + bucketData + "/k", narrowKey, narrowSecret, 403, 0},
		{"narrow identity, invented bucket", "GET", "/zz--usw2-az1--x-s3/k", narrowKey, narrowSecret, 403, 0},
		{"read-only identity writes", "PUT", "/" + bucketOther + "/k", roKey, roSecret, 403, 0},
		{"anonymous denied", "GET", "/" + aliasData + "/k", "", "", 403, 0},
		{"star identity, unlisted bucket", "GET", "/unlisted--usw2-az1--x-s3/k", rwKey, rwSecret, 403, 0},
		{"control: narrow identity, its alias", "GET", "/" + aliasData + "/k", narrowKey, narrowSecret, 404, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.emu.ResetStats()
			var req *http.Request
			if tt.key == "" {
				var err error
				if req, err = http.NewRequest(tt.method, e.url(tt.path), nil); err != nil {
					t.Fatal(err)
				}
			} else {
				var body []byte
				if tt.method == "PUT" {
					body = []byte("v")
				}
				req = signedRequest(t, tt.method, e.url(tt.path), tt.key, tt.secret, body, time.Now(), nil)
			}
			status, body, _ := do(t, req)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			st := e.emu.Stats()
			if got := st.Requests["CreateSession"]; got != tt.creates {
				t.Errorf("CreateSession calls at the emulator = %d, want %d (%v)", got, tt.creates, st.Requests)
			}
			if tt.creates == 0 && total(st.Requests) != 0 {
				t.Errorf("a refused request reached the emulator: %v", st.Requests)
			}
		})
	}
}

// TestNegativeCacheNoSuchBucket: a CreateSession answered NoSuchBucket is
// answered from memory, with the same 404 NoSuchBucket, for
// sessions.negative_ttl (default 30 s) to every identity that needs the
// same (bucket, mode), and asked upstream again after it (manual clock).
func TestNegativeCacheNoSuchBucket(t *testing.T) {
	const rw2Key, rw2Secret = "E2ELOCALRW0000000002", "e2eLocalReadWriteSecret000000000000000002"
	clk := &clock{t: time.Now()}
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Now = clk.Now
		o.Credentials = append(o.Credentials, proxy.Credential{AccessKeyID: rw2Key, SecretAccessKey: rw2Secret,
			Buckets: []string{"*"}, Access: proxy.AccessReadWrite})
	}})
	get := func(key, secret string) {
		t.Helper()
		req := signedRequest(t, "GET", e.url("/gone--usw2-az1--x-s3/k"), key, secret, nil, clk.Now(), nil)
		if status, body, _ := do(t, req); status != 404 || s3Code(body) != "NoSuchBucket" {
			t.Fatalf("%d %s, want 404 NoSuchBucket", status, body)
		}
	}
	creates := func() int64 { return e.emu.Stats().Requests["CreateSession"] }
	for range 20 { // 20 s, two identities
		get(rwKey, rwSecret)
		get(rw2Key, rw2Secret)
		clk.Advance(time.Second)
	}
	if n := creates(); n != 1 {
		t.Fatalf("CreateSession calls in 20 s = %d, want 1 (negative cache)", n)
	}
	clk.Advance(11 * time.Second) // 31 s after the answer
	get(rw2Key, rw2Secret)
	if n := creates(); n != 2 {
		t.Fatalf("CreateSession calls after the TTL = %d, want 2", n)
	}
}
