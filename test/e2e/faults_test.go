package e2e

// Issue 16's fault matrix: the emulator's fault plan over real sockets.
// Each test checks what the client sees, what the emulator holds after,
// and what the access log and the logs say.

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/session"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

// tryDo sends req; a transport error or a short body is returned, not
// fatal.
func tryDo(req *http.Request) (int, []byte, http.Header, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// rawURL is the path-style proxy URL of bucket/key?query.
func (e *env) rawURL(bucket, key, query string) string {
	u := e.url("/" + bucket + "/" + key)
	if query != "" {
		u += "?" + query
	}
	return u
}

// headStatus is the status of a HEAD on the object, straight from the
// emulator through the proxy with faults cleared.
func (e *env) headStatus(t *testing.T, bucket, key string) int {
	t.Helper()
	status, _, _ := do(t, signedRequest(t, "HEAD", e.rawURL(bucket, key, ""), rwKey, rwSecret, nil, time.Now(), nil))
	return status
}

// TestFaultUploadResetMidBody: the upstream resets the connection after
// K bytes of a PutObject or UploadPart body, on every attempt. The client
// gets an error or a non-2xx answer, nothing is committed, and the same
// request succeeds once the fault clears.
func TestFaultUploadResetMidBody(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	body, _ := rw.must(t, 200, "POST", aliasData, "reset/mpu", "uploads", nil, nil)
	uploadID := between(string(body), "<UploadId>", "</UploadId>")
	if uploadID == "" {
		t.Fatalf("no UploadId: %s", body)
	}
	data := payload(1<<20, 7)
	cases := []struct {
		name, key, query string
		listParts        bool
	}{
		{"PutObject", "reset/put", "", false},
		{"UploadPart", "reset/mpu", "partNumber=1&uploadId=" + uploadID, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.emu.SetFaults(emulator.Faults{ResetAfterBytes: 64 << 10, ResetCount: 10})
			status, b, _, err := tryDo(signedRequest(t, "PUT", e.rawURL(aliasData, c.key, c.query), rwKey, rwSecret, data, time.Now(), nil))
			if err == nil && status/100 == 2 {
				t.Fatalf("reset upload answered %d: %s", status, b)
			}
			if err == nil && status != 502 && status != 503 && status != 500 {
				t.Fatalf("reset upload answered %d %s, want a retryable 5xx", status, s3Code(b))
			}
			if e.emu.Stats().Rejections["ConnectionReset"] == 0 {
				t.Fatal("the fault never fired")
			}
			if rec := lastRecord(t, e, c.name); rec.Status/100 == 2 || rec.ErrorCode == "" {
				t.Fatalf("access record %d %q for a reset upload, want a failure with its code", rec.Status, rec.ErrorCode)
			}
			e.emu.SetFaults(emulator.Faults{})
			if c.listParts {
				lb, _ := rw.must(t, 200, "GET", aliasData, c.key, "uploadId="+uploadID, nil, nil)
				if strings.Contains(string(lb), "<Part>") {
					t.Fatalf("a part was committed by a reset upload: %s", lb)
				}
			} else if st := e.headStatus(t, aliasData, c.key); st != 404 {
				t.Fatalf("HEAD after the reset upload = %d, want 404 (nothing committed)", st)
			}
			// The client's own retry.
			_, h := rw.must(t, 200, "PUT", aliasData, c.key, c.query, data, nil)
			if h.Get("ETag") == "" {
				t.Fatal("retry answered without an ETag")
			}
		})
	}
	rw.must(t, 204, "DELETE", aliasData, "reset/mpu", "uploadId="+uploadID, nil, nil)
	assertNoSecretsLogged(t, e)
}

// TestFaultDownloadResetMidBody: the upstream resets after K bytes of a
// GetObject body. The client's read fails: never a response that looks
// complete.
func TestFaultDownloadResetMidBody(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	data := payload(2<<20, 9)
	rw.put(t, aliasData, "reset/get", data)
	for _, k := range []int64{0, 1, 64 << 10, 300 << 10} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			e.emu.SetFaults(emulator.Faults{ResponseResetAfterBytes: k, ResponseResetCount: 1})
			status, b, _, err := tryDo(signedRequest(t, "GET", e.rawURL(aliasData, "reset/get", ""), rwKey, rwSecret, nil, time.Now(), nil))
			if e.emu.Stats().Rejections["ResponseReset"] == 0 {
				t.Fatal("the fault never fired")
			}
			e.emu.ResetStats()
			if err == nil {
				// Reset before the headers reached the proxy: it may
				// retry the GET; then the answer must be the whole object.
				if status != 200 || !bytes.Equal(b, data) {
					t.Fatalf("GET with the upstream reset after %d bytes looks complete: %d, %d bytes, not the object", k, status, len(b))
				}
				return
			}
			if !bytes.Equal(b, data[:min(len(b), len(data))]) {
				t.Fatal("the bytes received before the reset are not the object's")
			}
			if rec := lastRecord(t, e, "GetObject"); !rec.Aborted || rec.ErrorCode == "" || rec.BytesOut >= int64(len(data)) {
				t.Fatalf("access record %d %q aborted=%v, %d bytes out for a cut GET, want aborted with a code and a short count",
					rec.Status, rec.ErrorCode, rec.Aborted, rec.BytesOut)
			}
		})
	}
	e.emu.SetFaults(emulator.Faults{})
	if got := rw.get(t, aliasData, "reset/get"); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("object differs after the faults cleared")
	}
}

