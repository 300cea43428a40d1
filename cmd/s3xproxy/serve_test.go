package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/s3xproxy/s3xproxy/proxy"
	"github.com/s3xproxy/s3xproxy/proxy/gateway"
	"github.com/s3xproxy/s3xproxy/proxy/gateway/acmetest"
	"github.com/s3xproxy/s3xproxy/proxy/metrics"
	"github.com/s3xproxy/s3xproxy/test/emulator"
)

const (
	gwBucket = "logs--usw2-az1--x-s3"
	gwKeyID  = "AKIDGATEWAY"
	gwSecret = "gateway-upstream-secret"
)

// serveConfig is a config for the proxy in front of the emulator at
// upstream, with extra YAML appended under buckets.aliases.
func serveConfig(upstream, extraAliases string) string {
	return fmt.Sprintf(`server:
  listen: 127.0.0.1:0
  shutdown_grace: 5m
admin:
  listen: 127.0.0.1:0
log: {level: info, format: json, access_log: false}
upstream:
  region: us-west-2
  scheme: http
  dial_address: %s
  credentials: {access_key_id: %s, secret_access_key: %s}
buckets:
  default: deny
  aliases:
    - {name: logs, target: %s, anonymous: read-write}
%s`, upstream, gwKeyID, gwSecret, gwBucket, extraAliases)
}

// syncBuffer is a log sink tests can read while serve writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countOf returns how many times sub occurs in the log.
func (s *syncBuffer) countOf(sub string) int { return strings.Count(s.String(), sub) }

// waitFor polls cond until it holds; the test deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running is one serve call in a goroutine.
type running struct {
	sigs    chan os.Signal
	log     *syncBuffer
	metrics *metrics.Metrics
	gw      *gateway.Server
	done    chan struct{} // closed when serve returned; code is then set
	code    int
	path    string
}

// wait returns serve's exit code once it has returned.
func (r *running) wait() int {
	<-r.done
	return r.code
}

// exited reports whether serve has returned.
func (r *running) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *running) base() string {
	plain, _, _ := r.gw.Addrs()
	return "http://" + plain.String()
}

func (r *running) admin() string {
	_, _, admin := r.gw.Addrs()
	return "http://" + admin.String()
}

// startServe writes cfg to a file and runs serve on it until the test
// ends. edit, if given, adjusts the serve parameters.
func startServe(t *testing.T, cfg string, edit ...func(*serveParams)) *running {
	t.Helper()
	r := &running{
		sigs: make(chan os.Signal, 1), log: &syncBuffer{}, done: make(chan struct{}),
		metrics: metrics.New(metrics.Options{}), path: filepath.Join(t.TempDir(), "s3xproxy.yaml"),
	}
	writeConfig(t, r.path, cfg)
	started := make(chan *gateway.Server, 1)
	params := serveParams{
		ConfigPath: r.path, Signals: r.sigs, Stderr: r.log, Metrics: r.metrics,
		OnStart: func(gw *gateway.Server) { started <- gw },
	}
	for _, f := range edit {
		f(&params)
	}
	go func() {
		defer close(r.done)
		r.code = serve(context.Background(), params)
	}()
	select {
	case r.gw = <-started:
	case <-r.done:
		t.Fatalf("serve exited %d before starting; log:\n%s", r.code, r.log)
	}
	t.Cleanup(func() {
		if !r.exited() {
			r.sigs <- syscall.SIGTERM
			r.wait()
		}
	})
	return r
}

func writeConfig(t *testing.T, path, cfg string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startEmulator runs the emulator behind a handler that counts the request
// body bytes it reads for each PutObject.
func startEmulator(t *testing.T, storage string) (*emulator.Emulator, *httptest.Server, *atomic.Int64) {
	t.Helper()
	e, err := emulator.New(emulator.Options{
		Credentials: map[string]string{gwKeyID: gwSecret},
		Buckets:     []string{gwBucket},
		Storage:     storage,
	})
	if err != nil {
		t.Fatal(err)
	}
	var putBytes atomic.Int64
	h := e.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.Body != nil {
			r.Body = &countingBody{ReadCloser: r.Body, n: &putBytes}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return e, srv, &putBytes
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func do(t *testing.T, method, url string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeBadConfigExits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	writeConfig(t, path, "server: {listen: 127.0.0.1:0, bogus_key: 1}\n")
	var log syncBuffer
	code := serve(context.Background(), serveParams{ConfigPath: path, Signals: make(chan os.Signal), Stderr: &log})
	if code != 1 || !strings.Contains(log.String(), "bogus_key") {
		t.Fatalf("exit %d, log %q; want 1 naming bogus_key", code, log.String())
	}
}

// traffic runs GETs of url in a loop from n goroutines until stop, each
// expecting 200 and want.
type traffic struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstFail  string
	stop       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
}

func startTraffic(url, want string, n int) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	client := &http.Client{Timeout: time.Minute}
	for range n {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for {
				select {
				case <-tr.stop:
					return
				default:
				}
				tr.one(client, url, want)
			}
		}()
	}
	return tr
}

