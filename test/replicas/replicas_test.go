//go:build replicas

// Package replicas runs three `s3xproxy serve` processes with one config
// behind HAProxy (round-robin, health checks on each replica's /readyz),
// as a Kubernetes Service spreads a Deployment: mixed native S3 Express
// and legacy path-style traffic, a replica SIGKILLed mid-traffic, a
// rolling restart with SIGTERM, and no secret in any log, error body or
// metric. `make replicas` runs the long form, `make replicas-short` (CI)
// the short one (-short).
package replicas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3xproxy/s3xproxy/test/emulator"
)

const (
	iamKey     = "AKIAREPLICAUPSTREAM1"
	iamSecret  = "replicaUpstreamIAMSecret00000000000000001"
	localKey   = "REPLICALOCALKEY00001"
	localSec   = "replicaLocalClientSecret0000000000000001"
	sessionKey = "cmVwbGljYXMtdGVzdC1zZXNzaW9uLWtleS0zMi1ieXRlcyE=" // base64 of 32 bytes
	bucket     = "data--usw2-az1--x-s3"
	alias      = "legacy"
	haproxyBin = "/usr/sbin/haproxy"
	replicas   = 3
	// Health checks every 200 ms, out after 2 failures: a drain delay of
	// 1 s covers them with margin.
	drainDelay = "1s"
)

// replicaConfig is the one config of every replica; only the ports
// differ, as they would not in pods with their own network namespace.
func replicaConfig(upstream string, port, adminPort int) string {
	return fmt.Sprintf(`server: {listen: "127.0.0.1:%d", shutdown_grace: 20s, drain_delay: %s}
admin: {listen: "127.0.0.1:%d"}
log: {level: debug, format: json, access_log: true}
upstream:
  region: us-west-2
  scheme: http
  dial_address: %s
  credentials: {access_key_id: %s, secret_access_key: %s}
buckets:
  aliases:
    - {name: %s, target: %s}
auth:
  local_sessions: {keys: [%s]}
  credentials:
    - {access_key_id: %s, secret_access_key: %s, buckets: ["*"], access: read-write}
`, port, drainDelay, adminPort, upstream, iamKey, iamSecret, alias, bucket, sessionKey, localKey, localSec)
}

// haproxyConfig has two frontends on the same three replicas, each
// with its own backend: round-robin, an HTTP check of /readyz on each
// admin port every 200 ms (out after 2 failures, in after 2 successes).
// "retrying" (port) adds L7 retries and redispatch for requests that never
// got an answer; "strict" (strictPort) has none, like an L4 Kubernetes
// Service, so only the replicas' own drain keeps a rolling restart clean.
func haproxyConfig(port, strictPort int, reps []*replica) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 10s
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fall 2 rise 2
frontend s3
  bind 127.0.0.1:%d
  default_backend retrying
frontend s3strict
  bind 127.0.0.1:%d
  default_backend strict