// TestFaultSlowCreateSession: CreateSession takes 5 s while 64 cold
// requests arrive at once. One CreateSession is in flight per bucket and
// mode; with CreateTimeout 1 s every waiter gets a clear 503 within a
// bound, and no goroutine is left behind.
func TestFaultSlowCreateSession(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a slow CreateSession")
	}
	e := newEnv(t, envConfig{proxy: func(o *proxy.Options) {
		o.Sessions = session.Options{CreateTimeout: time.Second, FailureTTL: 100 * time.Millisecond}
	}})
	e.emu.SetFaults(emulator.Faults{CreateSessionLatency: 5 * time.Second})
	before := runtime.NumGoroutine()
	const n = 64
	start := time.Now()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b, h, err := tryDo(signedRequest(t, "GET", e.rawURL(aliasData, fmt.Sprintf("slow/%d", i), ""), rwKey, rwSecret, nil, time.Now(), nil))
			k := fmt.Sprintf("%d %s retry-after=%v", status, s3Code(b), h.Get("Retry-After") != "")
			if err != nil {
				k = "error " + err.Error()
			}
			mu.Lock()
			counts[k]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if counts["503 ServiceUnavailable retry-after=true"]+counts["503 SlowDown retry-after=true"] != n {
		t.Fatalf("outcomes %v, want %d × 503 with Retry-After", counts, n)
	}
	if elapsed > 4*time.Second {
		t.Fatalf("waiters held %v, want about the 1 s CreateTimeout", elapsed)
	}
	if n := countRecords(e, "GetObject", 503); n != 64 {
		t.Fatalf("%d access records of 503 GetObject, want 64", n)
	}
	if cs := e.emu.Stats().Rejections["SlowCreateSession"]; cs != 1 {
		t.Fatalf("%d CreateSession calls reached the emulator, want 1 (single flight)", cs)
	}
	e.emu.SetFaults(emulator.Faults{})
	time.Sleep(200 * time.Millisecond) // past FailureTTL
	if status, body := e.get(t, "slow/0"); status != 404 {
		t.Fatalf("after the fault cleared: %d %s, want 404 NoSuchKey", status, body)
	}
	waitFor(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= before+10 })
	assertNoSecretsLogged(t, e)
}

// TestFaultCreateSessionErrors: CreateSession answering 500, 503
// SlowDown or malformed XML. The client gets 503 SlowDown with
// Retry-After; repeats within FailureTTL are answered from memory (one
// upstream call); the request succeeds when the fault clears.
func TestFaultCreateSessionErrors(t *testing.T) {
	cases := []struct {
		name   string
		faults emulator.Faults
	}{
		{"500", emulator.Faults{FailCreateSession: 100, FailCreateSessionStatus: 500, FailCreateSessionCode: "InternalError"}},
		{"503 SlowDown", emulator.Faults{FailCreateSession: 100, FailCreateSessionStatus: 503, FailCreateSessionCode: "SlowDown"}},
		{"malformed XML", emulator.Faults{MalformedCreateSession: 100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := &clock{t: time.Now()}
			e := newEnv(t, envConfig{emu: emulator.Options{Now: clk.Now}, proxy: func(o *proxy.Options) {
				o.Sessions = session.Options{FailureTTL: 5 * time.Second, Now: clk.Now}
			}})
			e.emu.SetFaults(c.faults)
			for i := range 5 {
				status, body, h := do(t, signedRequest(t, "GET", e.rawURL(aliasData, "cs/k", ""), rwKey, rwSecret, nil, clk.Now(), nil))
				assertNoSecretsInBodies(t, e, body)
				if status != 503 || s3Code(body) != "SlowDown" || h.Get("Retry-After") == "" {
					t.Fatalf("request %d: %d %s Retry-After=%q, want 503 SlowDown with Retry-After", i, status, body, h.Get("Retry-After"))
				}
			}
			if n := e.emu.Stats().Requests["CreateSession"]; n != 1 {
				t.Fatalf("%d CreateSession calls within FailureTTL, want 1", n)
			}
			if rec := lastRecord(t, e, "GetObject"); rec.Status != 503 || rec.ErrorCode != "SlowDown" || rec.Upstream != 0 {
				t.Fatalf("access record %d %q upstream %v, want 503 SlowDown without an upstream call", rec.Status, rec.ErrorCode, rec.Upstream)
			}
			e.emu.SetFaults(emulator.Faults{})
			clk.Advance(6 * time.Second)
			status, body, _ := do(t, signedRequest(t, "GET", e.rawURL(aliasData, "cs/k", ""), rwKey, rwSecret, nil, clk.Now(), nil))
			if status != 404 || s3Code(body) != "NoSuchKey" {
				t.Fatalf("after recovery: %d %s, want 404 NoSuchKey", status, body)
			}
			assertNoSecretsLogged(t, e)
		})
	}
}