func (tr *traffic) one(client *http.Client, url, want string) {
	resp, err := client.Get(url)
	detail := ""
	if err != nil {
		detail = err.Error()
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			detail = fmt.Sprintf("%d %q", resp.StatusCode, b)
		}
	}
	if detail == "" {
		tr.ok.Add(1)
		return
	}
	tr.failed.Add(1)
	tr.mu.Lock()
	if tr.firstFail == "" {
		tr.firstFail = detail
	}
	tr.mu.Unlock()
}

func (tr *traffic) end() {
	tr.stopOnce.Do(func() { close(tr.stop) })
	tr.wg.Wait()
}

// TestServeReloadUnderTraffic: SIGHUP and POST /-/reload, each with an
// invalid then a valid config, while clients keep reading: no request
// fails, invalid configs are logged and ignored, valid ones take effect.
func TestServeReloadUnderTraffic(t *testing.T) {
	_, up, _ := startEmulator(t, "memory")
	upstream := up.Listener.Addr().String()
	r := startServe(t, serveConfig(upstream, ""))
	if code, body := do(t, "PUT", r.base()+"/logs/obj", strings.NewReader("hello")); code != 200 {
		t.Fatalf("seed PUT: %d %s", code, body)
	}
	if code, _ := do(t, "GET", r.base()+"/fresh/obj", nil); code == 200 {
		t.Fatal("alias fresh works before any reload")
	}
	tr := startTraffic(r.base()+"/logs/obj", "hello", 2)
	defer tr.end()
	waitFor(t, "first successful requests", func() bool { return tr.ok.Load() >= 20 })

	const freshAlias = "    - {name: fresh, target: " + gwBucket + ", anonymous: read}\n"
	invalid := serveConfig(upstream, freshAlias) + "not_a_section: {x: 1}\n"
	steps := []struct {
		name      string
		cfg       string
		viaSIGHUP bool
		wantFresh bool // /fresh/obj works afterwards
	}{
		{"SIGHUP invalid config kept old", invalid, true, false},
		{"SIGHUP valid config applied", serveConfig(upstream, freshAlias), true, true},
		{"POST invalid config kept old", invalid, false, true},
		{"POST valid config applied", serveConfig(upstream, ""), false, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			okBefore := tr.ok.Load()
			writeConfig(t, r.path, st.cfg)
			rejected, reloaded := r.log.countOf("config reload rejected"), r.log.countOf(`"config reloaded"`)
			valid := st.cfg != invalid
			if st.viaSIGHUP {
				r.sigs <- syscall.SIGHUP
				waitFor(t, "reload logged", func() bool {
					return r.log.countOf("config reload rejected") > rejected || r.log.countOf(`"config reloaded"`) > reloaded
				})
			} else {
				code, body := do(t, "POST", r.admin()+"/-/reload", nil)
				if wantCode := map[bool]int{true: 200, false: 500}[valid]; code != wantCode {
					t.Fatalf("POST /-/reload = %d %q, want %d", code, body, wantCode)
				}
				if !valid && !strings.Contains(body, "not_a_section") {
					t.Errorf("reload error body %q does not name the bad key", body)
				}
			}
			gotRejected := r.log.countOf("config reload rejected") > rejected
			if gotRejected == valid {
				t.Fatalf("config rejected=%v, want %v; log:\n%s", gotRejected, !valid, r.log)
			}
			if !valid && !strings.Contains(r.log.String(), "not_a_section") {
				t.Errorf("log does not name the bad key not_a_section")
			}
			code, body := do(t, "GET", r.base()+"/fresh/obj", nil)
			if (code == 200 && body == "hello") != st.wantFresh {
				t.Errorf("GET /fresh/obj = %d %q, want working=%v", code, body, st.wantFresh)
			}
			waitFor(t, "traffic continuing", func() bool { return tr.ok.Load() > okBefore+10 })
		})
	}
	tr.end()
	if n := tr.failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %s", n, n+tr.ok.Load(), tr.firstFail)
	}
	t.Logf("%d requests, none failed", tr.ok.Load())
}