backend retrying
  balance roundrobin
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response
`, port, strictPort)
	servers := func() {
		for i, r := range reps {
			fmt.Fprintf(&b, "  server r%d 127.0.0.1:%d check port %d\n", i, r.port, r.adminPort)
		}
	}
	servers()
	b.WriteString("backend strict\n  balance roundrobin\n  retries 0\n")
	servers()
	return b.String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// replica is one `s3xproxy serve` process, restartable on its ports.
type replica struct {
	t                *testing.T
	bin, config      string
	port, adminPort  int
	cmd              *exec.Cmd
	done             chan struct{}
	logs             []*syncBuffer // one per process lifetime
	starts           int
	lastMetrics      string
	lastMetricsError error
}

func (r *replica) log() *syncBuffer { return r.logs[len(r.logs)-1] }

// start runs the process and waits for /readyz.
func (r *replica) start() {
	r.t.Helper()
	lb := &syncBuffer{}
	r.logs = append(r.logs, lb)
	r.starts++
	r.cmd = exec.Command(r.bin, "serve", "--config", r.config)
	r.cmd.Stdout, r.cmd.Stderr = lb, lb
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan struct{})
	r.done = done
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", r.adminPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("replica :%d not ready: %v\n%s", r.port, err, lb)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape keeps the replica's /metrics text for the secrets check.
func (r *replica) scrape() {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.adminPort))
	if err != nil {
		r.lastMetricsError = err
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.lastMetrics += string(b)
}

// term sends SIGTERM and waits for a clean exit.
func (r *replica) term() {
	r.t.Helper()
	r.scrape()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		r.t.Fatalf("replica :%d did not stop:\n%s", r.port, r.log())
	}
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		r.t.Fatalf("replica :%d exited %d:\n%s", r.port, code, r.log())
	}
}

// kill sends SIGKILL and reaps the process.
func (r *replica) kill() {
	r.scrape()
	_ = r.cmd.Process.Kill()
	<-r.done
}

// attempts counts what the clients' transport saw, retries included.
type attempts struct {
	next         http.RoundTripper
	sent, failed atomic.Int64 // failed: transport error or 5xx
	mu           sync.Mutex
	bodies       []string // error bodies and CreateSession answers, for the secrets check
	sigs         []string // signatures the clients sent
}

var sigRE = regexp.MustCompile(`Signature=([0-9a-f]{64})`)

func (a *attempts) RoundTrip(r *http.Request) (*http.Response, error) {
	a.sent.Add(1)
	if m := sigRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil && a.sent.Load()%50 == 0 {
		a.mu.Lock()
		a.sigs = append(a.sigs, m[1])
		a.mu.Unlock()
	}
	resp, err := a.next.RoundTrip(r)
	if err != nil || resp.StatusCode >= 500 {
		a.failed.Add(1)
	}
	if err == nil && (resp.StatusCode >= 300 || r.URL.Query().Has("session")) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		a.mu.Lock()
		a.bodies = append(a.bodies, string(b))
		a.mu.Unlock()
	}
	return resp, err
}

// upstreamSpy records the session credentials the emulator issues and
// the signatures the proxies send it.
type upstreamSpy struct {
	next    http.Handler
	mu      sync.Mutex
	secrets []string
}

var (
	tokenRE  = regexp.MustCompile(`<SessionToken>([^<]+)</SessionToken>`)
	secretRE = regexp.MustCompile(`<SecretAccessKey>([^<]+)</SecretAccessKey>`)
)

type captureWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.buf.Len() < 1<<16 {
		c.buf.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

func (s *upstreamSpy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.RawQuery, "session") {
		if m := sigRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil && rand.IntN(50) == 0 {
			s.add(m[1])
		}
		s.next.ServeHTTP(w, r)
		return
	}
	cw := &captureWriter{ResponseWriter: w}
	s.next.ServeHTTP(cw, r)
	for _, re := range []*regexp.Regexp{tokenRE, secretRE} {
		if m := re.FindSubmatch(cw.buf.Bytes()); m != nil {
			s.add(string(m[1]))
		}
	}
}

func (s *upstreamSpy) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = append(s.secrets, v)
}

// traffic is the clients' workload: puts with checksums, gets compared,
// lists, multipart on a few, deletes.
type traffic struct {
	clients []*s3.Client
	names   []string // bucket name each client uses
	ops     atomic.Int64
	errs    atomic.Int64
	mu      sync.Mutex
	first   error
	prefix  string
	objects map[string]object // key -> what was last acknowledged
}

// object is an acknowledged upload: the client that wrote it, its checksum.
type object struct {
	client int
	sum    [32]byte
}

func (tr *traffic) fail(err error) {
	tr.errs.Add(1)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.first == nil {
		tr.first = err
	}
}

// worker runs operations on client i until stop is closed.
func (tr *traffic) worker(i int, stop <-chan struct{}) {
	ctx := context.Background()
	c, b := tr.clients[i], tr.names[i]
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		key := fmt.Sprintf("%sw%d/%d", tr.prefix, i, n%20)
		body := make([]byte, 1<<10+rng.IntN(256<<10))
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		sum := sha256.Sum256(body)
		tr.ops.Add(1)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			tr.fail(fmt.Errorf("client %d put %s: %w", i, key, err))
			continue
		}
		tr.mu.Lock()
		tr.objects[key] = object{i, sum}
		tr.mu.Unlock()
		tr.ops.Add(1)
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key})
		if err != nil {
			tr.fail(fmt.Errorf("client %d get %s: %w", i, key, err))
			continue
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || sha256.Sum256(got) != sum {
			tr.fail(fmt.Errorf("client %d get %s: %d bytes, checksum mismatch or %v", i, key, len(got), err))
		}
		if n%5 == 0 {
			tr.ops.Add(1)
			if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String(fmt.Sprintf("%sw%d/", tr.prefix, i))}); err != nil {
				tr.fail(fmt.Errorf("client %d list: %w", i, err))
			}
		}
	}
}

// run drives every worker for d, calling during (if set) mid-way.
func (tr *traffic) run(d time.Duration, during func()) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range tr.clients {
		wg.Add(1)
		go func() { defer wg.Done(); tr.worker(i, stop) }()
	}
	if during != nil {
		time.Sleep(d / 4)
		during()
		time.Sleep(d / 2)
	} else {
		time.Sleep(d)
	}
	close(stop)
	wg.Wait()
}

func TestReplicasBehindHAProxy(t *testing.T) {
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Skipf("%s not installed (Debian package haproxy)", haproxyBin)
	}
	phase := 6 * time.Second
	workers := 16
	if testing.Short() {
		phase, workers = 2*time.Second, 8
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "s3xproxy")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/s3xproxy/s3xproxy/cmd/s3xproxy").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	emu, err := emulator.New(emulator.Options{Credentials: map[string]string{iamKey: iamSecret}, Buckets: []string{bucket}})
	if err != nil {
		t.Fatal(err)
	}
	spy := &upstreamSpy{next: emu.Handler()}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upSrv := &http.Server{Handler: spy}
	go func() { _ = upSrv.Serve(upLn) }()
	t.Cleanup(func() { _ = upSrv.Close() })

	reps := make([]*replica, replicas)
	for i := range reps {
		r := &replica{t: t, bin: bin, port: freePort(t), adminPort: freePort(t), config: filepath.Join(dir, fmt.Sprintf("r%d.yaml", i))}
		if err := os.WriteFile(r.config, []byte(replicaConfig(upLn.Addr().String(), r.port, r.adminPort)), 0o600); err != nil {
			t.Fatal(err)
		}
		r.start()
		t.Cleanup(func() {
			if r.cmd.ProcessState == nil {
				_ = r.cmd.Process.Kill()
				<-r.done
			}
		})
		reps[i] = r
	}
	lbPort, strictPort := freePort(t), freePort(t)
	hacfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(hacfg, []byte(haproxyConfig(lbPort, strictPort, reps)), 0o600); err != nil {
		t.Fatal(err)
	}
	haLog := &syncBuffer{}
	ha := exec.Command(haproxyBin, "-f", hacfg, "-db")
	ha.Stdout, ha.Stderr = haLog, haLog
	if err := ha.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ha.Process.Kill(); _ = ha.Wait() })
	waitListening(t, lbPort, haLog)
	time.Sleep(600 * time.Millisecond) // rise 2 × inter 200 ms: every server up

	at, tr := newTraffic(fmt.Sprintf("http://127.0.0.1:%d", lbPort), "retrying/", workers)
	atStrict, trStrict := newTraffic(fmt.Sprintf("http://127.0.0.1:%d", strictPort), "strict/", workers)

	// 1. Mixed traffic through the balancer.
	tr.run(phase, nil)
	report(t, "steady", tr, at)

	// 2. One replica SIGKILLed mid-traffic: the clients' standard retries
	// complete every operation on the others.
	tr.run(phase, func() { reps[1].kill() })
	report(t, "sigkill", tr, at)
	reps[1].start()
	time.Sleep(600 * time.Millisecond)

	// 3. Rolling restart with SIGTERM, one replica at a time, through the
	// frontend without balancer retries: not one attempt fails.
	trStrict.run(phase*2, func() {
		for _, r := range reps {
			r.term()
			r.start()
			time.Sleep(600 * time.Millisecond) // back in rotation
		}
	})
	report(t, "rolling", trStrict, atStrict)
	if n := atStrict.failed.Load(); n != 0 {
		t.Errorf("rolling restart: %d attempts failed (transport error or 5xx); want 0", n)
	}
	if n := trStrict.errs.Load(); n != 0 {
		t.Errorf("rolling restart: %d of %d operations failed; first: %v", n, trStrict.ops.Load(), trStrict.first)
	}
	verifyObjects(t, trStrict)

	if n := tr.errs.Load(); n != 0 {
		t.Errorf("%d of %d operations failed; first: %v", n, tr.ops.Load(), tr.first)
	}
	// Nothing partial or corrupt: every acknowledged object reads back
	// with its checksum, through the balancer.
	verifyObjects(t, tr)

	// CreateSession: at most one per process lifetime × bucket × mode
	// (sessions last 5 minutes: one refresh period).
	starts := 0
	for _, r := range reps {
		starts += r.starts
	}
	cs := emu.Stats().CreateSessions
	var total int64
	for _, v := range cs {
		total += v
	}
	if limit := int64(starts * 1 * 2); total > limit {
		t.Errorf("%d CreateSession calls (%v) for %d process starts, want <= %d", total, cs, starts, limit)
	}
	t.Logf("CreateSession calls upstream: %d (%v) over %d process starts", total, cs, starts)

	// 4. No secret in any log line, error body or metric.
	for _, r := range reps {
		r.scrape()
	}
	checkSecrets(t, reps, haLog, []*attempts{at, atStrict}, spy)
}

// newTraffic builds workers clients on endpoint, half in native S3
// Express mode, half legacy path-style, sharing one counting transport.
func newTraffic(endpoint, prefix string, workers int) (*attempts, *traffic) {
	at := &attempts{next: &http.Transport{MaxIdleConnsPerHost: 64}}
	tr := &traffic{prefix: prefix, objects: map[string]object{}}
	for i := range workers {
		native := i%2 == 0
		o := s3.Options{
			Region:       "us-west-2",
			BaseEndpoint: aws.String(endpoint),
			UsePathStyle: true,
			Credentials:  awscreds.NewStaticCredentialsProvider(localKey, localSec, ""),
			HTTPClient:   &http.Client{Transport: at},
		}
		name := bucket // native S3 Express mode: the SDK calls CreateSession
		if !native {
			name = alias // a legacy path-style client on the alias
			o.DisableS3ExpressSessionAuth = aws.Bool(true)
		}
		tr.clients = append(tr.clients, s3.New(o))
		tr.names = append(tr.names, name)
	}
	return at, tr
}

func waitListening(t *testing.T, port int, log *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy not listening: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func report(t *testing.T, phase string, tr *traffic, at *attempts) {
	t.Logf("%-8s operations %6d  errors %d  attempts %6d  failed attempts %d", phase, tr.ops.Load(), tr.errs.Load(), at.sent.Load(), at.failed.Load())
}

func verifyObjects(t *testing.T, tr *traffic) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for key, o := range tr.objects {
		i, want := o.client, o.sum
		out, err := tr.clients[i].GetObject(context.Background(), &s3.GetObjectInput{Bucket: &tr.names[i], Key: aws.String(key)})
		if err != nil {
			t.Errorf("verify %s: %v", key, err)
			continue
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || sha256.Sum256(got) != want {
			t.Errorf("verify %s: %d bytes, checksum %s, want %s (%v)", key, len(got), hex.EncodeToString(sum(got)), hex.EncodeToString(want[:]), err)
		}
	}
	t.Logf("verified %d objects by checksum", len(tr.objects))
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// checkSecrets: no secret key, session secret or token, session key or
// signature appears in any replica's log (debug level), HAProxy's output,
// an error body a client got, or a replica's /metrics.
func checkSecrets(t *testing.T, reps []*replica, ha *syncBuffer, ats []*attempts, spy *upstreamSpy) {
	t.Helper()
	var hay []string
	for _, r := range reps {
		for _, l := range r.logs {
			hay = append(hay, l.String())
		}
		hay = append(hay, r.lastMetrics)
	}
	hay = append(hay, ha.String())
	var errBodies, clientSecrets []string
	for _, at := range ats {
		at.mu.Lock()
		clientSecrets = append(clientSecrets, at.sigs...)
		for _, b := range at.bodies {
			if strings.Contains(b, "<CreateSessionResult") {
				for _, re := range []*regexp.Regexp{tokenRE, secretRE} {
					if m := re.FindStringSubmatch(b); m != nil {
						clientSecrets = append(clientSecrets, m[1])
					}
				}
				continue
			}
			errBodies = append(errBodies, b)
		}
		at.mu.Unlock()
	}
	hay = append(hay, errBodies...)
	spy.mu.Lock()
	secrets := append(append([]string{iamSecret, localSec, sessionKey}, clientSecrets...), spy.secrets...)
	spy.mu.Unlock()
	if len(clientSecrets) < 3 || len(spy.secrets) < 3 {
		t.Errorf("the secrets check saw too few secrets (%d client, %d upstream): not wired", len(clientSecrets), len(spy.secrets))
	}
	// log.level is debug; the proxy logs little at that level, so the
	// access log proves the check reads real log output.
	if !strings.Contains(strings.Join(hay, ""), `"message":"access"`) {
		t.Error("no access log line captured: the check would be vacuous")
	}
	joined := strings.Join(hay, "\n")
	for _, s := range secrets {
		if s != "" && strings.Contains(joined, s) {
			t.Errorf("a secret (%d chars, starts %.4s...) appears in a log, error body or metric", len(s), s)
		}
	}
	t.Logf("secrets check: %d secrets against %d bytes of logs, %d error bodies, metrics of %d replicas", len(secrets), len(joined), len(errBodies), len(reps))
}