// TestFaultDataSlowDown: a 503 SlowDown on a data request passes through
// with its headers and is not retried by the proxy.
func TestFaultDataSlowDown(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "sd/k", []byte("v"))
	e.emu.ResetStats()
	e.emu.SetFaults(emulator.Faults{DataSlowDown: 1})
	status, body, h := rw.do(t, "GET", aliasData, "sd/k", "", nil, nil)
	if status != 503 || s3Code(body) != "SlowDown" {
		t.Fatalf("got %d %s, want the upstream's 503 SlowDown", status, body)
	}
	if h.Get("X-Amz-Request-Id") == "" || h.Get("X-Amz-Id-2") == "" {
		t.Fatalf("the upstream's request id headers were dropped: %v", h)
	}
	if n := e.emu.Stats().Rejections["SlowDown"]; n != 1 {
		t.Fatalf("%d SlowDown answers from the emulator, want 1 (no retry of a SlowDown)", n)
	}
	if rec := lastRecord(t, e, "GetObject"); rec.Status != 503 || rec.ErrorCode != "SlowDown" || rec.Retried {
		t.Fatalf("access record %d %q retried=%v, want the upstream's 503 SlowDown, not retried", rec.Status, rec.ErrorCode, rec.Retried)
	}
	if got := rw.get(t, aliasData, "sd/k"); string(got) != "v" {
		t.Fatalf("after the fault: %q", got)
	}
}

// TestFaultClockSkew: the upstream's clock is an hour ahead, so it answers
// the proxy's CreateSession with RequestTimeTooSkewed. The client, whose
// clock is right, gets a retryable 503 that names the proxy's clock, not
// RequestTimeTooSkewed (SDKs would shift their own clock on it); the
// failure is cached, so the upstream sees one call per FailureTTL.
func TestFaultClockSkew(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	e.emu.SetFaults(emulator.Faults{ClockSkew: time.Hour})
	for range 3 {
		status, body, h := rw.do(t, "GET", aliasData, "skew/k", "", nil, nil)
		assertNoSecretsInBodies(t, e, body)
		if status != 503 || s3Code(body) != "ServiceUnavailable" || !strings.Contains(string(body), "clock") || h.Get("Retry-After") == "" {
			t.Fatalf("skewed upstream: %d %s, want 503 ServiceUnavailable naming the proxy's clock", status, body)
		}
	}
	if n := e.emu.Stats().Rejections["RequestTimeTooSkewed"]; n != 1 {
		t.Fatalf("the upstream refused %d CreateSession calls, want 1 (the failure is cached)", n)
	}
	e.emu.SetFaults(emulator.Faults{})
	assertClockSkewReported(t, e, 3)
	assertNoSecretsLogged(t, e)
}