// TestServeSIGTERMDuringUpload: a 200 MiB upload in flight when SIGTERM
// arrives completes; readiness is 503 meanwhile; serve then returns 0.
func TestServeSIGTERMDuringUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MiB upload")
	}
	const size = 200 << 20
	_, up, putBytes := startEmulator(t, "discard")
	r := startServe(t, serveConfig(up.Listener.Addr().String(), ""))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", r.base()+"/logs/big", pr)
	req.ContentLength = size
	result := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		result <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	chunk := bytes.Repeat([]byte("s3x!"), 1<<18) // 1 MiB
	if _, err := pw.Write(chunk); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "upload reaching the backend", func() bool { return putBytes.Load() > 0 })

	r.sigs <- syscall.SIGTERM
	waitFor(t, "readiness 503", func() bool {
		resp, err := http.Get(r.admin() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
	if r.exited() {
		t.Fatal("serve returned while the upload was still running")
	}
	for sent := len(chunk); sent < size; sent += len(chunk) {
		if _, err := pw.Write(chunk); err != nil {
			t.Fatalf("upload body write after %d bytes: %v", sent, err)
		}
	}
	pw.Close()
	if got := <-result; !strings.HasPrefix(got, "200 ") {
		t.Fatalf("upload: %s, want 200", got)
	}
	if got := putBytes.Load(); got != size {
		t.Fatalf("backend received %d bytes, want %d", got, size)
	}
	if code := r.wait(); code != 0 {
		t.Fatalf("serve exit code %d, want 0; log:\n%s", code, r.log)
	}
}

// scrape returns the admin /metrics samples as "name{labels}" → value,
// summed over every label not listed in keep.
func scrape(t *testing.T, adminURL, name string, keep ...string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	mf := mfs[name]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		var parts []string
		for _, l := range m.GetLabel() {
			for _, k := range keep {
				if l.GetName() == k {
					parts = append(parts, k+"="+l.GetValue())
				}
			}
		}
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		out[strings.Join(parts, ",")] += v
	}
	return out
}

// TestServeMetricsMatchTraffic: /metrics counts what the test did, and
// the CreateSession counter equals the emulator's count.
func TestServeMetricsMatchTraffic(t *testing.T) {
	e, up, _ := startEmulator(t, "memory")
	r := startServe(t, serveConfig(up.Listener.Addr().String(), ""))
	const body = "0123456789"
	const gets = 5
	if code, b := do(t, "PUT", r.base()+"/logs/m1", strings.NewReader(body)); code != 200 {
		t.Fatalf("PUT: %d %s", code, b)
	}
	for range gets {
		if code, b := do(t, "GET", r.base()+"/logs/m1", nil); code != 200 || b != body {
			t.Fatalf("GET: %d %q", code, b)
		}
	}
	if code, _ := do(t, "GET", r.base()+"/logs/missing", nil); code != 404 {
		t.Fatalf("GET missing: %d, want 404", code)
	}
	admin := r.admin()
	requests := scrape(t, admin, "s3xproxy_requests_total", "operation", "status_class")
	emuCreates := int64(0)
	for _, n := range e.Stats().CreateSessions {
		emuCreates += n
	}
	lookups := scrape(t, admin, "s3xproxy_session_cache_lookups_total")[""]
	tests := []struct {
		name      string
		got, want float64
	}{
		{"GetObject 2xx", requests["operation=GetObject,status_class=2xx"], gets},
		{"GetObject 4xx", requests["operation=GetObject,status_class=4xx"], 1},
		{"PutObject 2xx", requests["operation=PutObject,status_class=2xx"], 1},
		{"request bytes PutObject", scrape(t, admin, "s3xproxy_request_bytes_total", "operation")["operation=PutObject"], float64(len(body))},
		{"CreateSession total = emulator", scrape(t, admin, "s3xproxy_createsession_total")[""], float64(emuCreates)},
		{"session lookups = requests upstream", lookups, gets + 2},
		{"cached sessions = distinct keys", scrape(t, admin, "s3xproxy_session_cache_entries")[""], float64(len(e.Stats().CreateSessions))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	if emuCreates == 0 {
		t.Fatal("emulator saw no CreateSession: the traffic did not use sessions")
	}
	if out := scrape(t, admin, "s3xproxy_response_bytes_total", "operation")["operation=GetObject"]; out < float64(gets*len(body)) {
		t.Errorf("response bytes GetObject = %v, want >= %d", out, gets*len(body))
	}
}

// TestServeACMEWithPebble: tls.mode acme against an in-process Pebble on
// loopback (challenges really validated against serve's own listeners).
// A virtual-host S3 GET over HTTPS for an alias gets an on-demand
// certificate and reaches the emulator; an unlisted bucket name gets no
// certificate and no ACME order.
func TestServeACMEWithPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an ACME server")
	}
	_, up, _ := startEmulator(t, "memory")
	plainLn, tlsLn := listenLoopback(t), listenLoopback(t)
	pb := acmetest.Start(t, portOf(t, plainLn), portOf(t, tlsLn))
	caFile := filepath.Join(t.TempDir(), "pebble-wfe.pem")
	writeConfig(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pb.ServerCert.Raw})))
	cfg := serveConfig(up.Listener.Addr().String(), "") + fmt.Sprintf(`tls:
  listen: 127.0.0.1:0
  mode: acme
  acme: {email: ops@s3x.test, ca: %q, ca_file: %q, on_demand: true, storage: %q}
`, pb.DirectoryURL, caFile, t.TempDir())
	cfg = strings.Replace(cfg, "  shutdown_grace: 5m\n", "  shutdown_grace: 5m\n  virtual_host_domains: [s3x.test]\n", 1)
	r := startServe(t, cfg, func(p *serveParams) {
		p.Listeners = gateway.Listeners{Plain: plainLn, TLS: tlsLn}
	})
	if code, body := do(t, "PUT", r.base()+"/logs/obj", strings.NewReader("over tls")); code != 200 {
		t.Fatalf("seed PUT: %d %s", code, body)
	}
	client := tlsClient(tlsLn.Addr().String(), pb.IssuedRoots)
	tests := []struct {
		name       string
		url        string
		wantBody   string // "" means the handshake must fail
		wantOrders int64
	}{
		{"alias gets an on-demand certificate", "https://logs.s3x.test/obj", "over tls", 1},
		{"second request reuses it", "https://logs.s3x.test/obj", "over tls", 0},
		{"unlisted bucket refused", "https://evil--usw2-az1--x-s3.s3x.test/obj", "", 0},
		{"name outside the domain refused", "https://logs.example.test/obj", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := pb.Orders()
			resp, err := client.Get(tc.url)
			if got := pb.Orders() - before; got != tc.wantOrders {
				t.Errorf("ACME orders = %d, want %d", got, tc.wantOrders)
			}
			if tc.wantBody == "" {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want TLS handshake failure")
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != tc.wantBody {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, b, tc.wantBody)
			}
		})
	}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func portOf(t *testing.T, ln net.Listener) int {
	t.Helper()
	return ln.Addr().(*net.TCPAddr).Port
}