// TestFaultClockSkewOnRequest: with a session already open, the upstream
// refuses the request itself with RequestTimeTooSkewed. The client gets
// the same 503 naming the proxy's clock, not the 403 that would make an SDK
// shift its own clock; each such request is counted, and the log says so
// once per period, not once per request.
func TestFaultClockSkewOnRequest(t *testing.T) {
	e := newEnv(t, envConfig{})
	rw := &rawClient{endpoint: e.srv.URL, key: rwKey, secret: rwSecret}
	rw.put(t, aliasData, "skew/k", []byte("on time"))
	e.emu.SetFaults(emulator.Faults{ClockSkew: time.Hour})
	// Three forwarded GETs, then a ListObjectsV2, which the proxy's own
	// handler sends upstream (Proxy.Upstream) rather than ReverseProxy.
	reqs := []struct{ key, query string }{{"skew/k", ""}, {"skew/k", ""}, {"skew/k", ""}, {"", "list-type=2&prefix=skew%2F"}}
	for _, rq := range reqs {
		status, body, h := rw.do(t, "GET", aliasData, rq.key, rq.query, nil, nil)
		assertNoSecretsInBodies(t, e, body)
		if status != 503 || s3Code(body) != "ServiceUnavailable" || !strings.Contains(string(body), "clock") || h.Get("Retry-After") == "" {
			t.Fatalf("skewed upstream on %q?%s: %d %s, want 503 ServiceUnavailable naming the proxy's clock", rq.key, rq.query, status, body)
		}
	}
	if n := e.emu.Stats().Rejections["RequestTimeTooSkewed"]; n != int64(len(reqs)) {
		t.Fatalf("the upstream refused %d requests, want %d (each request reached it with an open session)", n, len(reqs))
	}
	e.emu.SetFaults(emulator.Faults{})
	if status, body, _ := rw.do(t, "GET", aliasData, "skew/k", "", nil, nil); status != 200 || string(body) != "on time" {
		t.Fatalf("after the clock is fixed: %d %s, want 200", status, body)
	}
	assertClockSkewReported(t, e, len(reqs))
	assertNoSecretsLogged(t, e)
}

// lastRecord is the newest access record of operation op (the record the
// access-log line and the metrics are made from).
func lastRecord(t *testing.T, e *env, op string) proxy.Record {
	t.Helper()
	recs := e.recs.all()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Operation == op {
			return recs[i]
		}
	}
	t.Fatalf("no access record of %s", op)
	return proxy.Record{}
}

// countRecords counts the access records of op with the given status.
func countRecords(e *env, op string, status int) int {
	n := 0
	for _, rec := range e.recs.all() {
		if rec.Operation == op && rec.Status == status {
			n++
		}
	}
	return n
}

// assertClockSkewReported checks that n requests were recorded as refused
// for the proxy's clock and that the log warned exactly once.
func assertClockSkewReported(t *testing.T, e *env, n int) {
	t.Helper()
	got := 0
	for _, rec := range e.recs.all() {
		if rec.UpstreamClockSkew {
			got++
		}
	}
	if got != n {
		t.Errorf("%d records with UpstreamClockSkew, want %d", got, n)
	}
	if w := strings.Count(e.logs.String(), "refuses this host's clock"); w != 1 {
		t.Errorf("%d clock warnings logged, want 1 (one per period)", w)
	}
}

// assertNoSecretsInBodies fails if an error body a client got holds a
// secret, signature or token seen in this environment.
func assertNoSecretsInBodies(t *testing.T, e *env, bodies ...[]byte) {
	t.Helper()
	secrets := append(e.spy.all(), iamSecret, rwSecret, roSecret, narrowSecret)
	for _, b := range bodies {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("an error body contains a secret/signature/token (%d chars, starts %.4s...)", len(s), s)
			}
		}
	}
}

// between returns the text between the first a and the next b.
func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// TestFaultUpstreamTLS: an upstream whose certificate is not trusted or
// has expired is never used: the client gets a 5xx, a log line names the
// host, and no request reaches the emulator. The trusted control case
// proves the setup can pass.
func TestFaultUpstreamTLS(t *testing.T) {
	cases := []struct {
		name    string
		trusted bool
		skew    time.Duration // the proxy's view of the time, for expiry
		want    int
	}{
		{"trusted", true, 0, 404},
		{"untrusted", false, 0, 502},
		{"expired", true, 30 * 24 * time.Hour, 502},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envConfig{emu: emulator.Options{TLS: true}, proxyEnv: func(e *env, o *proxy.Options) {
				o.Scheme = "https"
				tr := o.Transport.(*spyTransport).next.(*http.Transport)
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
				if c.trusted {
					pool := x509.NewCertPool()
					pool.AppendCertsFromPEM(e.emu.CACertPEM())
					tr.TLSClientConfig.RootCAs = pool
				}
				if c.skew != 0 {
					tr.TLSClientConfig.Time = func() time.Time { return time.Now().Add(c.skew) }
				}
			}})
			status, body := e.get(t, "tls/k")
			assertNoSecretsInBodies(t, e, body)
			if status != c.want {
				t.Fatalf("got %d %s, want %d", status, body, c.want)
			}
			if c.trusted && c.skew == 0 {
				return
			}
			if n := total(e.emu.Stats().Requests); n != 0 {
				t.Fatalf("%d requests reached the emulator over an unverified connection", n)
			}
			if !strings.Contains(e.logs.String(), ".s3express-") || !strings.Contains(e.logs.String(), "certificate") {
				t.Fatalf("no log line names the upstream host and the certificate problem:\n%s", e.logs.String())
			}
			assertNoSecretsLogged(t, e)
		})
	}
}