// tlsClient dials addr whatever the URL host and trusts roots only.
func tlsClient(addr string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// TestServeSecondSignalCutsDrain: a second SIGTERM during the drain ends
// it at once; serve reports the cut requests with exit code 1.
func TestServeSecondSignalCutsDrain(t *testing.T) {
	_, up, putBytes := startEmulator(t, "discard")
	r := startServe(t, serveConfig(up.Listener.Addr().String(), ""))
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("PUT", r.base()+"/logs/stuck", pr)
	req.ContentLength = 10 << 20
	result := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		result <- err
	}()
	if _, err := pw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "upload reaching the backend", func() bool { return putBytes.Load() > 0 })
	r.sigs <- syscall.SIGTERM
	waitFor(t, "drain started", func() bool { return r.log.countOf("draining requests") > 0 })
	r.sigs <- syscall.SIGTERM
	if code := r.wait(); code != 1 {
		t.Fatalf("exit code %d after a cut drain, want 1", code)
	}
	// The client's body writer is parked on the pipe; unblock it so Do
	// returns and reports the connection the server cut.
	pw.CloseWithError(errors.New("test: body abandoned"))
	if err := <-result; err == nil {
		t.Fatal("the cut upload reported success")
	}
}

func TestOnDemandDecision(t *testing.T) {
	decide, err := onDemandDecision(proxy.Options{
		Region:             "us-west-2",
		VirtualHostDomains: []string{"s3.example.test", "S3.Other.Test."},
		Aliases:            []proxy.Alias{{Name: "logs", Target: "logs--usw2-az1--x-s3"}},
		Allow:              []string{"data--usw2-az1--x-s3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sni  string
		ok   bool
	}{
		{"alias", "logs.s3.example.test", true},
		{"alias on second domain, any case", "LOGS.s3.other.test", true},
		{"alias target", "logs--usw2-az1--x-s3.s3.example.test", true},
		{"allow list", "data--usw2-az1--x-s3.s3.example.test", true},
		{"unlisted directory bucket", "other--usw2-az1--x-s3.s3.example.test", false},
		{"unknown alias-like name", "evil.s3.example.test", false},
		{"bare domain", "s3.example.test", false},
		{"nested label", "a.logs.s3.example.test", false},
		{"other domain", "logs.example.test", false},
		{"suffix trick", "logs.evils3.example.test", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decide(tc.sni)
			if (err == nil) != tc.ok {
				t.Fatalf("decide(%q) = %v, want ok=%v", tc.sni, err, tc.ok)
			}
			if err != nil && !errors.Is(err, errNotOnDemand) {
				t.Fatalf("error %v does not wrap errNotOnDemand", err)
			}
		})
	}
}
